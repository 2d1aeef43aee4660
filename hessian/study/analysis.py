"""The paper's analysis of one recorded step: masks against the top-k Hessian eigenspace.

For eigenvectors V (D x k, |lambda| order) and parameters theta at a step (docs/method.md §4):
- overlap(S, k) = (1/k) ||V[S[:k], :k]||_F^2 for every k, for the magnitude mask (largest
  |theta_i|), random masks (mean and standard deviation over ``draws`` draws) and the best mask
  (an upper bound at every k); chance(k) = k / D is the expected overlap of a random mask;
- the seven Grassmannian metrics between span(e_S) and span(V_k) at a few k, from the principal
  angles cos(theta_j) = sigma_j(V[S[:k], :k]);
- across steps: IoU of the magnitude masks and the overlap of the eigenspaces for every k.

``analyze_sketch`` streams over a stored sketch (any D); ``analyze_eigenpairs`` does the same in
memory (the exact reference of small problems, and the tests' oracle for the streamed path).
Both take an ``AnalysisRequest`` (random draws, their seed, the metric k), or its fields as
keywords.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field

import numpy as np

from hessian._checks import as_request
from hessian.defaults import METRIC_KS, RANDOM_DRAWS
from hessian.out_of_core import passes
from hessian.out_of_core.solutions import open_solution
from hessian.solvers.accuracy import eigenvalue_errors
from hessian.solvers.linalg import nested_overlaps
from hessian.study import masks, metrics


@dataclass(frozen=True)
class AnalysisRequest:
    """How a step is analysed against its eigenspace.

    Attributes:
        draws: random masks drawn (their mean and standard deviation estimate chance).
        seed: of the random masks.
        metric_ks: the k at which the Grassmannian metrics are reported (None: 10, 50, 100,
            200, 500, 1000 below k, and k).
    """

    draws: int = RANDOM_DRAWS
    seed: int = 0
    metric_ks: tuple[int, ...] | None = None

    def __post_init__(self):
        if self.metric_ks is not None:
            object.__setattr__(self, "metric_ks", tuple(int(x) for x in self.metric_ks))

    def ks(self, k: int) -> list[int]:
        """The metric k for a sketch of k eigenpairs (each at most k)."""
        if self.metric_ks is None:
            return default_metric_ks(k)
        return sorted({min(int(x), k) for x in self.metric_ks})


@dataclass
class StepAnalysis:
    """Overlap curves (index k-1 -> value at k) and metrics of one step's eigenspace."""

    step: int
    D: int
    k: int
    eigenvalues: np.ndarray
    curves: dict[str, np.ndarray]  # magnitude, random_mean, random_std, best, chance
    grassmannian: dict[str, dict[int, dict[str, float]]] = field(default_factory=dict)
    seconds: float = 0.0

    def at(self, name: str, k: int) -> float:
        return float(self.curves[name][k - 1])

    def to_dict(self) -> dict:
        return {
            "step": self.step,
            "D": self.D,
            "k": self.k,
            "eigenvalues": self.eigenvalues.tolist(),
            "curves": {n: c.tolist() for n, c in self.curves.items()},
            "grassmannian": {
                m: {str(kk): v for kk, v in per_k.items()} for m, per_k in self.grassmannian.items()
            },
            "seconds": self.seconds,
        }

    @classmethod
    def from_dict(cls, d: dict) -> StepAnalysis:
        return cls(
            int(d["step"]),
            int(d["D"]),
            int(d["k"]),
            np.asarray(d["eigenvalues"], dtype=np.float64),
            {n: np.asarray(c, dtype=np.float64) for n, c in d["curves"].items()},
            {m: {int(kk): v for kk, v in p.items()} for m, p in d["grassmannian"].items()},
            float(d.get("seconds", 0.0)),
        )


def default_metric_ks(k: int) -> list[int]:
    """The k at which the Grassmannian metrics are reported: 10, 50, 100, 200, ... and k."""
    return sorted({kk for kk in METRIC_KS if kk < k} | {k})


def _curves(mag, rnd, best, D: int, k: int) -> dict[str, np.ndarray]:
    return {
        "magnitude": np.asarray(mag, dtype=np.float64),
        "random_mean": rnd.mean(axis=0),
        "random_std": rnd.std(axis=0, ddof=1) if len(rnd) > 1 else np.zeros(k),
        "best": np.asarray(best, dtype=np.float64),
        "chance": np.asarray(metrics.chance(np.arange(1, k + 1), D), dtype=np.float64),
    }


def _masks(params, D: int, k: int, request: AnalysisRequest):
    """The metric k, the magnitude mask and the random masks of one analysis."""
    theta = np.asarray(params, dtype=np.float64).ravel()
    if theta.size != D:
        raise ValueError(f"params have {theta.size} entries, the eigenvectors have D = {D}")
    rnd = masks.random(D, k, draws=request.draws, seed=request.seed)
    return request.ks(k), masks.magnitude(theta, k), rnd


def _angles(rows: np.ndarray, kk: int) -> dict[str, float]:
    """Grassmannian metrics from W = V[S[:kk], :kk] (kk x kk)."""
    return metrics.grassmannian_metrics(metrics.principal_angles(np.arange(kk), rows[:kk, :kk], kk))


