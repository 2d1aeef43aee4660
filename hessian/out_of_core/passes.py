"""Streamed passes over a solved sketch store: what the analysis needs from V without holding it.

``overlaps``: one pass forms V_c = Y_c M per row chunk and, for every mask (magnitude, many
random draws, ...), adds the chunk's rows to the overlap numerators for every k:
overlap_S(k) = (1/k) sum_{i: rank_S(i) < k} sum_{j < k} V[i, j]^2; and merges per-chunk top-k
candidates of the cumulative row norms for the best mask at every k. ``gather``: the rows of V
at given masks, and the best masks at chosen k. ``cross_overlap``: the subspace overlap of two
stored eigenbases for every k. ``aposteriori_error``: the a-posteriori Frobenius error of a
stored sketch. All run over row chunks (``hessian.out_of_core.row_chunks``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from hessian.defaults import APOSTERIORI_EPS, APOSTERIORI_PROBES
from hessian.operators.counting import CountingOperator
from hessian.out_of_core.row_chunks import blas_threads, fold, sum_parts
from hessian.out_of_core.solutions import open_solution
from hessian.solvers.accuracy import FrobeniusErrorEstimate, probes
from hessian.solvers.linalg import nested_overlaps


@dataclass
class StreamedOverlaps:
    """Overlap curves (index k-1 -> overlap at k) for named masks, and the best mask's curve."""

    curves: dict[str, np.ndarray]
    best: np.ndarray | None
    k_max: int
    seconds: float


def overlaps(
    url: str,
    masks: dict[str, np.ndarray],
    *,
    k_max: int | None = None,
    best: bool = True,
    scheduler="threads",
    num_workers: int = 2,
) -> StreamedOverlaps:
    """Overlap of each mask with the stored eigenvectors, for every k, in one streamed pass.

    Args:
        masks: name -> rank-ordered indices, 1-D (k_max,) or 2-D (draws, k_max) (e.g. random).
        k_max: largest k (default: the store's k, capped by the shortest mask).
        best: also the best mask's overlap for every k (top-k cumulative row norms of V).
    """
    store = open_solution(url)
    M = store.transform()
    k_max = M.shape[1] if k_max is None else int(k_max)
    sets = {n: np.atleast_2d(np.asarray(m, dtype=np.int64)) for n, m in masks.items()}
    for n, S in sets.items():
        if S.shape[1] < k_max:
            raise ValueError(f"mask {n!r} has {S.shape[1]} entries, fewer than k_max = {k_max}")
        if S.min() < 0 or S.max() >= store.settings.D:
            raise ValueError(f"mask {n!r} has indices outside 0..{store.settings.D - 1}")
    names = list(sets)
    rows = np.concatenate([sets[n][:, :k_max] for n in names])  # (n_rows, k_max)
    flat = rows.ravel()
    order = np.argsort(flat, kind="stable")
    sorted_idx = flat[order]
    row_of = order // k_max  # which mask row each entry belongs to
    pos_of = order % k_max  # its rank position in that mask
    n_rows = rows.shape[0]
    Mk = M[:, :k_max]
    t0 = time.perf_counter()
    blas = blas_threads(scheduler, num_workers)

    def chunk_part(ab):
        a, b = ab
        with threadpool_limits(blas, user_api="blas"):
            V = store.read_outer(a, b) @ Mk
        lo, hi = np.searchsorted(sorted_idx, [a, b])
        num = np.zeros((n_rows, k_max))
        if hi > lo:
            cum = np.cumsum(V[sorted_idx[lo:hi] - a] ** 2, axis=1)  # (m, k_max)
            cum[np.arange(k_max)[None, :] < pos_of[lo:hi, None]] = 0.0  # counts for k > pos
            np.add.at(num, row_of[lo:hi], cum)
        tops = None
        if best:
            cum_all = np.cumsum(np.square(V, out=V), axis=1, out=V)  # in place: V is done
            tops = [
                -np.sort(-cum_all[:, kk - 1])[:kk]
                if len(cum_all) <= kk
                else -np.sort(-np.partition(cum_all[:, kk - 1], len(cum_all) - kk)[-kk:])
                for kk in range(1, k_max + 1)
            ]
        return num, tops

    def combine(x, y):
        num = x[0] + y[0]
        if x[1] is None:
            return num, None
        tops = [
            np.concatenate([p, q]) if len(p) + len(q) <= kk else _top(p, q, kk)
            for kk, (p, q) in enumerate(zip(x[1], y[1], strict=True), start=1)
        ]
        return num, tops

    num, tops = fold(store.row_chunks(), chunk_part, combine, scheduler, num_workers)
    ks = np.arange(1, k_max + 1)
    curves, i = {}, 0
    for n in names:
        m = sets[n].shape[0]
        c = num[i : i + m] / ks
        curves[n] = c[0] if np.asarray(masks[n]).ndim == 1 else c
        i += m
    best_curve = None
    if best:
        best_curve = np.array([np.sort(t)[-kk:].sum() / kk for kk, t in zip(ks, tops, strict=True)])
    return StreamedOverlaps(curves, best_curve, k_max, time.perf_counter() - t0)


