"""Masks against eigenspaces (``hessian.study.analysis``), the exact reference, and the plots."""

from __future__ import annotations

import time
from pathlib import Path

from prefect import get_run_logger, task

from hessian.solvers import ExactRequest, stored_reference
from hessian.study import AnalysisRequest, analysis, plots
from hessian.training import checkpoints
from hessian_sketch.tasks._cache import CACHED, LIBRARY_VERSION
from hessian_sketch.tasks._retry import transient


@task(name="analyze-step", cache_policy=CACHED, retries=1, retry_condition_fn=transient)
def analyze_step(
    sketch_id: dict, checkpoint: dict, request: AnalysisRequest, version: str = LIBRARY_VERSION
) -> dict:
    """Overlap curves for every k (magnitude, random, best masks) and Grassmannian metrics."""
    params = checkpoints.load(checkpoint["path"]).params
    a = analysis.analyze_sketch(sketch_id["url"], params, request, step=checkpoint["step"])
    return a.to_dict()


@task(name="exact-reference", cache_policy=CACHED, retries=1, retry_condition_fn=transient)
def exact_reference(
    path: str,
    checkpoint: dict,
    sketch_id: dict | None,
    request: ExactRequest,
    analysis_request: AnalysisRequest,
    version: str = LIBRARY_VERSION,
) -> dict:
    """The dense exact eigenpairs (float64) at a step, their analysis, and the sketch's error.

    The eigenpairs are saved at ``path`` and reused when the operator is the same.
    """
    log = get_run_logger()
    t0 = time.perf_counter()
    ck = checkpoints.load(checkpoint["path"])
    params = ck.params
    ref = stored_reference(request, path, params, ck.buffers if ck.buffers.size else None)
    if ref.info.get("repaired"):
        log.warning(f"step {checkpoint['step']}: {ref.info['repaired']}")
    how = "dense exact Hessian and eigh" if ref.info["computed"] else "exact reference reused"
    log.info(f"step {checkpoint['step']}: {how} (D = {params.size:,}, {path})")
    a = analysis.analyze_eigenpairs(
        ref.eigenvalues, ref.eigenvectors, params, analysis_request, step=checkpoint["step"]
    )
    out = {"analysis": a.to_dict(), "path": path}
    if sketch_id is not None:
        out["comparison"] = analysis.compare_to_reference(
            sketch_id["url"], ref.eigenvalues, ref.eigenvectors
        )
    out["seconds"] = time.perf_counter() - t0
    return out


@task(name="across-steps", cache_policy=CACHED, retries=1, retry_condition_fn=transient)
def across_steps(
    sketch_ids: list[dict], checkpoints_by_step: dict, version: str = LIBRARY_VERSION
) -> dict:
    """IoU of magnitude masks and eigenspace overlap between steps, for every k."""
    steps = [o["step"] for o in sketch_ids]
    params = {t: checkpoints.load(checkpoints_by_step[t]["path"]).params for t in steps}
    urls = {o["step"]: o["url"] for o in sketch_ids}
    return analysis.across_steps(steps, params, urls)


@task(name="plots")
def make_plots(
    directory: str,
    analyses: list[dict],
    exact_analyses: list[dict],
    across: dict,
    k: int,
    certificates: dict | None = None,
) -> list[str]:
    """The study's figures as PNG files in ``directory`` (``certificates``: step -> record)."""
    A = [analysis.StepAnalysis.from_dict(a) for a in analyses]
    E = [analysis.StepAnalysis.from_dict(a) for a in exact_analyses]
    d = Path(directory)
    exact_by_step = {e.step: e for e in E}
    files = [
        plots.spectrum(A, d / "spectrum.png", exact=E),
        plots.overlap_vs_step(A, d / "overlap_vs_step.png", k=k, exact=E),
        plots.metric_panels(A, d / "grassmannian_metrics.png", k=k),
    ]
    for a in A:
        files.append(
            plots.overlap_vs_k(
                a, d / f"overlap_vs_k_step_{a.step:06d}.png", exact=exact_by_step.get(a.step)
            )
        )
    if across.get("pairs"):
        files.append(plots.across_steps(across, d / "across_steps.png"))
    if certificates:
        files.append(plots.residuals(certificates, d / "residuals.png"))
    return [str(f) for f in files]
