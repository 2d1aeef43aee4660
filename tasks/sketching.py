"""Sketching one recorded step into its Zarr store, and the a-posteriori error of the result."""

from __future__ import annotations

import time

from prefect import get_run_logger, task

from hessian import out_of_core
from hessian.out_of_core import AccurateRequest, SketchRequest, open_solution
from hessian.training import checkpoints
from hessian_sketch.tasks._cache import CACHED, LIBRARY_VERSION
from hessian_sketch.tasks._retry import transient


@task(name="sketch", retries=2, retry_delay_seconds=5, retry_condition_fn=transient)
def sketch(url: str, checkpoint: dict, request: SketchRequest, *, scheduler: str | None) -> dict:
    """Measure (resuming) and solve the sketch of step ``checkpoint['step']`` at ``url``.

    A retry resumes: blocks already written are skipped. Returns what later tasks key on
    (the store's fingerprint and solution id) and what was done.
    """
    log = get_run_logger()
    step = checkpoint["step"]
    ck = checkpoints.load(checkpoint["path"])
    t0 = time.perf_counter()
    result, report = out_of_core.sketch(
        url, request, ck.params, buffers=ck.buffers if ck.buffers.size else None,
        scheduler=scheduler, progress=True,
    )  # fmt: skip
    store = result.store
    reused = result.reused
    for what in result.info.get("repaired", []):
        log.warning(f"step {step}: repaired {what} in {url}")
    if reused:
        log.info(f"step {step}: sketch complete in {url}, reused ({report.skipped} blocks)")
    else:
        log.info(
            f"step {step}: measured {len(report.measured)} blocks ({report.n_hvp} HVPs, "
            f"{report.hvps_per_second:.0f} HVP/s), solved in {result.info['seconds']:.1f} s"
        )
    cert = result.certificate
    if cert is not None and not cert.complete:
        log.warning(f"step {step}: {cert.warning()}")
    return {
        "id": identity(store, step),
        "step": step,
        "url": url,
        "mode": "single-pass",
        "D": store.settings.D,
        "k": len(result.eigenvalues),
        "s": store.settings.s,
        "certificate": None if cert is None else cert.record(),
        "reused": reused,
        "blocks_measured": len(report.measured),
        "blocks_remeasured": len(report.remeasured),
        "hvps": report.n_hvp,
        "workers": report.workers,
        "hvps_per_second": report.hvps_per_second if not reused else None,
        "seconds_measure": report.seconds,
        "seconds_solve": 0.0 if reused else result.info["seconds"],
        "seconds": time.perf_counter() - t0,
        "solve": result.info,
    }


@task(name="accurate", retries=2, retry_delay_seconds=5, retry_condition_fn=transient)
def accurate(url: str, checkpoint: dict, request: AccurateRequest, warm_start: str,
             *, scheduler: str | None) -> dict:  # fmt: skip
    """Certified top-k at step ``checkpoint['step']`` by the out-of-core accurate solver, from
    the single-pass store ``warm_start``; resumes (a retry continues from the last step)."""
    log = get_run_logger()
    step = checkpoint["step"]
    ck = checkpoints.load(checkpoint["path"])
    t0 = time.perf_counter()

    def progress(products, residual, certified):
        log.info(f"step {step}: accurate: {products} products, max residual {residual:.2e}, "
                 f"certified {certified}/{request.k}")  # fmt: skip

    result = out_of_core.accurate(
        url, request, ck.params, buffers=ck.buffers if ck.buffers.size else None,
        warm_start=warm_start, scheduler=scheduler, progress=progress,
    )  # fmt: skip
    cert = result.certificate
    info = result.info
    total = info.get("products_total", info["products"])
    this_run = "" if total == info["products"] else f", {info['products']} of them in this run"
    log.info(
        f"step {step}: accurate: {'reused' if result.reused else 'solved'}, certified "
        f"{cert.certified_rank}/{request.k} (max residual {cert.max_residual:.2e}) after "
        f"{total} products{this_run}"
    )
    if not cert.complete:
        log.warning(f"step {step}: {cert.warning().split(': use')[0]} within the product budget")
    return {
        "id": identity(result.store, step),
        "step": step,
        "url": url,
        "mode": "accurate",
        "D": int(result.store.settings.D),
        "k": len(result.eigenvalues),
        "reused": result.reused,
        "hvps": 0 if result.reused else int(info["products"]),
        "workers": info.get("workers", []),
        "seconds_solve": 0.0 if result.reused else info["seconds"],
        "seconds": time.perf_counter() - t0,
        "certificate": cert.record(),
        "solve": {k: v for k, v in info.items() if k != "history"},
        "history": info.get("history", []),
    }


@task(name="aposteriori-error", cache_policy=CACHED, retries=1, retry_condition_fn=transient)
def aposteriori_error(
    sketch_id: dict, request: SketchRequest, version: str = LIBRARY_VERSION
) -> dict:
    """Frobenius error of the sketched eigendecomposition from ``request.probes`` probes.

    ``sketch_id``: url, fingerprint and solution id of the store (what the cache keys on).
    """
    t0 = time.perf_counter()
    store = open_solution(sketch_id["url"])
    A = request.operator.build(store.params(), store.buffers())
    est = out_of_core.aposteriori_error(sketch_id["url"], A, n=request.probes, seed=request.seed)
    return {
        "relative": est.relative,
        "error": est.error,
        "norm": est.norm,
        "probes": est.n_probes,
        "interval": list(est.interval),
        "p_below": est.p_below,
        "p_above": est.p_above,
        "seconds": time.perf_counter() - t0,
    }


def identity(store, step: int) -> dict:
    """What identifies a solved store (a sketch or an accurate solve): cached tasks key on
    this, never on timings."""
    return {
        "step": step,
        "url": store.url,
        "fingerprint": store.group.attrs["fingerprint"],
        "solution_id": store.solution_id,
    }
