"""The ``analyze`` flow: every solved sketch of a run against its masks, and summary.json."""

import json

import pytest

from hessian_sketch.flows import analyze, sketch
from hessian_sketch.flows.analyze import stored_sketches
from hessian_sketch.flows.plan import Plan

from .conftest import TINY


def test_analyze_what_is_sketched(prefect_server, tmp_path):
    conf = TINY | {"name": "stages", "run_dir": str(tmp_path / "stages"),
                   "train": {"record_steps": [0, 10]}, "exact": {"enabled": False},
                   "dask": {"address": "inprocess"}}  # fmt: skip
    sketch(conf, 10)
    with pytest.raises(FileNotFoundError, match="no solved sketches"):
        analyze(conf | {"run_dir": str(tmp_path / "empty")})
    summary = analyze(conf)
    assert [s["step"] for s in summary["steps"]] == [10]  # only the sketched step
    assert "exact" not in summary["steps"][0]
    on_disk = json.loads((tmp_path / "stages" / "summary.json").read_text())
    assert on_disk["steps"][0]["eigenvalues"] == summary["steps"][0]["eigenvalues"]
    # a store made with other sketch settings is not this configuration's
    plan = Plan.of(conf)
    assert [o["step"] for o in stored_sketches(plan, plan.layout)] == [10]
    other = Plan.of(conf, ["sketch.k=12"])
    assert stored_sketches(other, other.layout) == []
