"""The Krylov basis in memory: ``krylov_schur.Basis`` as one float64 array (D x n_max), with
safeguards where Pythagoras' Gram matrix loses digits (docs/method.md, "The accurate solver")."""

from __future__ import annotations

import numpy as np

from hessian.solvers import row_passes
from hessian.solvers.krylov_schur import cgs2_from_gram, rotated_gram

#: a step projects twice explicitly (``InMemoryBasis._step_explicitly``) when the smallest singular
#: value of Pythagoras' R is below this fraction of W's (RMS) column norm: that direction's
#: Gram matrix then loses more than half its digits to cancellation
PYTHAGORAS_BELOW = 1e-4
#: the in-memory basis' columns are kept orthonormal to this (largest entry of G - I); a step
#: whose new block misses it (Pythagoras' R loses ~eps (||W|| / sigma_min(R))^2) is projected
#: again, explicitly, as the old CGS2 did (4e-16)
ORTHONORMAL_TO = 1e-12
#: rows from which the in-memory passes run on threads: below, one thread (at D = 7,030 the
#: passes of a k = 355 solve took 0.45 s on one thread, 0.43 s on two; at 1M, 28 s and 16 s)
THREADED_ROWS = 1 << 14


class InMemoryBasis:
    """The basis as one float64 array (D x n_max), products by a ``CountingOperator``.

    A step is the out-of-core basis' two passes over memory: [Q X]^T W and W^T W, then, tile by
    tile of rows, X' = (W - [Q X] C) R^-1 and the Gram matrix's new columns [Q X]^T X' while
    the tile is in cache (CGS twice from one pass, ``cgs2_from_gram``, with G = Q^T Q measured
    rather than assumed). The passes run row ranges on ``pass_threads`` threads of one BLAS
    thread each (``row_passes``). That is two reads of the basis per step where projecting
    twice explicitly takes four: on mlp_1m at k = 100 the passes took 58 s against 161 s, the
    same solve (docs/method.md)."""

    def __init__(self, A, start: np.ndarray, n_max: int, vectors_per_call: int, seed: int = 0,
                 threads: int | None = None):  # fmt: skip
        self.A = A
        self.D, self.block = start.shape
        self.n_max = n_max
        self.call = vectors_per_call
        self.Q = np.empty((self.D, n_max + self.block), order="F")
        X, _ = np.linalg.qr(start)
        self.Q[:, : self.block] = X
        self.G = np.zeros((n_max + self.block, n_max + self.block))
        self.G[: self.block, : self.block] = X.T @ X
        self.rng = np.random.default_rng([seed, 9])
        parts = row_passes.row_parts(self.D)
        if threads is None:
            threads = row_passes.pass_threads(len(parts)) if self.D >= THREADED_ROWS else 1
        self.passes = row_passes.RowPasses(parts, threads)
        self.repairs = 0  # steps projected again (``ORTHONORMAL_TO``)

    def _apply(self, X):
        c = self.call
        return np.concatenate([self.A(X[:, i : i + c]) for i in range(0, X.shape[1], c)], axis=1)

    def step(self, n: int):
        """W = H X, then the two passes (one BLAS thread per pass thread)."""
        b = self.block
        c1 = n + b
        W = self._apply(self.Q[:, n:c1])
        with self.passes.one_blas_thread():
            P, WW = self.passes.sum(self._project, W, c1)
            if not (np.isfinite(P).all() and np.isfinite(WW).all()):
                raise FloatingPointError(
                    f"the products of the block at basis columns {n}..{c1 - 1} are not finite "
                    "(a NaN or an infinity in H X)"
                )
            C, R = cgs2_from_gram(P, self.G[:c1, :c1], WW)
            rms = np.sqrt(np.trace(WW) / b)
            resolved = rms > 0 and np.linalg.svd(R, compute_uv=False)[-1] > PYTHAGORAS_BELOW * rms
            if resolved:
                R_inv = np.linalg.inv(R)
                g_new, g_nn = self.passes.sum(self._update, W, c1, C, R_inv)
        if not resolved:  # W untouched
            return self._step_explicitly(n, W)
        lost = max(np.abs(g_new).max(), np.abs(g_nn - np.eye(b)).max())
        if lost > ORTHONORMAL_TO:  # W now holds W - [Q X] C: project that explicitly
            self.repairs += 1
            C2, R2 = self._step_explicitly(n, W)
            return C + C2, R2
        self._set_gram(c1, g_new, g_nn)
        return C, R

    def _project(self, a: int, c: int, W: np.ndarray, c1: int):
        return self.Q[a:c, :c1].T @ W[a:c], W[a:c].T @ W[a:c]

    def _update(self, a: int, c: int, W: np.ndarray, c1: int, C: np.ndarray, R_inv):
        """Rows a..c-1: X' = (W - [Q X] C) R^-1 into columns c1..c1+b, and their parts of
        [Q X]^T X' and X'^T X', a tile at a time (W is overwritten)."""
        b = self.block
        g_new, g_nn = np.zeros((c1, b)), np.zeros((b, b))
        for t0, t1 in row_passes.tiles(a, c):
            tile, w = self.Q[t0:t1, :c1], W[t0:t1]
            w -= tile @ C
            x = w @ R_inv
            self.Q[t0:t1, c1 : c1 + b] = x
            g_new += tile.T @ x
            g_nn += x.T @ x
        return g_new, g_nn

    def _set_gram(self, c1: int, g_new: np.ndarray, g_nn: np.ndarray) -> None:
        b = self.block
        self.G[:c1, c1 : c1 + b] = g_new
        self.G[c1 : c1 + b, :c1] = g_new.T
        self.G[c1 : c1 + b, c1 : c1 + b] = g_nn

    def _step_explicitly(self, n: int, W: np.ndarray):
        """Project twice explicitly and factor by QR, where the next block is nearly in the
        basis' span (Pythagoras' R cannot resolve it); a direction that vanishes (an invariant
        subspace) is continued at random."""
        b = self.block
        Qa = self.Q[:, : n + b]
        C = Qa.T @ W
        W -= Qa @ C
        C2 = Qa.T @ W
        W -= Qa @ C2
        C += C2
        X, R = np.linalg.qr(W)
        scale = max(np.linalg.norm(C), np.finfo(float).tiny)
        weak = np.abs(np.diag(R)) <= 1e-12 * scale  # an invariant subspace: continue at random
        if weak.any():
            Z = self.rng.standard_normal((self.D, int(weak.sum())))
            for _ in range(2):
                Z -= Qa @ (Qa.T @ Z)
                Z -= X[:, ~weak] @ (X[:, ~weak].T @ Z)
            X[:, weak] = np.linalg.qr(Z)[0]
            R[weak] = 0.0
        self.Q[:, n + b : n + 2 * b] = X
        self._set_gram(n + b, Qa.T @ X, X.T @ X)
        return C, R

    def restart(self, n: int, U: np.ndarray, theta=None):
        m, b = U.shape[1], self.block
        rows = max(1, (1 << 24) // max(n, 1))
        for a in range(0, self.D, rows):
            blk = self.Q[a : a + rows, :n] @ U
            self.Q[a : a + rows, :m] = blk
        self.Q[:, m : m + b] = self.Q[:, n : n + b]
        self.G = rotated_gram(self.G, n, b, U)

    def vectors(self, U: np.ndarray) -> np.ndarray:
        return self.Q[:, : U.shape[0]] @ U

    def close(self) -> None:
        """Stop the pass threads."""
        self.passes.close()
