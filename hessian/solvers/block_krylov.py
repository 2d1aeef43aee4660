"""Accurate mode: randomized block Krylov with Rayleigh-Ritz, on the batched product machinery.

Musco & Musco (2015), "Randomized block Krylov methods for stronger and faster approximate
singular value decomposition", NeurIPS; symmetric form with full reorthogonalisation:

    Q_1 = orth(H Omega),  W_j = H Q_j,  N_j = (I - P_{Q_1..Q_j}) W_j,  Q_{j+1} = orth(N_j),
    T = Q^T H Q, filled a block column at a time (T[:, j] = Q^T W_j; T symmetric),
    T = U Theta U^T, Ritz pairs (theta_i, Q u_i).

Because W_i lies in span(Q_1..Q_{i+1}), H Q - Q T = N_j E_j^T, so the residual of a Ritz pair is
||H v - theta v|| = ||N_j u_i^(j)|| (u_i^(j): the last block's rows of u_i), the block Lanczos
identity. Only the basis Q is kept (8 D bytes per column): not the products W, and no copies of
the basis as it grows. The depth (and the default block width) are capped by the memory
available, counting the basis, five D x p working blocks and the D x k result.

Each block costs one batched pass of p products. Depth grows until the top-k Ritz pairs have
relative residuals ||H v - theta v|| / |theta| <= tol, so the cost adapts to the spectrum. Where
passes over the data are affordable this resolves the spectrum itself, which a single-pass sketch
at s = 2k does only coarsely.
"""

from __future__ import annotations

import numpy as np

from hessian._checks import check_k, memory_budget, renamed
from hessian.operators.counting import CountingOperator
from hessian.solvers.linalg import orth
from hessian.solvers.result import EigenResult, order_by_magnitude
from hessian.solvers.sketching_matrices import STREAM_RIGHT, sketching_matrix

#: D x p float64 blocks needed besides the basis: W, N, a projection and orth's temporaries
_WORK_BLOCKS = 5


def block_krylov_eigh(
    op,
    k: int,
    *,
    block: int | None = None,
    tol: float = 1e-2,
    max_depth: int = 12,
    seed: int = 0,
    noise: str = "gaussian",
    vectors_per_call: int | None = None,
    memory: int | None = None,
    block_size: int | None = None,
) -> EigenResult:
    """Top-k eigenpairs (by |lambda|) to a residual tolerance by randomized block Krylov.

    Args:
        op: symmetric operator with ``.shape`` and ``@`` (see ``seigh``).
        k: eigenpairs wanted.
        block: Krylov block width p (default max(64, k // 3), capped at D, and halved down
            to 8 while a basis two blocks deeper than k does not fit in ``memory``): the
            number of products per data pass. At k = 355 on mnist_mini, 128 reached tol in 8
            passes.
        tol: stop when every top-k Ritz pair has ||H v - theta v|| / |theta| <= tol.
        max_depth: at most this many blocks (then the result is returned with
            ``info["converged"] = False``).
        seed, noise: the starting block Omega (stream 0 of ``seed``).
        vectors_per_call: products per operator call (default the operator's vectors per
            pass, at most 256; formerly ``block_size``).
        memory: bytes the basis may use (default 80 % of the memory available now); the depth
            is capped to fit, and ``info["depth_limit"]`` says which cap applied.

    Returns:
        EigenResult; ``info`` holds the depth, the basis size and the residuals.

    Raises:
        MemoryError: not even a basis of k vectors (plus working blocks) fits in ``memory``.
    """
    A = CountingOperator(op)
    D = A.D
    k = check_k(k, D)
    p = min(D, int(block) if block else max(64, k // 3))
    if p < 1:
        raise ValueError(f"block must be >= 1, got {p}")
    if tol <= 0 or max_depth < 1:
        raise ValueError(f"tol must be > 0 and max_depth >= 1, got {tol}, {max_depth}")
    b = A.vectors_per_call(
        renamed(vectors_per_call, block_size, new="vectors_per_call", old="block_size")
    )
    budget = memory_budget(memory)

    def blocks_that_fit(p):  # basis blocks that fit in the budget, besides work and the result
        return budget // (8 * D * p) - _WORK_BLOCKS - -(-k // p)

    while block is None and p > 8 and blocks_that_fit(p) < -(-k // p) + 2:  # default width:
        p //= 2  # narrower blocks, so that a few Krylov steps beyond k vectors fit
    fit, need = blocks_that_fit(p), -(-k // p)
    if fit < need:
        raise MemoryError(
            f"the accurate mode needs a float64 basis of at least {need} blocks of {p} vectors "
            f"at D = {D:,} ({(2 * need + _WORK_BLOCKS) * 8 * D * p / 2**30:.1f} GiB with its "
            f"working blocks and the k eigenvectors); {budget / 2**30:.1f} GiB are available. "
            "Use the single-pass sketch (seigh, or the out-of-core sketch) at this size."
        )
    depth_cap = min(max(max_depth, need), fit, -(-D // p))  # always deep enough for k vectors
    depth_limit = "memory" if fit < min(max(max_depth, need), -(-D // p)) else "max_depth"

    def apply(X):
        return np.concatenate([A(X[:, i : i + b]) for i in range(0, X.shape[1], b)], axis=1)

    Q = np.empty((D, min(D, p * depth_cap)))
    T = np.zeros((Q.shape[1], Q.shape[1]))
    Omega = sketching_matrix(noise, p, D, seed, STREAM_RIGHT).rows(0, p).T
    Q1 = orth(apply(Omega))
    n = Q1.shape[1]
    Q[:, :n] = Q1
    del Omega, Q1
    lo, depth, converged, res = 0, 1, False, np.array([np.inf])
    while True:
        W = apply(Q[:, lo:n])  # H Q_j
        C = Q[:, :n].T @ W  # T's block column j
        T[:n, lo:n] = C
        T[lo:n, :n] = C.T
        W -= Q[:, :n] @ C  # N_j = (I - Q Q^T) W_j, projected twice ("twice is enough",
        W -= Q[:, :n] @ (Q[:, :n].T @ W)  # Giraud et al. 2005)
        if n >= k:
            theta, U = order_by_magnitude(*np.linalg.eigh(T[:n, :n]))
            theta, U = theta[:k], U[:, :k]
            R = W @ U[lo:n]  # (H Q - Q T) U = N_j U_j
            res = np.linalg.norm(R, axis=0) / np.maximum(np.abs(theta), np.finfo(float).tiny)
            del R
            if res.max() <= tol:
                converged = True
                break
        if depth >= depth_cap or n >= D:
            break
        width = min(p, Q.shape[1] - n)
        Qn = orth(W)[:, :width]
        Q[:, n : n + width] = Qn  # T[j+1, j] = Q_{j+1}^T W_j comes with the next block column
        del W, Qn
        lo, n, depth = n, n + width, depth + 1
    return EigenResult(
        theta,
        Q[:, :n] @ U,
        n_hvp=A.n_hvp,
        n_passes=A.n_passes,
        method="randomized block Krylov + Rayleigh-Ritz",
        info={
            "k": k,
            "block": p,
            "depth": depth,
            "basis": n,
            "depth_limit": None if converged else depth_limit,
            "tol": tol,
            "converged": converged,
            "max_residual": float(res.max()),
            "median_residual": float(np.median(res)),
            "seed": seed,
            "noise": noise,
        },
    )
