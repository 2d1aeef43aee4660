"""Training with checkpoints at the recorded steps (``hessian.training.train``)."""

from __future__ import annotations

from prefect import get_run_logger, task

from hessian.training import TrainRequest, runs
from hessian_sketch.tasks._cache import file_sha256
from hessian_sketch.tasks._retry import transient


@task(name="train", retries=1, retry_delay_seconds=2, retry_condition_fn=transient)
def train(request: TrainRequest, directory: str) -> dict[int, dict]:
    """Train (or resume) and checkpoint; returns step -> {path, sha256, loss, accuracy, trained}.

    A retry resumes from the last checkpoint written.
    """
    log = get_run_logger()
    trained: set[int] = set()

    def report(ck):
        trained.add(ck.step)
        log.info(f"step {ck.step}: train loss {ck.loss:.4f}, accuracy {ck.accuracy:.3f}")

    cks = runs.train(request, directory, on_record=report, progress=True, on_problem=log.warning)
    if trained:
        D = next(iter(cks.values())).params.size
        log.info(
            f"trained {request.problem} (D = {D:,}) to step {max(trained)}: "
            f"{len(trained)} checkpoints"
        )
    else:
        log.info(f"all {len(cks)} checkpoints exist in {directory}: nothing to train")
    return {
        t: {
            "step": t,
            "path": str(ck.path),
            "sha256": file_sha256(ck.path),
            "loss": ck.loss,
            "accuracy": ck.accuracy,
            "trained": t in trained,
        }
        for t, ck in cks.items()
    }
