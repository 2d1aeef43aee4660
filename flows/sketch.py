"""The ``sketch`` flow: one recorded step -> its sketch store, measured on Dask, solved, checked."""

from __future__ import annotations

import contextlib

from prefect import flow, get_run_logger

from flows.common import cached, checkpoint_id, op_dict, prepare, resolve
from flows.config import RunConfig
from flows.train import train_checkpoints
from tasks import sketching


@contextlib.contextmanager
def dask_scheduler(cfg: RunConfig):
    """The Dask scheduler for measurement blocks: the configured address, "inprocess", or a
    LocalCluster kept for the duration (its address)."""
    if cfg.dask.address:
        yield cfg.dask.address
        return
    from hessian.out_of_core import local_cluster

    with local_cluster(cfg.dask.n_workers, cfg.dask.threads) as cluster:
        yield cluster.scheduler_address


def find_checkpoint(cfg: RunConfig, step: int) -> dict:
    """The checkpoint of ``step`` (training what is missing, which resumes from the latest)."""
    t = cfg.train
    if step not in t.record_steps:
        from flows.config import ConfigError

        raise ConfigError(f"step {step} is not a recorded step ({t.record_steps})")
    cks = train_checkpoints(cfg)
    return cks[step]


@flow(name="sketch")
def sketch(
    config: dict | str | None = None,
    step: int = 0,
    checkpoint: dict | None = None,
    scheduler: str | None = None,
    overrides: list[str] | None = None,
) -> dict:
    """Sketch the Hessian at one recorded step; returns the outcome with the a-posteriori error.

    Args:
        checkpoint: the step's checkpoint info (from the train flow); default: found or trained.
        scheduler: a Dask scheduler address (default: the config's, else a LocalCluster).
    """
    cfg = resolve(config, overrides or [])
    lay = prepare(cfg)
    log = get_run_logger()
    ck = checkpoint or find_checkpoint(cfg, step)
    sk = cfg.sketch
    op = op_dict(cfg)
    with contextlib.ExitStack() as stack:
        address = scheduler or stack.enter_context(dask_scheduler(cfg))
        out = sketching.sketch(
            str(lay.sketch(ck["step"])), checkpoint_id(ck), op=op, k=sk.k, s=sk.s,
            oversample=sk.oversample, seed=sk.seed, noise=sk.noise, chunk_rows=sk.chunk_rows,
            scheduler=address, n_workers=cfg.dask.n_workers, threads=cfg.dask.threads,
        )  # fmt: skip
    state = cached(sketching.aposteriori_error, lay)(
        out["id"], op=op, probes=sk.probes, seed=sk.seed, return_state=True
    )
    out["aposteriori"] = state.result()
    out["cached"] = ["aposteriori-error"] if state.name == "Cached" else []
    log.info(
        f"step {ck['step']}: a-posteriori relative Frobenius error "
        f"{out['aposteriori']['relative']:.3f} ({sk.probes} probes)"
    )
    return out
