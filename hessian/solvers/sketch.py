"""SEIGH: single-pass sketched symmetric eigendecomposition, and its Nystrom and power variants.

Single pass (Tropp, Yurtsever, Udell & Cevher 2019, "Streaming low-rank matrix approximation with
an application to scientific simulation", §4 and §5; as used by Fernandez et al. 2025 via skerch;
docs/method.md §2):

1. Independent test matrices Phi_R, Phi_L (s x D) from one seed, streams 0 and 1.
2. s measurements y_i = H phi_i (phi_i the rows of Phi_R), in blocks of b per data pass;
   inner sketch Z = Phi_L [y_1 .. y_s] (s x s); outer sketch Y = [y_1 .. y_r] (D x r), recycled
   from the first r = k + p measurements, so the whole sketch costs s products.
3. Q = orth(Y) (D x r).
4. Core: H ~ Q C Q^T and Z ~ (Phi_L Q) C (Phi_R Q)^T, so C = (Phi_L Q)^+ Z ((Phi_R Q)^+)^T by two
   least-squares solves in float64, then symmetrised, C <- (C + C^T)/2.
5. eigh(C) = U L U^T; V = Q U; ordered by |lambda| descending; the top k are returned.

``power=q > 0`` replaces the single-pass core by q passes of subspace iteration, Q <- orth(H Q),
and a Rayleigh-Ritz projection Q^T H Q (Halko, Martinsson & Tropp 2011, Alg. 4.3/5.3): (q+1) r
products. ``nystrom`` is the PSD variant (Tropp, Yurtsever, Udell & Cevher 2017, "Fixed-rank
approximation of a positive-semidefinite matrix from streaming data", Alg. 3): r products, no inner
sketch.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

from hessian import defaults
from hessian._checks import check_k, memory_budget, renamed
from hessian.operators.counting import CountingOperator
from hessian.solvers.certificates import RESIDUAL_TOL, SUBSPACE_TOL, certify_by_products
from hessian.solvers.linalg import core, dense_threads, orth, solve_from_gram, symmetric_eigh
from hessian.solvers.result import EigenResult
from hessian.solvers.sketching_matrices import (
    STREAM_RIGHT,
    TILE_COLS,
    sketch_pair,
    sketching_matrix,
)

#: ``vectors_per_call`` was called ``block_size`` (still accepted)
_OLD_CALL_NAME = {"new": "vectors_per_call", "old": "block_size"}


def _measure(op: CountingOperator, Phi, start: int, stop: int, block: int):
    """Yield (first row, (H Phi[rows]^T)^T) for consecutive blocks of rows of Phi: products
    as rows (m, D), in the operator's dtype (the test vectors are drawn in it: +-1 and N(0, 1)
    draws are the same matrix in either)."""
    for i in range(start, stop, block):
        j = min(stop, i + block)
        yield i, op.rows(Phi.rows(i, j, dtype=op.dtype))


def seigh(
    op,
    k: int,
    s: int | None = None,
    *,
    seed: int = 0,
    noise: str = "gaussian",
    oversample: int | None = None,
    power: int = 0,
    vectors_per_call: int | None = None,
    memory: int | None = None,
    certify: bool = True,
    tol: float = RESIDUAL_TOL,
    subspace_tol: float = SUBSPACE_TOL,
    block_size: int | None = None,
) -> EigenResult:
    """Top-k eigenpairs of a symmetric operator by a single-pass sketch.

    Args:
        op: anything with ``.shape == (D, D)`` and ``op @ X`` for X (D, m): a
            ``HessianOperator``, a dense array, a scipy ``LinearOperator``.
        k: eigenpairs wanted (ordered by |lambda|).
        s: inner measurements (default 2k, the paper's setting); s >= k + oversample.
        seed: defines both test matrices.
        noise: test matrix kind: ``gaussian``, ``rademacher``, ``ssrft`` or ``sparse``.
        oversample: p extra outer columns; the core is (k+p) x (k+p) and k pairs are kept.
            The outer columns are recycled inner measurements, so p costs no products. Default
            min(k // 4, s - k): on mnist_mini at k = 355, s = 710 it lifts the subspace overlap
            with the exact eigenspace from 0.76 (p = 0, the paper's setting) to 0.80.
        power: q extra passes of subspace iteration with Rayleigh-Ritz (no inner sketch then).
        vectors_per_call: test vectors handed to the operator at a time (it makes as many
            passes over the data as its ``vectors_per_pass`` needs for them); default the
            operator's ``vectors_per_pass``, at most 256. Formerly ``block_size``.
        memory: bytes the sketch may hold (default 80 % of the memory available now): the
            outer sketch (D x r, the operator's dtype) and the eigenvectors (D x k, float64).
        certify: check the result with fresh products of a sample of 64 pairs (the leading
            48 and 16 spread; ``hessian.solvers.certificates``), certified to ``tol`` and
            ``subspace_tol``. They are counted in ``info["check_products"]``, not in n_hvp.

    Returns:
        EigenResult with eigenvalues (k,), eigenvectors (D, k), the products used and its
        ``certificate``.

    Raises:
        MemoryError: before any product, when the sketch and its eigenvectors do not fit in
            ``memory``; it names the GiB needed (the out-of-core sketch has no such limit).
    """
    A = CountingOperator(op)
    D = A.D
    k = check_k(k, D)
    s = defaults.sketch_size(k) if s is None else int(s)
    if oversample is None:
        oversample = defaults.oversampling(k, s)
    r = k + int(oversample)
    if oversample < 0 or power < 0:
        raise ValueError(f"oversample and power must be >= 0, got {oversample}, {power}")
    if r > D:
        raise ValueError(f"k + oversample = {r} exceeds D = {D}")
    if power == 0 and not r <= s <= D:
        raise ValueError(f"s must satisfy k + oversample = {r} <= s <= D = {D}, got s = {s}")
    b = A.vectors_per_call(renamed(vectors_per_call, block_size, **_OLD_CALL_NAME))
    need = D * (r * (A.dtype.itemsize if power == 0 else 16) + 8 * k)
    budget = memory_budget(memory)
    if need > budget:
        raise MemoryError(
            f"the in-memory sketch needs {need / 2**30:.1f} GiB at D = {D:,}, k = {k} (outer "
            f"sketch D x {r} and eigenvectors D x {k}); {budget / 2**30:.1f} GiB are available. "
            "Use the out-of-core sketch (hessian.out_of_core.sketch) at this size."
        )
    with dense_threads(D, r + k):
        if power > 0:
            Phi_R = sketching_matrix(noise, r, D, seed, STREAM_RIGHT)
            Yt = np.empty((r, D))  # Y^T: a block of products is a block of rows
            for i, Yb in _measure(A, Phi_R, 0, r, b):
                Yt[i : i + len(Yb)] = Yb
            for _ in range(power):
                Q = orth(Yt.T)
                for i in range(0, r, b):  # each block copied out at once (a reused host buffer)
                    Yt[i : i + b] = A.rows(Q[:, i : i + b].T)
            w, U = symmetric_eigh(Yt @ Q)
            V = Q @ U[:, :k]
            method = f"subspace iteration (q={power}) + Rayleigh-Ritz"
        else:
            Phi_R, Phi_L = sketch_pair(noise, s, D, seed)  # sparse sign: each tile drawn once
            sparse = hasattr(Phi_R, "cache")
            Yt = np.empty((r, D), dtype=A.dtype)  # Y^T, as measured: a block is a block of rows
            Z, P_R = np.empty((s, s)), np.empty((s, r))  # Phi_L [y_1 .. y_s], Phi_R Y
            for i, Yb in _measure(A, Phi_R, 0, s, b):
                m = len(Yb)
                Z[:, i : i + m] = Phi_L.apply(Yb.T)
                if i < r:
                    Yt[i : min(r, i + m)] = Yb[: min(r, i + m) - i]
                    if sparse:  # cheap per block; a dense kind would draw all of Phi_R each time
                        P_R[:, i : min(r, i + m)] = Phi_R.apply(Yb[: min(r, i + m) - i].T)
            if not sparse:
                P_R = Phi_R.apply(Yt.T)
            w, V = _solve_by_gram(Yt, Z, P_R, k)
            if V is None:  # the Householder route: Q formed, orthonormal whatever cond(Y)
                Q = orth(Yt.T)
                w, U = symmetric_eigh(core(Phi_L.apply(Q), Z, Phi_R.apply(Q)))
                V = Q @ U[:, :k]
            method = "seigh (single pass)"
        n_hvp, n_passes = A.n_hvp, A.n_passes
        cert = (
            certify_by_products(A, w[:k], V, tol=tol, subspace_tol=subspace_tol)
            if certify
            else None
        )
    return EigenResult(
        w[:k],
        V,
        n_hvp=n_hvp,
        n_passes=n_passes,
        method=method,
        certificate=cert,
        info={
            "k": k,
            "s": s,
            "oversample": oversample,
            "power": power,
            "noise": noise,
            "seed": seed,
            "vectors_per_call": b,
            "check_products": A.n_hvp - n_hvp,
        },
    )


def _column_chunks(Yt: np.ndarray, width: int = TILE_COLS):
    """(start, float64 copy of Yt[:, start:start+width]) over the columns of Yt, one buffer."""
    buf = np.empty((Yt.shape[0], min(width, Yt.shape[1])))
    for a in range(0, Yt.shape[1], width):
        Yc = buf[:, : min(width, Yt.shape[1] - a)]
        np.copyto(Yc, Yt[:, a : a + width])
        yield a, Yc


def _solve_by_gram(Yt: np.ndarray, Z: np.ndarray, P_R: np.ndarray, k: int):
    """``solve_from_gram`` in memory: G accumulates in float64 over column chunks of Y^T, so Y
    stays in the products' dtype and no D x r float64 array is made besides V = Y M: at D = 1M,
    r = 125 this saves ~2 GB of fresh pages and ~5 s. Returns (None, None) where the Gram route
    does not hold (cond(Y) > 1e5 or rank(Y) < r); ``seigh`` then forms Q by Householder QR.
    """
    r, D = Yt.shape
    if D < 4 * r:
        return None, None
    G = np.zeros((r, r))
    for _, Yc in _column_chunks(Yt):
        G += Yc @ Yc.T
    if not G.any():
        return None, None

    def second_gram(T):
        G2 = np.zeros((T.shape[1],) * 2)
        for _, Yc in _column_chunks(Yt):
            Qc = T.T @ Yc
            G2 += Qc @ Qc.T
        return G2

    w, M, info = solve_from_gram(G, second_gram, Z, P_R, k)
    if info["rank"] < r or info["cond_Y"] > 1e5:
        return None, None
    V = np.empty((D, M.shape[1]))
    for a, Yc in _column_chunks(Yt):
        np.matmul(Yc.T, M, out=V[a : a + Yc.shape[1]])
    return w, V


def nystrom(
    op,
    k: int,
    *,
    seed: int = 0,
    noise: str = "gaussian",
    oversample: int = 0,
    vectors_per_call: int | None = None,
    block_size: int | None = None,
) -> EigenResult:
    """Top-k eigenpairs of a PSD operator (e.g. the GGN) by the stable Nystrom sketch.

    H ~ Y (Omega^T Y)^+ Y^T with Y = H Omega, Omega = Phi_R[:r]^T orthonormalised (r = k + p).
    Stabilised by a shift nu = eps ||Y||_F: B = Omega^T (Y + nu Omega) = L L^T (Cholesky),
    F = (Y + nu Omega) L^{-T} = U S W^T, lambda = max(S^2 - nu, 0), V = U.
    Tropp, Yurtsever, Udell & Cevher (2017), Alg. 3. r products, one kind of measurement.

    Raises:
        ValueError: if the operator is not PSD (the Cholesky factorisation fails).
    """
    A = CountingOperator(op)
    D = A.D
    k = check_k(k, D)
    r = k + int(oversample)
    if r > D:
        raise ValueError(f"k + oversample = {r} exceeds D = {D}")
    b = A.vectors_per_call(renamed(vectors_per_call, block_size, **_OLD_CALL_NAME))
    Phi = sketching_matrix(noise, r, D, seed, STREAM_RIGHT)
    Omega = Phi.rows(0, r).T
    Y = np.concatenate([A(Omega[:, i : i + b]) for i in range(0, r, b)], axis=1)
    Omega, R = np.linalg.qr(Omega)  # Y R^{-1} = H Omega_q
    Y = scipy.linalg.solve_triangular(R, Y.T, trans="T", lower=False).T
    nu = np.finfo(np.float64).eps * np.sqrt(D) * np.linalg.norm(Y)
    Y_nu = Y + nu * Omega
    B = Omega.T @ Y_nu
    try:
        L = np.linalg.cholesky((B + B.T) / 2)
    except np.linalg.LinAlgError as e:
        raise ValueError(
            "Nystrom needs a positive semi-definite operator (e.g. the GGN); Omega^T H Omega is "
            "not PSD here. Use seigh for the indefinite Hessian."
        ) from e
    F = scipy.linalg.solve_triangular(L, Y_nu.T, lower=True).T
    U, S, _ = np.linalg.svd(F, full_matrices=False)
    lam = np.maximum(S**2 - nu, 0.0)
    return EigenResult(
        lam[:k],
        U[:, :k],
        n_hvp=A.n_hvp,
        n_passes=A.n_passes,
        method="nystrom",
        info=dict(k=k, oversample=oversample, noise=noise, seed=seed, vectors_per_call=b),
    )
