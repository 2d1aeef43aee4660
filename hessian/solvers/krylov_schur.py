"""Thick-restart block Lanczos (block Krylov-Schur) for the top-k eigenpairs by |lambda|.

Stewart (2001), "A Krylov-Schur algorithm for large eigenproblems", SIAM J. Matrix Anal. Appl.
23(3); Wu & Simon (2000), "Thick-restart Lanczos method for large symmetric eigenvalue
problems", SIAM J. Matrix Anal. Appl. 22(2); block form as in Zhou & Saad (2008). The relation
kept between steps, with Q (D x n) orthonormal, the next block X (D x b) orthogonal to it:

    H Q = Q T + X B,    T = Q^T H Q (n x n, symmetric),  B (b x n).

A step multiplies the next block (b products in one batched pass: the unit of work), projects
out the basis twice ("twice is enough", Giraud et al. 2005), and appends: C = [Q X]^T H X is
T's new block column, H X - [Q X] C = X' R gives the next block X' and B' = [0 R]. A Ritz pair
(theta, Q u) of T has residual ||H Q u - theta Q u|| = ||B u||, known without products. When the
basis is full (n_max columns), it restarts thickly: the ``keep`` Ritz vectors of largest |theta|
become the basis (Q <- Q U_keep, T <- diag(theta), B <- B U_keep) and X stays as it is, so the
relation (and all that was learnt about the wanted pairs) holds across the restart.

Why this and not Chebyshev-filtered subspace iteration or LOBPCG: the Hessians here are
indefinite, with both ends wanted by |lambda|, a few class outliers 10-100x above a flat bulk, and
near-ties at k (|lambda_355| / |lambda_356| = 1.0006 on mnist_mini). A Krylov space converges to
both ends at once and at the rate the gaps allow, without a filter interval to tune; measured on
a flat synthetic spectrum and on mnist-like spectra with outliers, it took 2-18 products per
eigenpair, Chebyshev filtering 50-400 (its polynomial degree is set by the whole dynamic range;
docs/method.md, "The accurate solver").

The driver (``run``) holds only small matrices (n_max x n_max); everything D-sized is in a
``Basis``: ``InMemoryBasis`` in ``hessian.solvers.in_memory_basis``, a Zarr-backed one in
``hessian.out_of_core.accurate_solve``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from hessian.solvers.certificates import RESIDUAL_TOL, SUBSPACE_TOL, Certificate, certify

#: the residuals at which a pair is resolved as far as is useful: iterate no further
RESIDUAL_FLOOR = 1e-3


class Basis(Protocol):
    """Where the D-sized vectors live. Columns 0..n-1 are Q, n..n+b-1 the next block X."""

    D: int
    block: int
    n_max: int

    def step(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """W = H X (X = columns n..n+b); orthogonalise W against columns 0..n+b; write the new
        block X' into columns n+b..n+2b. Returns (C, R): C = [Q X]^T H X ((n+b) x b) and
        W - [Q X] C = X' R (R: b x b)."""

    def restart(self, n: int, U: np.ndarray, theta: np.ndarray) -> None:
        """Columns 0..m-1 <- Q[:, :n] U (U: n x m orthonormal, the Ritz vectors of the Ritz
        values ``theta``); block n..n+b moves to m..m+b."""


@dataclass
class Settings:
    """The solver's knobs (``default_sizes`` fills the sizes in).

    k: pairs wanted; block: b, products per step; n_max: basis columns (including the next
    block) before a restart; keep: Ritz vectors kept at a restart; tol, subspace_tol: the
    certificate's tolerances (the run stops when the top-k are certified); max_products: the
    budget; floor: residual at which to stop even if a near-tie at k keeps the certificate short.
    """

    k: int
    block: int
    n_max: int
    keep: int
    tol: float = RESIDUAL_TOL
    subspace_tol: float = SUBSPACE_TOL
    max_products: int = 0
    floor: float = RESIDUAL_FLOOR

    def __post_init__(self):
        if self.keep < self.k or self.keep + 2 * self.block > self.n_max:
            raise ValueError(
                f"need k <= keep and keep + 2 block <= n_max, got k={self.k}, keep={self.keep}, "
                f"block={self.block}, n_max={self.n_max}"
            )
        if not (0 < self.tol < 1 and 0 < self.subspace_tol < 1):
            raise ValueError(f"tol and subspace_tol must be in (0, 1), got {self.tol}, "
                             f"{self.subspace_tol}")  # fmt: skip


