"""A step record as the flows make it, from a small synthetic eigenbasis (no run needed)."""

import numpy as np

from hessian.study import AnalysisRequest, analysis
from hessian_sketch.flows import report

D, K = 60, 6


def analysis_dict(step: int = 0) -> dict:
    rng = np.random.default_rng(step)
    V, _ = np.linalg.qr(rng.standard_normal((D, K)))
    lam = np.array([5.0, -4.0, 3.0, 2.0, -1.0, 0.5])
    params = rng.standard_normal(D)
    a = analysis.analyze_eigenpairs(lam, V, params, AnalysisRequest(draws=5), step=step)
    return a.to_dict()


def outcome(step: int = 0) -> dict:
    return {
        "step": step, "id": {"step": step, "url": "u", "fingerprint": "fp", "solution_id": "sid"},
        "url": f"runs/x/sketches/step_{step:06d}.zarr", "reused": False, "hvps": 12,
        "hvps_per_second": 100.0, "blocks_measured": 3, "workers": ["w"], "seconds_measure": 1.0,
        "seconds_solve": 0.5, "aposteriori": {"relative": 0.1, "error": 0.2, "seconds": 0.3},
    }  # fmt: skip


def checkpoint(step: int = 0) -> dict:
    return {"step": step, "path": "p.npz", "sha256": "h", "loss": 2.3, "accuracy": 0.1,
            "trained": True}  # fmt: skip


def record(step: int = 0, exact: bool = False) -> dict:
    ex = None
    if exact:
        ex = {"analysis": analysis_dict(step + 1), "seconds": 2.0,
              "comparison": {"subspace_overlap": [0.9] * K,
                             "eigenvalue_relative_error_median": 1e-3}}  # fmt: skip
    return report.step_record(outcome(step), checkpoint(step), analysis_dict(step), ex)


def certificate(rank: int, k: int = K) -> dict:
    """A step's certificate record (``Certificate.record()``) with ``rank`` of k certified."""
    return {
        "k": k, "certified_rank": rank, "complete": rank >= k, "tol": 0.01, "subspace_tol": 0.01,
        "max_residual": 0.5, "median_residual": 0.2, "checked": list(range(k)),
        "residuals": [0.1 * i for i in range(k)],
    }  # fmt: skip
