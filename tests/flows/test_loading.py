"""Reading configurations: YAML and TOML files, dicts, overrides, old field names."""

import pytest

from hessian_sketch.flows.config import ConfigError
from hessian_sketch.flows.loading import load_config, resolve


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


def test_missing_file_and_bad_override(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "none.yaml")
    with pytest.raises(ConfigError, match=r"expected section\.field=value"):
        load_config(None, ["sketch.k"])
    with pytest.raises(ConfigError, match=r"sketch\.k"):
        load_config(None, ["sketch.k=-3"])


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
    assert resolve({"problem": "mnist_tiny", "sketch": {"block_size": 8}}).sketch == b.sketch
