"""The Krylov basis on disk: ``krylov_schur.Basis`` over a ``BasisStore``.

A step runs the products of the next block as jobs (``basis_jobs``), then two streamed passes
over row chunks in float64: [Q X]^T W and W^T W, then X' = (W - [Q X] C) R^-1 written into the
store, with the stored basis' Gram matrix G = Q^T Q updated from the stored values (CGS twice
from one pass: ``krylov_schur.cgs2_from_gram``). Each pass works a block (chunk_rows x b: one
chunk file, read into a reused buffer, its checksum checked) at a time, converted into one
reused float64 buffer (``_f64``), on one BLAS thread (``passes``). A restart rotates the
basis a row chunk at a time through the staging chunk, saving the rotation with the state
first, so that a killed run finishes it where it stopped. ``cache`` bytes of RAM may mirror the
basis (the passes then read memory; the store is still written, for resumption).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
from scipy.linalg.blas import dgemm
from threadpoolctl import threadpool_limits

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
        self._rows = self._products = self._flat = None  # reused buffers of the passes
        if cache and nbytes <= cache:
            self.mirror = np.full((self.D, self.st.columns), np.nan, dtype=self.st.dtype)

    def blocks(self, a: int, b: int, c1: int) -> list[tuple[int, np.ndarray]]:
        """Rows a..b-1 of basis columns 0..c1-1 as (first column, block) pairs in the stored
        dtype, one per block of the basis: views of the mirror, or the store's reused chunk
        buffers (CRC32C checked, not scanned for NaN: the step checks its sums, ``_finite``);
        valid until the next call."""
        if self.mirror is not None:
            w = self.block
            return [(j, self.mirror[a:b, j : min(c1, j + w)]) for j in range(0, c1, w)]
        return self.store.column_blocks("basis", a, b, c1)

    def rows(self, a: int, b: int, c1: int) -> np.ndarray:
        """Rows a..b-1 of basis columns 0..c1-1 in float64 (checked for NaN), in a reused
        column-major buffer, valid until the next call."""
        rows = b - a
        if self._rows is None or self._rows.shape[0] < rows:
            self._rows = np.empty((rows, self.st.columns), order="F")
        out = self._rows[:rows, :c1]
        if self.mirror is not None:
            out[...] = self.mirror[a:b, :c1]
            return out
        return self.store.read("basis", a, b, slice(0, c1), out=out)

    def _f64(self, Q: np.ndarray) -> np.ndarray:
        """Q in float64, in one reused row-major buffer (valid until the next call).

        Why reused: the passes convert every block of the basis twice or three times per
        step; with a fresh copy and a fresh product per block, the update W -= Q_j C_j took 3x
        the inner products of the same size (profiled at wide_mlp)."""
        size = Q.shape[0] * Q.shape[1]
        if self._flat is None or self._flat.size < size:
            self._flat = np.empty(size)
        out = self._flat[:size].reshape(Q.shape)
        np.copyto(out, Q)
        return out

    def load_mirror(self, n: int) -> None:
        """Fill the RAM mirror from the store (a resumed run), columns 0..n+b."""
        if self.mirror is not None:
            for a, b in self.chunks:
                self.store.read("basis", a, b, slice(0, n + self.block),
                                out=self.mirror[a:b, : n + self.block])  # fmt: skip

    def write(self, a: int, b: int, c0: int, X: np.ndarray, stored: bool = True):
        """Rows a..b-1, columns c0.. of the basis <- X; returns the stored values in float64
        (``stored``), which are what the Gram matrix is formed from."""
        Xs = X.astype(self.st.dtype)
        self.store.write("basis", a, b, c0, Xs)
        if self.mirror is not None:
            self.mirror[a:b, c0 : c0 + X.shape[1]] = Xs
        return Xs.astype(np.float64) if stored else None

    def products(self, a: int, b: int) -> np.ndarray:
        """Rows a..b-1 of the step's products in float64, in a reused row-major buffer."""
        rows = b - a
        if self._products is None or self._products.shape[0] < rows:
            self._products = np.empty((rows, self.block))
        return self.store.read("products", a, b, out=self._products[:rows])

    def step(self, n: int):
        """One step: the products as jobs, then the two passes (``passes``)."""
        self.jobs.run("basis", n, n + self.block, "products", "jobs", self.key, self.st.job_width)
        with threadpool_limits(1, user_api="blas"):
            return self.passes(n)

    def passes(self, n: int):
        """The step's two passes, a row chunk at a time and in it a block of the basis at a
        time, converted to float64 as it comes (``_f64``), the update in place by BLAS.

        Single-threaded BLAS: the products here are (chunk_rows x b)^T (chunk_rows x b) and
        (chunk_rows x b) (b x b), too small to share; measured on 2 cores at wide_mlp size
        (n = 168), two threads made them 2-12x slower than one (the update 16 ms against 7
        ms per row chunk, Y R^-1 9.8 ms against 0.8 ms), and the file reads slower too."""
        b = self.block
        P = np.zeros((n + b, b))
        WW = np.zeros((b, b))
        for a, c in self.chunks:
            W = self.products(a, c)
            for j, Q in self.blocks(a, c, n + b):
                P[j : j + Q.shape[1]] += self._f64(Q).T @ W
            WW += W.T @ W
        self._finite(n + b, P, WW)
        C, R = ks.cgs2_from_gram(P, self.G[: n + b, : n + b], WW)
        R_inv = np.linalg.inv(R)  # b x b; R is triangular, or a square-root factor
        g_new = np.zeros((n + b, b))
        g_nn = np.zeros((b, b))
        for a, c in self.chunks:
            Yt = self.products(a, c).T  # column-major: updated in place by BLAS
            blocks = self.blocks(a, c, n + b)
            for j, Q in blocks:  # Y^T -= C_j^T Q_j^T
                Cj = C[j : j + Q.shape[1]].T
                Yt = dgemm(-1.0, Cj, self._f64(Q).T, beta=1.0, c=Yt, overwrite_c=True)
            Xs = self.write(a, c, n + b, Yt.T @ R_inv)
            for j, Q in blocks:
                g_new[j : j + Q.shape[1]] += self._f64(Q).T @ Xs
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
        rotated = np.empty((self.chunks[0][1], m + b), order="F")  # reused by every chunk
        for c, (a, e) in enumerate(self.chunks):
            if int(g["rotated"][c]) == rotation:
                continue
            new = rotated[: e - a]
            if g.attrs.get("staged") == [rotation, c]:
                new[...] = g["staging"][: e - a, : m + b]
            else:
                Q = self.rows(a, e, n + b)  # one GEMM: a sum of rank-b updates was 3.6x slower
                np.matmul(Q[:, :n], U, out=new[:, :m])
                new[:, m:] = Q[:, n : n + b]
                self.store.write("staging", 0, e - a, 0, new)
                g.attrs["staged"] = [rotation, c]
            self.write(a, e, 0, new, stored=False)
            g["rotated"][c] = rotation
        G = self.G
        Gx = G[:n, n : n + b]
        newG = np.zeros_like(G)
        newG[:m, :m] = U.T @ G[:n, :n] @ U
        newG[:m, m : m + b] = U.T @ Gx
        newG[m : m + b, :m] = (U.T @ Gx).T
        newG[m : m + b, m : m + b] = G[n : n + b, n : n + b]
        self.G = newG


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
