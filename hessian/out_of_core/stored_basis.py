"""The Krylov basis on disk: ``krylov_schur.Basis`` over a ``BasisStore``.

A step runs the products of the next block as jobs (``basis_jobs``), then two streamed passes
over row chunks in float64: [Q X]^T W and W^T W, then X' = (W - [Q X] C) R^-1 written into the
store, with the stored basis' Gram matrix G = Q^T Q updated from the stored values (CGS twice
from one pass: ``krylov_schur.cgs2_from_gram``). A pass runs a row chunk per task; a task
reads its chunk's files (their checksums checked) into its thread's reused buffers and works
through them in tiles of rows converted to float64 as they are copied, on a few threads of one
BLAS thread each (``_tiles``, ``pass_threads``), or with a small block a block at a time
(``_f64``) on one thread (``passes`` says why). A restart rotates the basis a row chunk
at a time through the staging chunk, saving the rotation with the state first, so that a killed
run finishes it where it stopped (the staged chunk's files are renamed into the basis, not
written twice). ``cache`` bytes of RAM may mirror the basis (the passes then read memory; the
store is still written, for resumption).
"""

from __future__ import annotations

import threading

import numpy as np
import scipy.linalg
from scipy.linalg.blas import dgemm

from hessian.exceptions import CorruptBlockError
from hessian.out_of_core.basis_jobs import Jobs
from hessian.out_of_core.basis_store import BasisStore
from hessian.solvers import krylov_schur as ks
from hessian.solvers.row_passes import TILE_ROWS, RowPasses, pass_threads
from hessian.solvers.sketching_matrices import STREAM_KRYLOV, sketching_matrix

