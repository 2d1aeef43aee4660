"""The ``sketch`` flow: one recorded step -> its sketch store, measured on Dask, solved, checked."""

from __future__ import annotations

import contextlib

from prefect import flow, get_run_logger

from hessian.exceptions import ConfigError
from hessian_sketch.flows.common import cached, checkpoint_id, prepare
from hessian_sketch.flows.plan import Plan
from hessian_sketch.flows.train import train_checkpoints
from hessian_sketch.tasks import sketching


@contextlib.contextmanager
def dask_scheduler(plan: Plan):
    """The Dask scheduler for measurement blocks: the configured address, "inprocess", or a
    LocalCluster kept for the duration (its address; one worker per GPU for products on cuda
    or auto where torch sees GPUs)."""
    if plan.config.dask.address:
        yield plan.config.dask.address
        return
    from hessian.devices import worker_gpus
    from hessian.out_of_core import local_cluster

    gpus = worker_gpus(plan.sketch.operator.device)  # one worker per GPU (cuda, auto)
    with local_cluster(plan.sketch.n_workers, plan.sketch.threads, gpus) as cluster:
        yield cluster.scheduler_address


def find_checkpoint(plan: Plan, step: int) -> dict:
    """The checkpoint of ``step`` (training what is missing, which resumes from the latest)."""
    if step not in plan.train.record_steps:
        raise ConfigError(f"step {step} is not a recorded step ({list(plan.train.record_steps)})")
    return train_checkpoints(plan)[step]


@flow(name="sketch")
def sketch(
    config: Plan | dict | str | None = None,
    step: int = 0,
    checkpoint: dict | None = None,
    scheduler: str | None = None,
    overrides: list[str] | None = None,
) -> dict:
    """Sketch the Hessian at one recorded step (and, with ``sketch.mode: accurate``, refine it
    to certified eigenpairs); returns the outcome with its certificate and a-posteriori error.

    Args:
        checkpoint: the step's checkpoint info (from the train flow); default: found or trained.
        scheduler: a Dask scheduler address (default: the config's, else a LocalCluster).
    """
    plan = Plan.of(config, overrides or [])
    lay = prepare(plan)
    log = get_run_logger()
    ck = checkpoint or find_checkpoint(plan, step)
    with contextlib.ExitStack() as stack:
        address = scheduler or stack.enter_context(dask_scheduler(plan))
        out = sketching.sketch(
            str(lay.sketch(ck["step"])), checkpoint_id(ck), plan.sketch, scheduler=address
        )
        if plan.accurate is not None:  # refine from the single-pass store: the reported result
            single = out
            out = sketching.accurate(
                str(lay.accurate(ck["step"])), checkpoint_id(ck), plan.accurate, single["url"],
                scheduler=address,
            )  # fmt: skip
            out["single_pass"] = {k: single[k] for k in ("id", "url", "hvps", "certificate")}
            out["hvps"] += single["hvps"]
            out["seconds_measure"] = single.get("seconds_measure")
    state = cached(sketching.aposteriori_error, lay)(out["id"], plan.sketch, return_state=True)
    out["aposteriori"] = state.result()
    out["cached"] = ["aposteriori-error"] if state.name == "Cached" else []
    log.info(
        f"step {ck['step']}: a-posteriori relative Frobenius error "
        f"{out['aposteriori']['relative']:.3f} ({plan.sketch.probes} probes)"
    )
    return out
