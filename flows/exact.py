"""The ``exact`` flow: the dense float64 reference at a recorded step (small problems)."""

from __future__ import annotations

from prefect import flow

from flows.common import cached, checkpoint_id, op_dict, prepare, resolve
from flows.config import ConfigError
from flows.sketch import find_checkpoint
from hessian.defaults import MAX_DENSE_D
from hessian.out_of_core import SketchStore
from tasks import analysis, sketching


@flow(name="exact")
def exact(config: dict | str | None = None, step: int = 0, overrides: list[str] | None = None):
    """Exact eigenpairs and their mask analysis at ``step``; compared with the sketch if solved."""
    cfg = resolve(config, overrides or [])
    if cfg.D > MAX_DENSE_D:
        raise ConfigError(f"{cfg.problem}: D = {cfg.D:,} is too large for a dense reference")
    lay = prepare(cfg)
    ck = find_checkpoint(cfg, step)
    sid = None
    path = lay.sketch(step)
    if (path / "zarr.json").exists():
        store = SketchStore.open(str(path))
        if store.solved:
            sid = sketching.identity(store, step)
    a = cfg.analysis
    return cached(analysis.exact_reference, lay)(
        str(lay.exact(step)), checkpoint_id(ck), sid, op=op_dict(cfg), k=cfg.sketch.k,
        draws=a.random_draws, seed=a.seed, metric_ks=a.metric_ks,
    )  # fmt: skip
