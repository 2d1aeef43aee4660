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
