"""The ``sketch`` flow: one recorded step -> its solved store, with its a-posteriori error."""

import pytest

from hessian.exceptions import ConfigError
from hessian.out_of_core import SketchStore
from hessian_sketch.flows import sketch
from hessian_sketch.flows.plan import Plan
from hessian_sketch.flows.sketch import dask_scheduler, find_checkpoint

from .conftest import TINY


def test_sketch_one_step(prefect_server, tmp_path):
    conf = TINY | {"name": "s", "run_dir": str(tmp_path / "s"),
                   "train": {"record_steps": [0, 10]}, "exact": {"enabled": False},
                   "dask": {"address": "inprocess"}}  # fmt: skip
    out = sketch(conf, 10)  # trains what is missing first
    assert out["step"] == 10 and out["hvps"] == 32 and not out["reused"]
    assert SketchStore.open(out["url"]).solved
    assert 0 < out["aposteriori"]["relative"] and out["cached"] == []
    again = sketch(conf, 10)
    assert again["reused"] and again["hvps"] == 0 and again["cached"] == ["aposteriori-error"]


def test_only_recorded_steps_and_the_configured_scheduler():
    plan = Plan.of({"problem": "mnist_tiny", "train": {"record_steps": [0, 10]},
                    "dask": {"address": "inprocess"}})  # fmt: skip
    with pytest.raises(ConfigError, match="step 5 is not a recorded step"):
        find_checkpoint(plan, 5)
    with dask_scheduler(plan) as address:
        assert address == "inprocess"


def test_accurate_mode_refines_the_sketch_to_certified_pairs(prefect_server, tmp_path):
    """sketch.mode: accurate: the single-pass store is the warm start, the accurate store the
    result (certified), both certificates reported; a rerun reuses both."""
    from hessian.out_of_core import BasisStore

    conf = TINY | {"name": "a", "run_dir": str(tmp_path / "a"),
                   "train": {"record_steps": [0]}, "exact": {"enabled": False},
                   "dask": {"address": "inprocess"},
                   "sketch": TINY["sketch"] | {"mode": "accurate"}}  # fmt: skip
    out = sketch(conf, 0)
    k = TINY["sketch"]["k"]
    assert out["mode"] == "accurate" and out["url"].endswith("accurate/step_000000.zarr")
    assert out["certificate"]["certified_rank"] == k and out["certificate"]["complete"]
    assert out["single_pass"]["certificate"]["k"] == k
    assert out["single_pass"]["url"].endswith("sketches/step_000000.zarr")
    store = BasisStore.open(out["url"])
    assert store.settings.warm_start == out["single_pass"]["url"]
    assert out["hvps"] == out["single_pass"]["hvps"] + store.solve_info["products"]
    again = sketch(conf, 0)
    assert again["reused"] and again["hvps"] == 0
