"""A tiny run for the tasks, called as plain functions (``task.fn``, no Prefect server)."""

import pytest
from prefect.logging import disable_run_logger

from hessian_sketch.flows.plan import Plan


@pytest.fixture(autouse=True)
def no_run_logger():
    with disable_run_logger():
        yield


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """mnist_tiny trained to steps 0 and 10 and sketched at both steps (k = 8, s = 16)."""
    from hessian_sketch.tasks import sketching, training

    root = tmp_path_factory.mktemp("tasks")
    plan = Plan.of({"problem": "mnist_tiny", "run_dir": str(root),
                    "train": {"record_steps": [0, 10]},
                    "sketch": {"k": 8, "s": 16, "vectors_per_pass": 8}})  # fmt: skip
    with disable_run_logger():
        cks = training.train.fn(plan.train, str(plan.layout.checkpoints))
        outs = {
            t: sketching.sketch.fn(
                str(plan.layout.sketch(t)), ck, plan.sketch, scheduler="inprocess"
            )
            for t, ck in cks.items()
        }
    return plan, cks, outs