def _top(p: np.ndarray, q: np.ndarray, kk: int) -> np.ndarray:
    both = np.concatenate([p, q])
    return np.partition(both, len(both) - kk)[-kk:]


@dataclass
class Gathered:
    """Rows of the eigenvectors at given masks, and the best masks at chosen k (one pass)."""

    rows: dict[str, np.ndarray]  # name -> V[S, :k_max] in the mask's rank order
    best_masks: dict[int, np.ndarray]  # k -> the k rows with the largest ||V[i, :k]||^2
    best_rows: dict[int, np.ndarray]  # k -> V[best_masks[k], :k]


def gather(
    url: str,
    masks: dict[str, np.ndarray],
    *,
    best_ks=(),
    k_max: int | None = None,
    scheduler="threads",
    num_workers: int = 2,
) -> Gathered:
    """V[S, :k_max] for each 1-D mask S, and the best mask at each k in ``best_ks``.

    These are what the principal angles between a mask and the eigenspace need: for a size-k
    mask S, cos(theta) = singular values of V[S[:k], :k] (``metrics.principal_angles``).
    """
    store = open_solution(url)
    M = store.transform()
    k_max = M.shape[1] if k_max is None else int(k_max)
    Mk = M[:, :k_max]
    best_ks = sorted(set(int(k) for k in best_ks))
    if best_ks and not 1 <= best_ks[0] <= best_ks[-1] <= k_max:
        raise ValueError(f"best_ks must lie in 1..{k_max}, got {best_ks}")
    sets = {n: np.asarray(m, dtype=np.int64) for n, m in masks.items()}
    for n, S in sets.items():
        if S.ndim != 1 or S.size == 0 or S.min() < 0 or S.max() >= store.settings.D:
            raise ValueError(f"mask {n!r} must be 1-D indices in 0..{store.settings.D - 1}")
    blas = blas_threads(scheduler, num_workers)

    def chunk_part(ab):
        a, b = ab
        with threadpool_limits(blas, user_api="blas"):
            V = store.read_outer(a, b) @ Mk
        rows = {}
        for n, S in sets.items():
            sel = np.flatnonzero((S >= a) & (S < b))
            rows[n] = (sel, V[S[sel] - a])
        tops = {}
        if best_ks:
            cum = np.cumsum(V * V, axis=1)
            for kk in best_ks:
                score = cum[:, kk - 1]
                top = np.argsort(-score, kind="stable")[:kk]
                tops[kk] = (score[top], top + a, V[top, :kk])
        return rows, tops

    def combine(x, y):
        rows = {
            n: (np.concatenate([x[0][n][0], y[0][n][0]]), np.concatenate([x[0][n][1], y[0][n][1]]))
            for n in sets
        }
        tops = {}
        for kk in best_ks:
            score, idx, R = (np.concatenate([x[1][kk][i], y[1][kk][i]]) for i in range(3))
            keep = np.argsort(-score, kind="stable")[:kk]
            tops[kk] = (score[keep], idx[keep], R[keep])
        return rows, tops

    parts, tops = fold(store.row_chunks(), chunk_part, combine, scheduler, num_workers)
    rows = {}
    for n, S in sets.items():
        sel, R = parts[n]
        out = np.empty((len(S), k_max))
        out[sel] = R
        rows[n] = out
    return Gathered(rows, {kk: tops[kk][1] for kk in best_ks}, {kk: tops[kk][2] for kk in best_ks})


