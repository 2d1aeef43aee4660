"""The dense algebra that the eigensolvers share, all of it in float64.

- ``orth``: an orthonormal basis of range(Y) (CholeskyQR2 through the Gram matrix, or QR);
- ``gram_orth``: T with Y T orthonormal, from the Gram matrix G = Y^T Y alone (for a Y that
  lives on disk or in the operator's dtype);
- ``symmetric_eigh``: eigh of the symmetrised matrix, in |lambda| order;
- ``core`` and ``solve_from_gram``: the core solve of the single-pass sketch, shared by the
  in-memory ``seigh`` and the streamed out-of-core solve;
- ``nested_overlaps``: (1/k) ||C[:k, :k]||_F^2 for every k (overlaps of nested subspaces);
- ``unit_columns``: a block of columns of the identity (dense references, exact diagonals);
- ``dense_threads``: the BLAS threads a solve of a given size runs its dense algebra on.
"""

from __future__ import annotations

import contextlib

import numpy as np
import scipy.linalg
from threadpoolctl import threadpool_limits

from hessian.solvers.result import order_by_magnitude

#: D-sized float64 entries (D x columns) up to which a solve's dense algebra runs on one BLAS
#: thread (``dense_threads``)
ONE_BLAS_THREAD_ENTRIES = 1 << 24

#: cond(Y) above which one Gram pass (Q^T Q - I ~ eps cond(Y)^2) is followed by a second
GRAM_TWICE_ABOVE = 100.0


def symmetric_eigh(C: np.ndarray):
    """eigh of the symmetrised matrix (C + C^T)/2 in float64, ordered by |lambda| descending."""
    C = np.asarray(C, dtype=np.float64)
    w, U = np.linalg.eigh((C + C.T) / 2)
    return order_by_magnitude(w, U)


def orth(Y: np.ndarray) -> np.ndarray:
    """Orthonormal basis of range(Y) in float64.

    Tall and well-conditioned (cond(Y) < 1e5): CholeskyQR2 through the Gram matrix, two passes
    (Fukaya et al. 2014), orthogonal to ~1e-15 and ~25x faster than Householder QR for
    1M x 25 here (0.13 s against 3.4 s). Otherwise Householder QR (reduced).
    One pass leaves Q orthogonal to ~eps cond(Y)^2, so the second is skipped when cond(Y) <= 100
    (a sketch of a flat spectrum: 1.7 s of 3.7 s at 1M x 125).
    """
    Y = np.asarray(Y, dtype=np.float64)
    D, r = Y.shape
    if D >= 4 * r and r > 0:
        w, V = np.linalg.eigh(Y.T @ Y)
        if w[0] > w[-1] * 1e-10:  # cond(Y)^2 < 1e10
            Q = Y @ (V / np.sqrt(w))
            if w[0] >= w[-1] / GRAM_TWICE_ABOVE**2:  # Q^T Q = I to ~1e-12 already
                return Q
            w2, V2 = np.linalg.eigh(Q.T @ Q)
            return Q @ (V2 / np.sqrt(w2))
    return np.linalg.qr(Y, mode="reduced")[0]


def gram_orth(G: np.ndarray) -> tuple[np.ndarray, float]:
    """T with (Y T)^T (Y T) = I from G = Y^T Y, dropping numerically null directions."""
    w, W = np.linalg.eigh((G + G.T) / 2)
    keep = w > w[-1] * 1e-12
    if not keep.any():
        raise FloatingPointError("the outer sketch is zero: the operator vanished on every probe")
    return W[:, keep] / np.sqrt(w[keep]), float(np.sqrt(w[-1] / w[keep][0]))


def solve_from_gram(G: np.ndarray, second_gram, Z: np.ndarray, P_R: np.ndarray, k: int):
    """Steps 3-5 from G = Y^T Y, without forming Q (shared by ``seigh`` and the streamed solve).

    Q = Y T with T from ``gram_orth(G)``; when cond(Y) > ``GRAM_TWICE_ABOVE`` a second pass
    T <- T gram_orth(second_gram(T)), second_gram(T) = (Y T)^T (Y T) from the products
    (CholeskyQR2, Fukaya et al. 2014). Phi_L Q = Z[:, :r] T (the outer columns are the first r
    inner measurements), Phi_R Q = P_R T (P_R = Phi_R Y), C = core(...), C = U L U^T.

    Returns:
        eigenvalues (|lambda| order), M = T U_k (the eigenvectors are Y M), and info (rank,
        cond_Y, passes).
    """
    r = G.shape[0]
    T, cond = gram_orth(G)
    passes = 1
    if cond > GRAM_TWICE_ABOVE:
        T = T @ gram_orth(second_gram(T))[0]
        passes = 2
    w, U = symmetric_eigh(core(Z[:, :r] @ T, Z, P_R @ T))
    info = {"rank": int(T.shape[1]), "cond_Y": float(cond), "passes": passes}
    return w, T @ U[:, : min(k, len(w))], info


def core(PhiL_Q: np.ndarray, Z: np.ndarray, PhiR_Q: np.ndarray) -> np.ndarray:
    """C = (Phi_L Q)^+ Z ((Phi_R Q)^+)^T by two least-squares solves in float64, symmetrised.

    From Z ~ (Phi_L Q) C (Phi_R Q)^T: X = (Phi_L Q)^+ Z = C (Phi_R Q)^T, then
    C^T = (Phi_R Q)^+ X^T.
    """
    X = scipy.linalg.lstsq(np.asarray(PhiL_Q, np.float64), np.asarray(Z, np.float64))[0]
    C = scipy.linalg.lstsq(np.asarray(PhiR_Q, np.float64), X.T)[0].T
    return (C + C.T) / 2


def nested_overlaps(C: np.ndarray) -> np.ndarray:
    """(1/k) ||C[:k, :k]||_F^2 for every k = 1..n of an n x n matrix C, from the diagonal of the
    2-D prefix sum of C**2.

    With C = V[S, :] (mask rows of an eigenbasis) it is the mask's overlap for every k; with
    C = A^T B (two orthonormal bases) the subspace overlap of their first k columns.
    """
    P = np.cumsum(np.cumsum(C * C, axis=0), axis=1)
    return np.diagonal(P) / np.arange(1, P.shape[0] + 1)


def unit_columns(D: int, i: int, j: int) -> np.ndarray:
    """Columns i..j-1 of the D x D identity."""
    E = np.zeros((D, j - i))
    E[np.arange(i, j), np.arange(j - i)] = 1.0
    return E


def dense_threads(D: int, columns: int):
    """The BLAS threads for a solve whose dense arrays are D x ``columns``: one when they hold
    at most ``ONE_BLAS_THREAD_ENTRIES`` entries, else BLAS's own setting (a context manager).

    Between products, torch's threads and BLAS's spin against each other on the same cores; the
    small GEMMs of a small solve lose more to that than a second BLAS thread gains. Measured on
    2 cores (accurate_eigh, k = 100 unless said, one BLAS thread against two): D = 7,030 (k =
    355: 5.8M entries) 1.7 s against 2.7 s, k = 20 0.19 s against 0.5 s; D = 50,698 (18M) 3.4 s
    against 3.7 s; D = 250,378 (89M) 16 s against 13.5 s; D = 677,610 69 s against 63 s. Alone,
    without products in between, two threads are 1.3-1.5x faster at every one of these sizes.
    """
    if D * columns <= ONE_BLAS_THREAD_ENTRIES:
        return threadpool_limits(1, user_api="blas")
    return contextlib.nullcontext()
