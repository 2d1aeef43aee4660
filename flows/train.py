"""The ``train`` flow: SGD with the problem's settings, checkpoints at every recorded step."""

from __future__ import annotations

from prefect import flow

from hessian_sketch.flows.common import prepare
from hessian_sketch.flows.plan import Plan
from hessian_sketch.tasks import training


def train_checkpoints(plan: Plan) -> dict:
    """The train task for a run: step -> checkpoint info (trains what is missing)."""
    return training.train(plan.train, str(prepare(plan).checkpoints))


@flow(name="train")
def train(config: Plan | dict | str | None = None, overrides: list[str] | None = None) -> dict:
    """Train (resuming from the last checkpoint) and return step -> checkpoint info."""
    return train_checkpoints(Plan.of(config, overrides or []))
