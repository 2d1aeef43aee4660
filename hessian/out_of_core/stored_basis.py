"""The Krylov basis on disk: ``krylov_schur.Basis`` over a ``BasisStore``.

A step runs the products of the next block as jobs (``basis_jobs``), then two streamed passes
over row chunks in float64: [Q X]^T W and W^T W, then X' = (W - [Q X] C) R^-1 written into the
store, with the stored basis' Gram matrix G = Q^T Q updated from the stored values (CGS twice
from one pass: ``krylov_schur.cgs2_from_gram``). Each pass works one chunk (chunk_rows x b: one
block of the basis) at a time, as it comes from its file into a reused buffer (``blocks``). A
restart rotates the basis a row chunk at a time through the staging chunk, saving the rotation
with the state first, so that a killed run finishes it where it stopped. ``cache`` bytes of RAM
may mirror the basis (the passes then read memory; the store is still written, for
resumption).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

from hessian.exceptions import CorruptBlockError
from hessian.out_of_core.basis_jobs import Jobs
from hessian.out_of_core.basis_store import BasisStore
from hessian.solvers import krylov_schur as ks
from hessian.solvers.sketching_matrices import STREAM_KRYLOV, sketching_matrix


class StoredBasis:
    """``krylov_schur.Basis`` over a ``BasisStore``: products by jobs, streamed passes."""

    def __init__(self, store: BasisStore, jobs: Jobs, G: np.ndarray, key: int, cache: int,
                 state: ks.State):  # fmt: skip
        self.store, self.st, self.jobs, self.state = store, store.settings, jobs, state
        self.D, self.block, self.n_max = self.st.D, self.st.block, self.st.n_max
        self.G, self.key = G, key
        self.chunks = store.row_chunks()
        nbytes = self.D * self.st.columns * np.dtype(self.st.dtype).itemsize
        self.mirror = None
        if cache and nbytes <= cache:
            self.mirror = np.full((self.D, self.st.columns), np.nan, dtype=self.st.dtype)

    def blocks(self, a: int, b: int, c1: int) -> list[tuple[int, np.ndarray]]:
        """Rows a..b-1 of basis columns 0..c1-1 as (first column, block) pairs in the stored
        dtype (views of the mirror, or the store's reused chunk buffers: valid until the next
        call)."""
        if self.mirror is not None:
            w = self.block
            return [(j, self.mirror[a:b, j : min(c1, j + w)]) for j in range(0, c1, w)]
        return self.store.column_blocks("basis", a, b, c1)

    def rows(self, a: int, b: int, c1: int, c0: int = 0) -> np.ndarray:
        """Rows a..b-1 of basis columns c0..c1-1 in float64."""
        if self.mirror is not None:
            return self.mirror[a:b, c0:c1].astype(np.float64)
        return self.store.read("basis", a, b, slice(c0, c1))

    def load_mirror(self, n: int) -> None:
        """Fill the RAM mirror from the store (a resumed run), columns 0..n+b."""
        if self.mirror is not None:
            for a, b in self.chunks:
                self.store.read("basis", a, b, slice(0, n + self.block),
                                out=self.mirror[a:b, : n + self.block])  # fmt: skip

    def write(self, a: int, b: int, c0: int, X: np.ndarray) -> np.ndarray:
        Xs = X.astype(self.st.dtype)
        self.store.write("basis", a, b, c0, Xs)
        if self.mirror is not None:
            self.mirror[a:b, c0 : c0 + X.shape[1]] = Xs
        return Xs.astype(np.float64)

    def step(self, n: int):
        """One step; both passes work a column chunk of a row chunk at a time (``blocks``)."""
        b = self.block
        self.jobs.run("basis", n, n + b, "products", "jobs", self.key, self.st.job_width)
        P = np.zeros((n + b, b))
        WW = np.zeros((b, b))
        for a, c in self.chunks:
            W = self.store.read("products", a, c)
            for j, Q in self.blocks(a, c, n + b):
                P[j : j + Q.shape[1]] += _f64(Q).T @ W
            WW += W.T @ W
        self._finite(n + b, P, WW)
        C, R = ks.cgs2_from_gram(P, self.G[: n + b, : n + b], WW)
        R_inv = np.linalg.inv(R)  # b x b; R is triangular, or a square-root factor
        g_new = np.zeros((n + b, b))
        g_nn = np.zeros((b, b))
        for a, c in self.chunks:
            Y = self.store.read("products", a, c)
            blocks = self.blocks(a, c, n + b)
            for j, Q in blocks:
                Y -= _f64(Q) @ C[j : j + Q.shape[1]]
            Xs = self.write(a, c, n + b, Y @ R_inv)
            for j, Q in blocks:
                g_new[j : j + Q.shape[1]] += _f64(Q).T @ Xs
            g_nn += Xs.T @ Xs
        self._finite(n + 2 * b, g_new, g_nn)
        self.G[: n + b, n + b : n + 2 * b] = g_new
        self.G[n + b : n + 2 * b, : n + b] = g_new.T
        self.G[n + b : n + 2 * b, n + b : n + 2 * b] = g_nn
        self.key += 1
        return C, R

    def _finite(self, c1: int, *sums: np.ndarray) -> None:
        """The passes read blocks without checking their values for NaN (``blocks``): a NaN or
        an infinity in any of them reaches these sums, and is then looked for chunk by chunk
        (CorruptBlockError names it)."""
        if all(np.isfinite(x).all() for x in sums):
            return
        if self.mirror is None:
            self.store.check_finite("basis", c1)
        elif not np.isfinite(self.mirror[:, :c1]).all():
            raise CorruptBlockError([], f"{self.store.url}: the basis in memory holds NaN")
        self.store.check_finite("products", self.block)
        raise FloatingPointError(
            f"{self.store.url}: the step's inner products are not finite (overflow?)"
        )

    def restart(self, n: int, U: np.ndarray, theta: np.ndarray, resuming: bool = False) -> None:
        """Columns 0..m+b <- [Q U, X], a row chunk at a time through the staging chunk. The
        rotation is saved with the state first; a resumed one skips the chunks already rotated
        (``rotated[c]`` = this restart's number) and copies a staged one."""
        m, b = U.shape[1], self.block
        g = self.store.group
        rotation = self.state.restarts + 1
        if not resuming:
            self.store.save_state(rotation_U=U, rotation_theta=theta,
                                  **state_arrays(self.state, self))  # fmt: skip
        for c, (a, e) in enumerate(self.chunks):
            if int(g["rotated"][c]) == rotation:
                continue
            if g.attrs.get("staged") == [rotation, c]:
                new = g["staging"][: e - a, : m + b].astype(np.float64)
            else:
                Q = self.rows(a, e, n + b)  # one GEMM: a sum of rank-b updates was 3.6x slower
                new = np.concatenate([Q[:, :n] @ U, Q[:, n : n + b]], axis=1)
                self.store.write("staging", 0, e - a, 0, new)
                g.attrs["staged"] = [rotation, c]
            self.write(a, e, 0, new)
            g["rotated"][c] = rotation
        G = self.G
        Gx = G[:n, n : n + b]
        newG = np.zeros_like(G)
        newG[:m, :m] = U.T @ G[:n, :n] @ U
        newG[:m, m : m + b] = U.T @ Gx
        newG[m : m + b, :m] = (U.T @ Gx).T
        newG[m : m + b, m : m + b] = G[n : n + b, n : n + b]
        self.G = newG


def _f64(Q: np.ndarray) -> np.ndarray:
    return np.asarray(Q, dtype=np.float64)


def write_start(basis: StoredBasis, seed: int, warm) -> None:
    """Write the orthonormal first block (Gaussian, or V G from a warm-start store)."""
    b, st = basis.block, basis.st
    if warm is None:
        Phi = sketching_matrix("gaussian", b, st.D, seed, STREAM_KRYLOV)
        part = lambda a, c: Phi._slab(0, b, a, c).T  # noqa: E731  (tile-aligned row chunk)
    else:
        Gm = np.random.default_rng([seed, STREAM_KRYLOV]).standard_normal((warm.k, b))
        M = warm.transform()[:, : warm.k] @ Gm
        part = lambda a, c: warm.store.read_outer(a, c) @ M  # noqa: E731
    S = np.zeros((b, b))
    for a, c in basis.chunks:
        X = basis.write(a, c, 0, part(a, c))
        S += X.T @ X
    R = np.linalg.cholesky(S).T
    g = np.zeros((b, b))
    for a, c in basis.chunks:
        X = scipy.linalg.solve_triangular(R, basis.rows(a, c, b).T, trans="T").T
        Xs = basis.write(a, c, 0, X)
        g += Xs.T @ Xs
    basis.G[:b, :b] = g


def state_arrays(state: ks.State, basis: StoredBasis) -> dict:
    """What ``state.npz`` holds: the relation's small matrices, G, the counters, the history."""
    hist = np.asarray(state.history, dtype=np.float64).reshape(-1, 2)
    counters = [state.n, state.products, state.steps, state.restarts, state.checks, basis.key]
    return {"T": state.T, "B": state.B, "G": basis.G, "counters": np.asarray(counters),
            "history": hist}  # fmt: skip
