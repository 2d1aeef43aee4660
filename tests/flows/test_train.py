"""The ``train`` flow: checkpoints at every recorded step, resumed on a rerun."""

from hessian_sketch.flows import train
from hessian_sketch.flows.plan import Plan
from hessian_sketch.flows.train import train_checkpoints

from .conftest import TINY


def test_train_then_reuse(prefect_server, tmp_path):
    conf = TINY | {"name": "t", "run_dir": str(tmp_path / "t"), "train": {"record_steps": [0, 10]}}
    cks = train(conf)
    assert sorted(cks) == [0, 10] and all(c["trained"] for c in cks.values())
    again = train_checkpoints(Plan.of(conf))  # the task alone, in the flow's run directory
    assert [c["sha256"] for c in again.values()] == [c["sha256"] for c in cks.values()]
    assert not any(c["trained"] for c in again.values())
