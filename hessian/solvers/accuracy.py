"""How accurate an eigendecomposition is: a-posteriori Frobenius error, scree bounds, residuals,
and eigenvalue errors against a reference.

A-posteriori error (Tropp, Yurtsever, Udell & Cevher 2019, §6): with n standard Gaussian probes
w_i, err^2 = (1/n) sum_i ||(H - H_hat) w_i||^2 is an unbiased estimate of ||H - H_hat||_F^2, where
H_hat = V diag(lambda) V^T. For 0 < eps < 1 (Chernoff bounds for a weighted chi-square with n
degrees of freedom),
    P{ err^2 <= (1 - eps) ||H - H_hat||_F^2 } <= [(1 - eps) e^eps]^(n/2),
    P{ err^2 >= (1 + eps) ||H - H_hat||_F^2 } <= [(1 + eps) e^-eps]^(n/2);
n = 30, eps = 0.5 gives 0.055 and 0.242. The same probes estimate ||H||_F, so the relative error
costs n products in one batched pass.

Scree (§6.5): scree(r) = ||H - [H]_r||_F^2 / ||H||_F^2. By Mirsky's theorem the tail norm is
1-Lipschitz in Frobenius norm, so with t_r = ||H_hat - [H_hat]_r||_F (from the eigenvalues)
    (max(t_r - err, 0) / ||H||_F)^2 <= scree(r) <= ((t_r + err) / ||H||_F)^2.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hessian.defaults import APOSTERIORI_EPS, APOSTERIORI_PROBES
from hessian.operators.counting import CountingOperator
from hessian.solvers.result import EigenResult
from hessian.solvers.sketching_matrices import STREAM_PROBES, sketching_matrix


def probability_bounds(n: int, eps: float = APOSTERIORI_EPS) -> tuple[float, float]:
    """(P[estimate^2 <= (1-eps) truth^2], P[estimate^2 >= (1+eps) truth^2]) upper bounds."""
    if n < 1 or not 0 < eps < 1:
        raise ValueError(f"need n >= 1 and 0 < eps < 1, got n={n}, eps={eps}")
    below = ((1 - eps) * np.exp(eps)) ** (n / 2)
    above = ((1 + eps) * np.exp(-eps)) ** (n / 2)
    return float(below), float(above)


@dataclass
class FrobeniusErrorEstimate:
    """Estimates of ||H - H_hat||_F and ||H||_F from n Gaussian probes.

    ``interval`` holds ||H - H_hat||_F within (lo, hi), failing with probability at most
    ``p_below + p_above`` (eps = 0.5: truth^2 in [err^2 / 1.5, err^2 / 0.5]).
    """

    error: float
    norm: float
    n_probes: int
    p_below: float
    p_above: float
    interval: tuple[float, float]

    @property
    def relative(self) -> float:
        """||H - H_hat||_F / ||H||_F (both estimated)."""
        return self.error / self.norm if self.norm > 0 else float("nan")

    @classmethod
    def from_probes(
        cls, residual_sq: float, product_sq: float, n: int, eps: float = APOSTERIORI_EPS
    ) -> FrobeniusErrorEstimate:
        """The estimate from ||(H - H_hat) W||_F^2 and ||H W||_F^2 over n probes W."""
        err = float(np.sqrt(residual_sq / n))
        norm = float(np.sqrt(product_sq / n))
        lo_p, hi_p = probability_bounds(n, eps)
        return cls(err, norm, n, lo_p, hi_p, (err / np.sqrt(1 + eps), err / np.sqrt(1 - eps)))


def probes(n: int, D: int, seed: int = 0) -> np.ndarray:
    """The n standard Gaussian probes W (D x n) of the a-posteriori error (stream 2 of ``seed``)."""
    return sketching_matrix("gaussian", n, D, seed, STREAM_PROBES).rows(0, n).T


def aposteriori_error(
    op, result: EigenResult, *, n: int = APOSTERIORI_PROBES, seed: int = 0,
    eps: float = APOSTERIORI_EPS,
) -> FrobeniusErrorEstimate:  # fmt: skip
    """A-posteriori Frobenius error of H_hat = V diag(lambda) V^T from n probes (one pass)."""
    A = CountingOperator(op)
    W = probes(n, A.D, seed)
    HW = A(W)
    V = np.asarray(result.eigenvectors, dtype=np.float64)
    lam = np.asarray(result.eigenvalues, dtype=np.float64)
    E = HW - V @ (lam[:, None] * (V.T @ W))
    return FrobeniusErrorEstimate.from_probes(np.sum(E**2), np.sum(HW**2), n, eps)


def scree_bounds(eigenvalues: np.ndarray, estimate: FrobeniusErrorEstimate):
    """Lower and upper bounds on scree(r) for r = 0..k (arrays of length k + 1)."""
    lam2 = np.asarray(eigenvalues, dtype=np.float64) ** 2
    tail = np.sqrt(np.concatenate([np.cumsum(lam2[::-1])[::-1], [0.0]]))
    lower = (np.maximum(tail - estimate.error, 0) / estimate.norm) ** 2
    upper = ((tail + estimate.error) / estimate.norm) ** 2
    return lower, np.minimum(upper, 1.0)  # scree(r) <= 1 always


def residuals(op, result: EigenResult, indices=None) -> np.ndarray:
    """Relative residuals ||H v_i - lambda_i v_i|| / |lambda_i| for the chosen pairs (batched)."""
    idx = np.arange(result.k) if indices is None else np.asarray(indices)
    V = np.asarray(result.eigenvectors[:, idx], dtype=np.float64)
    lam = np.asarray(result.eigenvalues[idx], dtype=np.float64)
    R = CountingOperator(op)(V) - V * lam
    return np.linalg.norm(R, axis=0) / np.abs(lam)


def eigenvalue_errors(approx: np.ndarray, exact: np.ndarray) -> dict[str, np.ndarray]:
    """Relative eigenvalue errors of an approximation against a reference spectrum.

    ``matched``: |a_i - e_i| / |e_i| with both in |lambda| order (strict, but a near-tie in |lambda|
    with opposite signs, common in Hessians, counts as an error of ~2). ``nearest``:
    min_j |a_i - e_j| / |a_i| over the whole reference (is a_i an eigenvalue at all?).
    """
    a = np.asarray(approx, dtype=np.float64)
    e = np.asarray(exact, dtype=np.float64)
    matched = np.abs(a - e[: len(a)]) / np.abs(e[: len(a)])
    srt = np.sort(e)
    pos = np.clip(np.searchsorted(srt, a), 1, len(srt) - 1)
    near = np.minimum(np.abs(a - srt[pos - 1]), np.abs(a - srt[pos])) / np.abs(a)
    return {"matched": matched, "nearest": near}
