"""The ``exact`` flow: the dense float64 reference at a recorded step (small problems)."""

from __future__ import annotations

from prefect import flow

from hessian.defaults import MAX_DENSE_D
from hessian.exceptions import ConfigError
from hessian.out_of_core import SketchStore
from hessian_sketch.flows.common import cached, checkpoint_id, prepare
from hessian_sketch.flows.plan import Plan
from hessian_sketch.flows.sketch import find_checkpoint
from hessian_sketch.tasks import analysis, sketching


@flow(name="exact")
def exact(
    config: Plan | dict | str | None = None, step: int = 0, overrides: list[str] | None = None
):
    """Exact eigenpairs and their mask analysis at ``step``; compared with the sketch if solved."""
    plan = Plan.of(config, overrides or [])
    cfg = plan.config
    if cfg.D > MAX_DENSE_D:
        raise ConfigError(f"{cfg.problem}: D = {cfg.D:,} is too large for a dense reference")
    lay = prepare(plan)
    ck = find_checkpoint(plan, step)
    sid = None
    path = lay.sketch(step)
    if (path / "zarr.json").exists():
        store = SketchStore.open(str(path))
        if store.solved:
            sid = sketching.identity(store, step)
    return cached(analysis.exact_reference, lay)(
        str(lay.exact(step)), checkpoint_id(ck), sid, plan.exact, plan.analysis
    )
