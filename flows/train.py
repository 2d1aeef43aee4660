"""The ``train`` flow: SGD with the problem's settings, checkpoints at every recorded step."""

from __future__ import annotations

from prefect import flow

from flows.common import prepare, resolve
from flows.config import RunConfig
from tasks import training


def train_checkpoints(cfg: RunConfig) -> dict:
    """The train task for a resolved config: step -> checkpoint info (trains what is missing)."""
    lay = prepare(cfg)
    t = cfg.train
    return training.train(
        cfg.problem, str(lay.checkpoints), data=cfg.data, n_train=t.n_train,
        n_hessian=cfg.n_hessian, steps=t.steps, record_steps=t.record_steps, lr=t.lr,
        batch_size=t.batch_size, seed=t.seed,
    )  # fmt: skip


@flow(name="train")
def train(config: dict | str | None = None, overrides: list[str] | None = None) -> dict:
    """Train (resuming from the last checkpoint) and return step -> checkpoint info."""
    return train_checkpoints(resolve(config, overrides or []))
