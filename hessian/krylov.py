"""Accurate mode: randomized block Krylov with Rayleigh-Ritz, on the batched product machinery.

Musco & Musco (2015), "Randomized block Krylov methods for stronger and faster approximate
singular value decomposition", NeurIPS; symmetric form with full reorthogonalisation:

    Q_1 = orth(H Omega),  W_j = H Q_j,  Q_{j+1} = orth((I - P_{Q_1..Q_j}) W_j),
    T = Q^T H Q = Q^T [W_1 .. W_q]  (exact: every H Q_j is kept),  T = U Theta U^T,
    Ritz pairs (theta_i, Q u_i), residuals ||W u_i - theta_i Q u_i|| for free.

Each block costs one batched pass of p products. Depth grows until the top-k Ritz pairs have
relative residuals ||H v - theta v|| / |theta| <= tol, so the cost adapts to the spectrum. Where
passes over the data are affordable this resolves the spectrum itself, which a single-pass sketch
at s = 2k does only coarsely.
"""

from __future__ import annotations

import numpy as np

from hessian._checks import check_k
from hessian.eigen import CountingOperator, EigenResult, order_by_magnitude, orth
from hessian.seigh import STREAM_RIGHT
from hessian.test_matrices import test_matrix


def block_krylov_eigh(
    op,
    k: int,
    *,
    block: int | None = None,
    tol: float = 1e-2,
    max_depth: int = 12,
    seed: int = 0,
    noise: str = "gaussian",
    block_size: int | None = None,
) -> EigenResult:
    """Top-k eigenpairs (by |lambda|) to a residual tolerance by randomized block Krylov.

    Args:
        op: symmetric operator with ``.shape`` and ``@`` (see ``seigh``).
        k: eigenpairs wanted.
        block: Krylov block width p (default max(64, k // 3), capped at D): the number of
            products per data pass. At k = 355 on mnist_mini, 128 reached tol in 8 passes.
        tol: stop when every top-k Ritz pair has ||H v - theta v|| / |theta| <= tol.
        max_depth: at most this many blocks (then the result is returned with
            ``info["converged"] = False``).
        seed, noise: the starting block Omega (stream 0 of ``seed``).
        block_size: products per operator call (default the operator's own).

    Returns:
        EigenResult; ``info`` holds the depth, the basis size and the residuals.
    """
    A = CountingOperator(op)
    D = A.D
    k = check_k(k, D)
    p = min(D, int(block) if block else max(64, k // 3))
    if p < 1:
        raise ValueError(f"block must be >= 1, got {p}")
    if tol <= 0 or max_depth < 1:
        raise ValueError(f"tol must be > 0 and max_depth >= 1, got {tol}, {max_depth}")
    b = int(block_size or min(A.block_size, 256))

    def apply(X):
        return np.concatenate([A(X[:, i : i + b]) for i in range(0, X.shape[1], b)], axis=1)

    Omega = test_matrix(noise, p, D, seed, STREAM_RIGHT).rows(0, p).T
    Qs = [orth(apply(Omega))]
    Ws = [apply(Qs[0])]
    converged = False
    while True:
        Q, W = np.concatenate(Qs, axis=1), np.concatenate(Ws, axis=1)
        if Q.shape[1] < k and Q.shape[1] < D:  # basis too small for k Ritz pairs yet
            Qs.append(_next_block(Q, Ws[-1], D))
            Ws.append(apply(Qs[-1]))
            continue
        T = Q.T @ W
        theta, U = order_by_magnitude(*np.linalg.eigh((T + T.T) / 2))
        theta, U = theta[:k], U[:, :k]
        R = W @ U - (Q @ U) * theta
        res = np.linalg.norm(R, axis=0) / np.maximum(np.abs(theta), np.finfo(float).tiny)
        if res.max() <= tol:
            converged = True
            break
        if len(Qs) >= max_depth or Q.shape[1] >= D:
            break
        Qs.append(_next_block(Q, Ws[-1], D))
        Ws.append(apply(Qs[-1]))
    return EigenResult(
        theta,
        Q @ U,
        n_hvp=A.n_hvp,
        n_passes=A.n_passes,
        method="randomized block Krylov + Rayleigh-Ritz",
        info={
            "k": k,
            "block": p,
            "depth": len(Qs),
            "basis": Q.shape[1],
            "tol": tol,
            "converged": converged,
            "max_residual": float(res.max()),
            "median_residual": float(np.median(res)),
            "seed": seed,
            "noise": noise,
        },
    )


def _next_block(Q: np.ndarray, W: np.ndarray, D: int) -> np.ndarray:
    """orth((I - Q Q^T) W), projected twice ("twice is enough", Giraud et al. 2005)."""
    W = W - Q @ (Q.T @ W)
    W -= Q @ (Q.T @ W)
    return orth(W)[:, : D - Q.shape[1]]
