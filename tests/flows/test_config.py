"""Run configurations: defaults per problem, validation with the field named, overrides."""

import pytest

from flows.config import ConfigError, RunConfig, load_config


def test_defaults_are_the_paper_settings():
    cfg = load_config(None)
    assert cfg.problem == "mnist_mini" and cfg.name == "mnist_mini"
    assert cfg.train.record_steps == list(range(0, 1001, 100)) and cfg.train.steps == 1000
    assert (cfg.train.lr, cfg.train.batch_size, cfg.train.seed) == (0.3, 500, 12345)
    assert (cfg.sketch.k, cfg.sketch.s) == (355, 710)
    assert cfg.exact.enabled is True and cfg.exact_steps() == [0, 500, 1000]
    assert load_config(None, ["exact.steps=all"]).exact_steps() == cfg.train.record_steps
    assert cfg.analysis.table_ks == [100, 355]
    assert cfg.run_dir.endswith("runs/mnist_mini")


def test_large_problems_skip_the_exact_reference():
    cfg = RunConfig(problem="wide_mlp").resolve()
    assert cfg.exact.enabled is False and cfg.exact_steps() == []
    with pytest.raises(ConfigError, match=r"exact\.enabled"):
        RunConfig(problem="wide_mlp", exact={"enabled": True}).resolve()


def test_yaml_file_with_range_and_overrides(tmp_path):
    f = tmp_path / "study.yaml"
    f.write_text("problem: mnist_tiny\ntrain: {record_steps: '0:40:20'}\nsketch: {k: 20}\n")
    cfg = load_config(f, ["sketch.s=50", "analysis.random_draws=7"])
    assert cfg.name == "study" and cfg.train.record_steps == [0, 20, 40]
    assert (cfg.sketch.k, cfg.sketch.s, cfg.analysis.random_draws) == (20, 50, 7)


def test_toml_file(tmp_path):
    f = tmp_path / "study.toml"
    f.write_text('problem = "mnist_tiny"\n[sketch]\nk = 12\nnoise = "gaussian"\n')
    cfg = load_config(f)
    assert (cfg.sketch.k, cfg.sketch.s, cfg.sketch.noise) == (12, 24, "gaussian")


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("problem: nope\n", "problem: .*unknown problem 'nope'"),
        ("sketch: {k: 0}\n", r"sketch\.k: .*greater than or equal to 1"),
        ("sketch: {noise: uniform}\n", r"sketch\.noise"),
        ("sketch: {kk: 3}\n", r"sketch\.kk: unknown field"),
        ("train: {lr: -1}\n", r"train\.lr"),
        ("train: {record_steps: 'a:b'}\n", r"train\.record_steps"),
        ("train: {record_steps: [0, 10], steps: 5}\n", r"train\.record_steps: step 10"),
        ("sketch: {k: 50, s: 40}\n", r"sketch\.k = 50 must not exceed sketch\.s = 40"),
        ("sketch: {chunk_rows: 70000}\n", r"sketch\.chunk_rows"),
        ("exact: {steps: [5]}\n", r"exact\.steps: \[5\] are not in train\.record_steps"),
        ("analysis: {table_ks: [400]}\n", r"analysis\.table_ks"),
        ("n_hessian: 105\n", "n_hessian = 105 must be a multiple of the 10 classes"),
        ("train: {n_train: 50}\n", r"train\.n_train = 50 is smaller than n_hessian = 500"),
        ("problem: cifar10_3c3d\ndata: digits\n", "'digits' fit only"),
        ("data: /no/such/dir\n", "no such file or directory"),
        ("sketch: {seed: -1}\n", r"sketch\.seed"),
        ("analysis: {seed: -2}\n", r"analysis\.seed"),
        ("- a list\n", "mapping"),
        ("sketch: {k: [\n", "not valid YAML"),
    ],
)
def test_bad_configs_name_the_field(tmp_path, text, field):
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError, match=field) as e:
        load_config(f)
    assert str(f) in str(e.value)


def test_missing_file_and_bad_override(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "none.yaml")
    with pytest.raises(ConfigError, match=r"expected section\.field=value"):
        load_config(None, ["sketch.k"])
    with pytest.raises(ConfigError, match=r"sketch\.k"):
        load_config(None, ["sketch.k=-3"])


def test_resolved_config_round_trips():
    cfg = load_config(None, ["sketch.k=30"])
    again = RunConfig.model_validate(cfg.model_dump(mode="json")).resolve()
    assert again == cfg


def test_shipped_configs_load():
    root = __import__("pathlib").Path(__file__).resolve().parents[2] / "configs"
    files = sorted(root.glob("*.y*ml")) + sorted(root.glob("*.toml"))
    assert len(files) >= 4
    for f in files:
        cfg = load_config(f)
        assert cfg.sketch.k <= cfg.sketch.s
    assert load_config(root / "mnist_mini.yaml").model_dump() == {
        **load_config(None).model_dump(),
    }


def test_flows_accept_dicts_with_overrides():
    from flows.config import resolve

    cfg = resolve({"problem": "mnist_tiny", "name": "x", "sketch": {"k": 8}}, ["sketch.s=20"])
    assert (cfg.name, cfg.problem, cfg.sketch.k, cfg.sketch.s) == ("x", "mnist_tiny", 8, 20)
    again = resolve(cfg, ["analysis.random_draws=3"])
    assert (again.problem, again.sketch.k, again.analysis.random_draws) == ("mnist_tiny", 8, 3)
    with pytest.raises(ConfigError, match=r"sketch\.k"):
        resolve({"sketch": {"k": 0}})


def test_block_size_is_the_old_name_of_vectors_per_pass(tmp_path):
    old, new = tmp_path / "old.yaml", tmp_path / "new.yaml"
    old.write_text("problem: mnist_tiny\nsketch: {block_size: 8}\n")
    new.write_text("problem: mnist_tiny\nsketch: {vectors_per_pass: 8}\n")
    a, b = load_config(old), load_config(new)
    assert a.sketch == b.sketch and a.sketch.vectors_per_pass == 8
    assert a.sketch.vectors_per_block == 8  # the store's job width follows by default
    assert load_config(old, ["sketch.block_size=4"]).sketch.vectors_per_pass == 4  # override wins
    assert load_config(old, ["sketch.vectors_per_block=16"]).sketch.vectors_per_block == 16
    both = tmp_path / "both.yaml"
    both.write_text("sketch: {block_size: 8, vectors_per_pass: 4}\n")
    with pytest.raises(ConfigError, match="old name of vectors_per_pass"):
        load_config(both)
    from flows.config import resolve

    assert resolve({"problem": "mnist_tiny", "sketch": {"block_size": 8}}).sketch == b.sketch