#: the smallest block the passes work in tiles on threads; below it, a block at a time on one
#: thread (``StoredBasis.passes`` says why)
TILED_BLOCK = 16


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
        self._rows = None  # the restart's reused row buffer
        self._local = threading.local()  # the pass threads' reused buffers
        self.tiled = self.block >= TILED_BLOCK
        threads = pass_threads(len(self.chunks)) if self.tiled else 1
        self.pool = RowPasses(self.chunks, threads)  # the row chunks' tasks, on the threads
        if cache and nbytes <= cache:
            self.mirror = np.full((self.D, self.st.columns), np.nan, dtype=self.st.dtype)

    @property
    def threads(self) -> int:
        """The pass threads."""
        return self.pool.threads

    def blocks(self, a: int, b: int, c1: int) -> list[tuple[int, np.ndarray]]:
        """Rows a..b-1 of basis columns 0..c1-1 as (first column, block) pairs in the stored
        dtype, one per block of the basis: views of the mirror, or the store's reused chunk
        buffers (CRC32C checked, not scanned for NaN: the step checks its sums, ``_finite``);
        valid until the thread's next call."""
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

    def _buffer(self, name: str, size: int) -> np.ndarray:
        """A reused float64 buffer of at least ``size`` values, one per thread (the passes run
        row chunks on several threads)."""
        buf = getattr(self._local, name, None)
        if buf is None or buf.size < size:
            buf = np.empty(size)
            setattr(self._local, name, buf)
        return buf[:size]

    def _f64(self, Q: np.ndarray) -> np.ndarray:
        """Q in float64, in a reused row-major buffer (valid until the thread's next call).

        Why reused: the passes convert every block of the basis twice or three times per
        step; with a fresh copy and a fresh product per block, the update W -= Q_j C_j took 3x
        the inner products of the same size (profiled at wide_mlp)."""
        out = self._buffer("block", Q.size).reshape(Q.shape)
        np.copyto(out, Q)
        return out

    def _tiles(self, blocks: list[tuple[int, np.ndarray]], rows: int, c1: int):
        """(t0, t1, tile) for rows t0..t1-1 of the row chunk, the tile (t1 - t0) x c1 in float64:
        the blocks' rows side by side, converted as they are copied, in one reused buffer.

        Why tiles: a tile of ``TILE_ROWS`` rows of all the basis' columns stays in cache while
        it is used, and each product against it is one GEMM of its full width; a whole
        (chunk_rows x b) block at a time streams every block through memory three times
        (``passes`` has the measurements)."""
        flat = self._buffer("tile", TILE_ROWS * c1)
        for t0 in range(0, rows, TILE_ROWS):
            t1 = min(rows, t0 + TILE_ROWS)
            tile = flat[: (t1 - t0) * c1].reshape(t1 - t0, c1)
            for j, Q in blocks:
                tile[:, j : j + Q.shape[1]] = Q[t0:t1]
            yield t0, t1, tile

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
        """Rows a..b-1 of the step's products in float64, in a reused row-major buffer (one per
        thread)."""
        out = self._buffer("products", (b - a) * self.block).reshape(b - a, self.block)
        return self.store.read("products", a, b, out=out)

    def step(self, n: int):
        """One step: the products as jobs, then the two passes (``passes``)."""
        self.jobs.run("basis", n, n + self.block, "products", "jobs", self.key, self.st.job_width)
        with self.pool.one_blas_thread():
            return self.passes(n)

    def close(self) -> None:
        """Stop the pass threads."""
        self.pool.close()

    def passes(self, n: int):
        """The step's two passes over the row chunks, a row chunk per task.

        First [Q X]^T W and W^T W; then W - [Q X] C, times R^-1, is the new block X', rounded
        to the stored dtype, and G's new columns are formed from those stored values. With a
        block of ``TILED_BLOCK`` or more, a task works through its chunk in tiles of rows
        (``_tiles``), on ``threads`` threads of one BLAS thread each; with a smaller one, a
        block of the basis at a time (``_f64``), on one thread, the update in place by BLAS.

        Why one BLAS thread: the products are too thin to share (measured on 2 cores at
        wide_mlp size, n = 168: two BLAS threads made them 2-12x slower than one), while two
        row chunks at once share only the memory bus (numpy's matmul releases the GIL; scipy's
        dgemm, the in-place update, does not). Why the two ways, measured per row chunk on one
        core: at b = 24 and 720 columns, 406 ms a block at a time, 244 ms in tiles, 130 ms in
        tiles on two threads; at b = 8 and 168 columns the passes are bound by memory (31, 43
        and 29 ms: no gain), and 20 whole wide_mlp steps were no faster in tiles on two threads
        (113 s of passes) than a block at a time (95 and 108 s in two runs): copying 8 columns
        at a time into a tile costs what the wider GEMMs save."""
        b = self.block
        P, WW = self.pool.sum(self._project, n + b)
        self._finite(n + b, P, WW)
        C, R = ks.cgs2_from_gram(P, self.G[: n + b, : n + b], WW)
        R_inv = np.linalg.inv(R)  # b x b; R is triangular, or a square-root factor
        g_new, g_nn = self.pool.sum(self._update, n + b, C, R_inv)
        self._finite(n + 2 * b, g_new, g_nn)
        self.G[: n + b, n + b : n + 2 * b] = g_new
        self.G[n + b : n + 2 * b, : n + b] = g_new.T
        self.G[n + b : n + 2 * b, n + b : n + 2 * b] = g_nn
        self.key += 1
        return C, R

    def _project(self, a: int, c: int, c1: int):
        """The first pass on rows a..c-1: their parts of [Q X]^T W and W^T W."""
        W = self.products(a, c)
        P = np.zeros((c1, self.block))
        blocks = self.blocks(a, c, c1)
        if self.tiled:
            for t0, t1, tile in self._tiles(blocks, c - a, c1):
                P += tile.T @ W[t0:t1]
        else:
            for j, Q in blocks:
                P[j : j + Q.shape[1]] += self._f64(Q).T @ W
        return P, W.T @ W

    def _update(self, a: int, c: int, c1: int, C: np.ndarray, R_inv: np.ndarray):
        """The second pass on rows a..c-1: X' = (W - [Q X] C) R^-1 written into columns
        c1..c1+b, and the rows' parts of [Q X]^T X' and X'^T X' from the stored values."""
        if not self.tiled:
            return self._update_by_block(a, c, c1, C, R_inv)
        b = self.block
        Y = self.products(a, c)  # updated in place
        Xs = np.empty((c - a, b), dtype=self.st.dtype)
        g_new = np.zeros((c1, b))
        g_nn = np.zeros((b, b))
        for t0, t1, tile in self._tiles(self.blocks(a, c, c1), c - a, c1):
            y = Y[t0:t1]
            y -= tile @ C
            xs = Xs[t0:t1]
            xs[...] = y @ R_inv
            x = xs.astype(np.float64)
            g_new += tile.T @ x
            g_nn += x.T @ x
        self.write(a, c, c1, Xs, stored=False)
        return g_new, g_nn

    def _update_by_block(self, a: int, c: int, c1: int, C: np.ndarray, R_inv: np.ndarray):
        """``_update`` a block of the basis at a time, Y^T -= C_j^T Q_j^T in place by dgemm."""
        Yt = self.products(a, c).T  # column-major: updated in place by BLAS
        blocks = self.blocks(a, c, c1)
        for j, Q in blocks:
            Cj = C[j : j + Q.shape[1]].T
            Yt = dgemm(-1.0, Cj, self._f64(Q).T, beta=1.0, c=Yt, overwrite_c=True)
        Xs = self.write(a, c, c1, Yt.T @ R_inv)
        g_new = np.zeros((c1, self.block))
        for j, Q in blocks:
            g_new[j : j + Q.shape[1]] += self._f64(Q).T @ Xs
        return g_new, Xs.T @ Xs

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
        (``rotated[c]`` = this restart's number) and finishes a staged one. A staged chunk's
        files are renamed into the basis (``ChunkFiles.move_row_chunk``), or copied where the
        store is not laid out for that."""
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
            staged = g.attrs.get("staged") == [rotation, c]
            if not staged:
                Q = self.rows(a, e, n + b)  # one GEMM: a sum of rank-b updates was 3.6x slower
                np.matmul(Q[:, :n], U, out=new[:, :m])
                new[:, m:] = Q[:, n : n + b]
                self.store.write("staging", 0, e - a, 0, new)
                g.attrs["staged"] = [rotation, c]
            if self.store.move_row_chunk("staging", "basis", a, e, m + b):
                if self.mirror is not None:
                    self.mirror[a:e, : m + b] = (
                        self.store.read("basis", a, e, slice(0, m + b)) if staged else new
                    )
            else:
                if staged:
                    new[...] = g["staging"][: e - a, : m + b]
                self.write(a, e, 0, new, stored=False)
            g["rotated"][c] = rotation
        self.G = ks.rotated_gram(self.G, n, b, U)


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