def default_block(k: int, per_pass: int) -> int:
    """Products per step: 8 for every 160 pairs wanted (at least 8), at most 64 and the
    operator's vectors per pass.

    A smaller block converges in fewer products and keeps a narrower basis; a larger one makes
    fewer, cheaper-per-vector passes. Measured to certification on 2 cores (block: products,
    wall): a 250,378-parameter MLP, k = 100: 8: 1,338, 53 s; 16: 2,018, 72 s; 32: 2,946, 86 s;
    mnist_mini k = 20: 8: 110, 0.12 s; 32: 182, 0.32 s; k = 355: 8: 714, 1.8 s; 16: 770,
    1.45 s; 32: 866, 1.7 s; 64: 1,026, 2.3 s; wide_mlp out of core, k = 100: 8 beat 32
    (BENCHMARKS.md).
    """
    return int(max(1, min(8 * max(1, round(k / 160)), 64, per_pass)))


def default_sizes(k: int, block: int, D: int) -> tuple[int, int]:
    """(n_max, keep): a basis of max(2k + 4b, k + 8b) columns, at most D, a multiple of b,
    and ``default_keep`` Ritz vectors kept at a restart."""
    b = block
    n_max = min(max(2 * k + 4 * b, k + 8 * b), D)
    n_max = max(b * (n_max // b), k + 3 * b)  # room for keep >= k and two blocks
    return int(n_max), default_keep(k, b, n_max)


def default_keep(k: int, b: int, n_max: int) -> int:
    """Ritz vectors kept at a restart: k and half of the room beyond k and two blocks, rounded
    to a multiple of b when one lies in [k, n_max - 2b]: the basis then keeps its blocks on
    the out-of-core store's column chunks, whose passes read whole chunk files."""
    keep = k + max(0, (n_max - 2 * b - k) // 2)
    down, up = b * (keep // b), b * -(-keep // b)
    if down >= k:
        return int(down)
    return int(up if up + 2 * b <= n_max else keep)


def budget_products(k: int) -> int:
    """Default product budget: max(2000, 60 k)."""
    return max(2000, 60 * k)


@dataclass
class State:
    """The small matrices of the relation H Q = Q T + X B, and the counters. All a resumed run
    needs besides the basis."""

    n: int
    T: np.ndarray
    B: np.ndarray
    products: int = 0
    steps: int = 0
    restarts: int = 0
    checks: int = 0
    history: list = field(default_factory=list)  # (products, max top-k rel. residual)

    @classmethod
    def start(cls, b: int) -> State:
        return cls(0, np.zeros((0, 0)), np.zeros((b, 0)))


@dataclass
class Outcome:
    """What ``run`` returns: the top-k Ritz values, their coefficients U (n x k) in the basis,
    the certificate, and whether it converged."""

    theta: np.ndarray
    U: np.ndarray
    n: int
    certificate: Certificate
    converged: bool
    state: State


def ritz(state: State) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ritz values (|theta| descending), vectors U of T, and absolute residuals ||B u||."""
    T = (state.T + state.T.T) / 2
    w, U = np.linalg.eigh(T)
    order = np.lexsort((-w, -np.abs(w)))
    w, U = w[order], U[:, order]
    return w, U, np.linalg.norm(state.B @ U, axis=0)


def _certify(s: Settings, w, res) -> Certificate:
    return certify(w, res, s.k, tol=s.tol, subspace_tol=s.subspace_tol, source="krylov")


def run(basis: Basis, s: Settings, state: State, *, save=None, progress=None) -> Outcome:
    """Iterate from ``state`` until the top-k are certified, resolved to the floor, or the
    budget is spent. ``save(state)`` is called after every step (resumability); ``progress(
    state, max_residual)`` after every check."""
    b = s.block
    budget = s.max_products or budget_products(s.k)
    per_cycle = max(1, (s.n_max - s.keep - b) // b)
    check_every = max(1, per_cycle // 4)
    since_check = 0
    while True:
        full = state.n + 2 * b > s.n_max
        due = state.n >= s.k and (since_check >= check_every or full)
        out_of_budget = state.products + b > budget
        if due or (out_of_budget and state.n >= s.k):
            w, U, res = ritz(state)
            cert = _certify(s, w, res)
            state.checks += 1
            since_check = 0
            top = res[: s.k] / np.maximum(np.abs(w[: s.k]), np.finfo(float).tiny)
            state.history.append((state.products, float(top.max())))
            if progress is not None:
                progress(state, float(top.max()), cert.certified_rank)
            if cert.certified_rank >= s.k or top.max() <= s.floor * s.tol or out_of_budget:
                done = bool(cert.certified_rank >= s.k or top.max() <= s.floor * s.tol)
                return Outcome(w[: s.k], U[:, : s.k], state.n, cert, done, state)
            if full:
                m = s.keep
                basis.restart(state.n, U[:, :m], w[:m])
                state.T = np.diag(w[:m])
                state.B = state.B @ U[:, :m]
                state.n = m
                state.restarts += 1
                if save is not None:
                    save(state)
                continue
        elif out_of_budget:  # not even k columns within the budget
            w, U, res = ritz(state)
            cert = _certify(s, w, res)
            kk = min(s.k, state.n)
            return Outcome(w[:kk], U[:, :kk], state.n, cert, False, state)
        n = state.n
        C, R = basis.step(n)
        T = np.zeros((n + b, n + b))
        T[:n, :n] = state.T
        T[:, n:] = C
        T[n:, :n] = C[:n].T
        T[n:, n:] = (C[n:] + C[n:].T) / 2
        B = np.zeros((b, n + b))
        B[:, n:] = R
        state.n, state.T, state.B = n + b, T, B
        state.products += b
        state.steps += 1
        since_check += 1
        if save is not None:
            save(state)


def cgs2_from_gram(P: np.ndarray, G: np.ndarray, WW: np.ndarray):
    """Classical Gram-Schmidt twice, from one pass's inner products.

    With P = Q^T W, WW = W^T W and G = Q^T Q (the stored basis' Gram, ~I), the two projections
    W1 = W - Q P, W2 = W1 - Q (Q^T W1) combine to W2 = W - Q C with C = 2P - G P (as Q^T W1 =
    P - G P), and W2^T W2 = WW - C^T P - P^T C + C^T G C. Returns (C, R) with W2 = X' R, R the
    Cholesky factor of that Gram (shifted by its rounding level if it is not positive definite).
    """
    C = 2 * P - G @ P
    S = WW - C.T @ P - P.T @ C + C.T @ G @ C
    S = (S + S.T) / 2
    eps = np.finfo(float).eps * max(np.trace(WW), np.finfo(float).tiny) * 16
    for shift in (0.0, eps, 1e3 * eps):
        try:
            return C, np.linalg.cholesky(S + shift * np.eye(len(S))).T
        except np.linalg.LinAlgError:
            continue
    w, V = np.linalg.eigh(S)  # numerically rank-deficient: a square-root factor
    return C, (V * np.sqrt(np.maximum(w, eps))).T


def rotated_gram(G: np.ndarray, n: int, b: int, U: np.ndarray) -> np.ndarray:
    """The Gram matrix of [Q U, X] from that of [Q, X] (Q: n columns, X: b): U^T G U and its
    coupling to X; the rest of G is zero (no column beyond m + b is in use)."""
    m = U.shape[1]
    Gx = G[:n, n : n + b]
    newG = np.zeros_like(G)
    newG[:m, :m] = U.T @ G[:n, :n] @ U
    newG[:m, m : m + b] = U.T @ Gx
    newG[m : m + b, :m] = (U.T @ Gx).T
    newG[m : m + b, m : m + b] = G[n : n + b, n : n + b]
    return newG


def start_block(D: int, b: int, seed: int, warm_start=None) -> np.ndarray:
    """The first block: Gaussian (stream ``STREAM_KRYLOV`` of ``seed``), or V G for a warm
    start V (D x k, e.g. a single-pass sketch's eigenvectors) and a Gaussian G (k x b)."""
    from hessian.solvers.sketching_matrices import STREAM_KRYLOV, sketching_matrix

    if warm_start is None:
        return sketching_matrix("gaussian", b, D, seed, STREAM_KRYLOV).rows(0, b).T
    V = np.asarray(warm_start, dtype=np.float64)
    G = np.random.default_rng([seed, STREAM_KRYLOV]).standard_normal((V.shape[1], b))
    return V @ G