def analyze_sketch(
    url: str,
    params,
    request: AnalysisRequest | None = None,
    *,
    step: int = 0,
    scheduler="threads",
    num_workers: int = 2,
    **settings,
) -> StepAnalysis:
    """Analyse the solved sketch at ``url`` against masks of ``params``; two streamed passes.

    ``request``: an ``AnalysisRequest``, or its fields as keywords (``draws=``, ``seed=``,
    ``metric_ks=``); ``step`` labels the result.
    """
    request = as_request(AnalysisRequest, request, settings)
    t0 = time.perf_counter()
    store = open_solution(url)
    lam = store.eigenvalues()
    D, k = store.settings.D, len(lam)
    ks, mag, rnd = _masks(params, D, k, request)
    kw = {"scheduler": scheduler, "num_workers": num_workers}
    ov = passes.overlaps(url, {"magnitude": mag, "random": rnd}, k_max=k, best=True, **kw)
    g = passes.gather(url, {"magnitude": mag, "random": rnd[0]}, best_ks=ks, k_max=k, **kw)
    grass = {
        "magnitude": {kk: _angles(g.rows["magnitude"], kk) for kk in ks},
        "random": {kk: _angles(g.rows["random"], kk) for kk in ks},
        "best": {kk: _angles(g.best_rows[kk], kk) for kk in ks},
    }
    curves = _curves(ov.curves["magnitude"], np.atleast_2d(ov.curves["random"]), ov.best, D, k)
    return StepAnalysis(step, D, k, lam, curves, grass, time.perf_counter() - t0)


def analyze_eigenpairs(
    eigenvalues, eigenvectors, params, request: AnalysisRequest | None = None, *,
    step: int = 0, **settings,
) -> StepAnalysis:  # fmt: skip
    """``analyze_sketch`` for eigenpairs held in memory (e.g. the exact reference)."""
    request = as_request(AnalysisRequest, request, settings)
    t0 = time.perf_counter()
    V = np.asarray(eigenvectors, dtype=np.float64)
    lam = np.asarray(eigenvalues, dtype=np.float64)
    D, k = V.shape
    ks, mag, rnd = _masks(params, D, k, request)
    curves = _curves(
        metrics.overlap(mag, V), np.atleast_2d(metrics.overlap(rnd, V)), masks.best_overlap(V), D, k
    )
    grass = {
        "magnitude": {kk: metrics.mask_metrics(mag, V, kk) for kk in ks},
        "random": {kk: metrics.mask_metrics(rnd[0], V, kk) for kk in ks},
        "best": {kk: metrics.mask_metrics(masks.best(V, kk), V, kk) for kk in ks},
    }
    return StepAnalysis(step, D, k, lam, curves, grass, time.perf_counter() - t0)


def compare_to_reference(url: str, eigenvalues, eigenvectors) -> dict:
    """How a stored sketch compares with reference eigenpairs (small D: V is read whole).

    Returns the subspace overlap ||V_sketch[:, :k]^T V_ref[:, :k]||_F^2 / k for every k, and
    eigenvalue errors (``hessian.eigenvalue_errors``: by index and matched to the nearest).
    """
    store = open_solution(url)
    Vs = store.eigenvectors()
    Vr = np.asarray(eigenvectors, dtype=np.float64)
    k = min(Vs.shape[1], Vr.shape[1])
    errs = eigenvalue_errors(store.eigenvalues()[:k], np.asarray(eigenvalues)[:k])
    return {
        "subspace_overlap": nested_overlaps(Vs[:, :k].T @ Vr[:, :k]).tolist(),
        "eigenvalue_relative_error_median": float(np.median(errs["matched"])),
        "eigenvalue_relative_error_max": float(np.max(errs["matched"])),
    }


def across_steps(steps, params: dict, urls: dict, *, scheduler="threads") -> dict:
    """IoU of magnitude masks and eigenspace overlap, for every k, between consecutive steps
    and between each step and the last one.

    Args:
        steps: the recorded steps in order; params: step -> flat parameters;
        urls: step -> solved sketch store.
    """
    steps = sorted(int(t) for t in steps)
    if len(steps) < 2:
        return {"pairs": [], "iou": [], "eigenspace_overlap": []}
    k = min(len(open_solution(urls[t]).eigenvalues()) for t in steps)
    mags = {t: masks.magnitude(np.asarray(params[t], dtype=np.float64), k) for t in steps}
    last = steps[-1]
    pairs = list(itertools.pairwise(steps))
    pairs += [(t, last) for t in steps[:-2]]  # (steps[-2], last) is already a consecutive pair
    out = {"pairs": [], "iou": [], "eigenspace_overlap": []}
    for a, b in pairs:
        out["pairs"].append([a, b])
        out["iou"].append(metrics.iou_curve(mags[a], mags[b], k).tolist())
        out["eigenspace_overlap"].append(
            passes.cross_overlap(urls[a], urls[b], k_max=k, scheduler=scheduler).tolist()
        )
    return out
