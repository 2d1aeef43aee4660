"""Training with checkpoints at the recorded steps (``hessian.training.train_recorded``)."""

from __future__ import annotations

from prefect import get_run_logger, task

from hessian import problems
from hessian.training import checkpoints
from tasks._cache import file_sha256


@task(name="train", retries=1, retry_delay_seconds=2)
def train(
    problem: str,
    directory: str,
    *,
    data: str | None,
    n_train: int | None,
    n_hessian: int | None = None,
    steps: int,
    record_steps: list[int],
    lr: float,
    batch_size: int,
    seed: int,
) -> dict[int, dict]:
    """Train (or resume) and checkpoint; returns step -> {path, sha256, loss, accuracy, trained}.

    A retry resumes from the last checkpoint written.
    """
    log = get_run_logger()
    p = problems.load(problem, data, n_train=n_train, n_hessian=n_hessian, seed=seed)
    key = checkpoints.run_key(
        problem=problem, data=p.data_source, n=len(p.train_data[1]), D=p.D, lr=lr,
        batch_size=batch_size, seed=seed,
    )  # fmt: skip
    before = set(checkpoints.existing(directory, key))
    todo = sorted(set(record_steps) - before)
    if todo:
        log.info(f"training {problem} (D = {p.D:,}) to step {max(todo)}: {len(todo)} checkpoints")
    else:
        log.info(f"all {len(record_steps)} checkpoints exist in {directory}: nothing to train")

    def report(ck):
        log.info(f"step {ck.step}: train loss {ck.loss:.4f}, accuracy {ck.accuracy:.3f}")

    cks = checkpoints.train_recorded(
        p, directory, steps=steps, record_steps=record_steps, lr=lr, batch_size=batch_size,
        seed=seed, key=key, on_record=report, progress=True,
    )  # fmt: skip
    return {
        t: {
            "step": t,
            "path": str(ck.path),
            "sha256": file_sha256(ck.path),
            "loss": ck.loss,
            "accuracy": ck.accuracy,
            "trained": t not in before,
        }
        for t, ck in cks.items()
    }
