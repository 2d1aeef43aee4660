"""Run configurations: defaults per problem, validation with the field named."""

import pytest

from hessian_sketch.flows.config import ConfigError, RunConfig
from hessian_sketch.flows.loading import load_config


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
        ("problem: cifar100_allcnnc\ndata: digits\n", r"'digits' \(10 classes\) do not fit"),
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


def test_resolved_config_round_trips():
    cfg = load_config(None, ["sketch.k=30"])
    again = RunConfig.model_validate(cfg.model_dump(mode="json")).resolve()
    assert again == cfg


def test_a_checkpoint_is_the_record_steps(tmp_path):
    (tmp_path / "a.pt").write_bytes(b"")
    (tmp_path / "b.pt").write_bytes(b"")
    a, b = str(tmp_path / "a.pt"), str(tmp_path / "b.pt")
    cfg = RunConfig(problem="mnist_tiny", checkpoint=a).resolve()
    assert cfg.checkpoint == {0: a} and cfg.train.record_steps == [0] and cfg.train.steps == 0
    cfg = RunConfig(problem="mnist_tiny", checkpoint=a, train={"record_steps": [40]}).resolve()
    assert cfg.checkpoint == {40: a} and cfg.train.steps == 40
    cfg = RunConfig(problem="mnist_tiny", checkpoint={0: a, 9: b}).resolve()
    assert cfg.train.record_steps == [0, 9] and RunConfig(**cfg.model_dump()).resolve() == cfg
    for bad, message in [
        ({"checkpoint": str(tmp_path / "no.pt")}, "no such state_dict file"),
        ({"checkpoint": a, "train": {"record_steps": [0, 5]}}, "one state_dict file is one step"),
        ({"checkpoint": {3: a}, "train": {"record_steps": [4]}}, "differ from train.record"),
    ]:
        with pytest.raises(ConfigError, match=message):
            RunConfig(problem="mnist_tiny", **bad).resolve()