def cross_overlap(
    url_a: str, url_b: str, *, k_max: int | None = None, scheduler="threads", num_workers: int = 2
) -> np.ndarray:
    """Subspace overlap of two stored eigenbases for every k: ||V_a[:, :k]^T V_b[:, :k]||_F^2 / k.

    One pass over both stores forms C = V_a^T V_b (k x k, float64); the curve comes from its
    2-D prefix sum of squares. Compares eigenspaces across training steps (or two sketches).
    """
    A, B = open_solution(url_a), open_solution(url_b)
    if A.settings.D != B.settings.D:
        raise ValueError(f"the stores have different D: {A.settings.D} and {B.settings.D}")
    Ma, Mb = A.transform(), B.transform()
    k_max = min(Ma.shape[1], Mb.shape[1]) if k_max is None else int(k_max)
    Ma, Mb = Ma[:, :k_max], Mb[:, :k_max]
    blas = blas_threads(scheduler, num_workers)

    def part(ab):
        with threadpool_limits(blas, user_api="blas"):
            return ((A.read_outer(*ab) @ Ma).T @ (B.read_outer(*ab) @ Mb),)

    (C,) = fold(A.row_chunks(), part, sum_parts, scheduler, num_workers)
    return nested_overlaps(C)


def aposteriori_error(
    url: str, op, *, n: int = APOSTERIORI_PROBES, seed: int = 0, eps: float = APOSTERIORI_EPS,
    scheduler="threads", num_workers: int = 2,
) -> FrobeniusErrorEstimate:  # fmt: skip
    """``hessian.aposteriori_error`` for a stored sketch: n probes, V streamed by row chunks.

    E = H W - V diag(lambda) V^T W for n Gaussian probes W; ||E||_F^2 / n estimates
    ||H - H_hat||_F^2 (Martinsson & Tropp 2020, §12.2). Two streamed passes over V (V^T W, then
    the residual); H W is held in memory (D x n).
    """
    store = open_solution(url)
    lam = store.eigenvalues()
    M = store.transform()
    A = CountingOperator(op)
    if A.D != store.settings.D:
        raise ValueError(f"the operator has D = {A.D}, the store {store.settings.D}")
    W = probes(n, A.D, seed)
    HW = A(W)
    blas = blas_threads(scheduler, num_workers)

    def vtw(ab):
        with threadpool_limits(blas, user_api="blas"):
            return ((store.read_outer(*ab) @ M).T @ W[ab[0] : ab[1]],)

    (VtW,) = fold(store.row_chunks(), vtw, sum_parts, scheduler, num_workers)
    R = lam[:, None] * VtW

    def resid(ab):
        a, b = ab
        with threadpool_limits(blas, user_api="blas"):
            E = HW[a:b] - (store.read_outer(a, b) @ M) @ R
            return (float(np.sum(E * E)),)

    (err2,) = fold(store.row_chunks(), resid, sum_parts, scheduler, num_workers)
    return FrobeniusErrorEstimate.from_probes(err2, np.sum(HW**2), n, eps)
