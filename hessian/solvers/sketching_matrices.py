"""Random sketching matrices Phi (s x D), each entry a pure function of (seed, position).

Every kind can regenerate any block of rows (the test vectors of one measurement job) from the
seed alone, on any worker, so a distributed job needs no shared state. Streams never overlap: the
random numbers of each tile come from their own ``numpy.random.SeedSequence(seed, spawn_key=...)``,
whose spawned streams are independent by construction (unlike the seed+1, seed+2, ... sub-seeds of
the paper's code). Entries are generated in float64 whatever the consumer's dtype, so a float32
sketch and its float64 core algebra see the same matrix.

The sketching literature calls them *test matrices* (their rows are the test vectors). Kinds
(Tropp, Yurtsever, Udell & Cevher 2019, "Streaming low-rank matrix approximation with an
application to scientific simulation", SIAM J. Sci. Comput., §3 and §9):
- ``gaussian``: i.i.d. N(0, 1) entries.
- ``rademacher``: i.i.d. +-1 entries.
- ``ssrft``: rows of R F P2 F P1: P a random signed permutation, F the orthonormal DCT-II,
  R keeps s random coordinates (Woolfe, Liberty, Rokhlin & Tygert 2008). Applying it costs
  O(D log D) per column, but it mixes all coordinates, so it cannot be streamed over row chunks.
- ``sparse``: sparse sign embedding: each column holds ``zeta`` (default 8) +-1 entries in random
  distinct rows. Applying it costs ``zeta`` flops per entry of X, and it streams over row chunks
  of X (``apply_cols``), which makes the inner sketch and the core solve cheap at large D.

Dense kinds are generated in tiles of ``TILE_ROWS`` rows x ``TILE_COLS`` columns, so both a block
of rows and a chunk of columns can be produced without generating the whole matrix. The first s
rows do not depend on s: a matrix with more rows extends one with fewer.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
import scipy.fft
import scipy.sparse

from hessian.defaults import TILE

NOISES = ("gaussian", "rademacher", "ssrft", "sparse")
TILE_ROWS = 16
TILE_COLS = TILE

#: streams of one seed: independent matrices that never overlap
STREAM_RIGHT, STREAM_LEFT, STREAM_PROBES, STREAM_DIAGONAL, STREAM_KRYLOV = 0, 1, 2, 3, 4


def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=key)))


class SketchingMatrix(ABC):
    """An s x D random sketching matrix; ``stream`` separates independent matrices of one seed."""

    kind = "abstract"

    def __init__(self, s: int, D: int, seed: int, stream: int = 0):
        if s < 1 or D < 1:
            raise ValueError(f"a test matrix needs s >= 1 and D >= 1, got s={s}, D={D}")
        if int(seed) < 0 or int(stream) < 0:
            raise ValueError(f"seed and stream must be non-negative, got {seed}, {stream}")
        self.s, self.D, self.seed, self.stream = int(s), int(D), int(seed), int(stream)
        self.shape = (self.s, self.D)

    @abstractmethod
    def rows(self, start: int, stop: int, dtype=np.float64) -> np.ndarray:
        """Rows start..stop-1 as a dense (stop - start, D) array (test vectors); entries are
        drawn in float64 and returned in ``dtype``."""

    def block(self, index: int, size: int) -> np.ndarray:
        """Rows of measurement block ``index`` when blocks hold ``size`` rows."""
        start = index * size
        if not 0 <= start < self.s:
            raise IndexError(f"block {index} of size {size} is outside s = {self.s}")
        return self.rows(start, min(self.s, start + size))

    def apply_cols(self, X_part: np.ndarray, start: int) -> np.ndarray:
        """Phi[:, start:start+len(X_part)] @ X_part: one row chunk's share of Phi @ X."""
        raise NotImplementedError(
            f"the {self.kind} test matrix cannot be applied one row chunk at a time"
        )

    def apply(self, X: np.ndarray) -> np.ndarray:
        """Phi @ X for X of shape (D,) or (D, m), in float64 (a float32 X is not copied)."""
        X = np.asarray(X)
        if X.dtype not in (np.float32, np.float64):
            X = X.astype(np.float64)
        vec = X.ndim == 1
        X2 = X.reshape(-1, 1) if vec else X
        if X2.shape[0] != self.D:
            raise ValueError(f"test matrix of shape {self.shape} cannot multiply {X.shape}")
        out = np.zeros((self.s, X2.shape[1]))
        for c0 in range(0, self.D, TILE_COLS):
            out += self.apply_cols(X2[c0 : c0 + TILE_COLS], c0)
        return out.ravel() if vec else out

    def dense(self) -> np.ndarray:
        """The whole matrix (small problems and tests only)."""
        return self.rows(0, self.s)

    def _check_rows(self, start: int, stop: int) -> None:
        if not 0 <= start <= stop <= self.s:
            raise IndexError(f"rows {start}:{stop} are outside 0:{self.s}")

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(s={self.s}, D={self.D}, seed={self.seed}, stream={self.stream})"
        )


class _TiledDense(SketchingMatrix):
    """Dense i.i.d. entries generated tile by tile from (seed, stream, row tile, column tile)."""

    def _tile(self, ti: int, tj: int) -> np.ndarray:
        width = min(TILE_COLS, self.D - tj * TILE_COLS)
        return self._draw(_rng(self.seed, self.stream, ti, tj), (TILE_ROWS, width))

    def _draw(self, rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
        raise NotImplementedError

    def _slab(self, start: int, stop: int, c0: int, c1: int) -> np.ndarray:
        """Entries [start:stop, c0:c1]; c0 and c1 must lie on column-tile bounds (or D)."""
        out = np.empty((stop - start, c1 - c0))
        for ti in range(start // TILE_ROWS, (stop - 1) // TILE_ROWS + 1):
            r0 = ti * TILE_ROWS
            lo, hi = max(start, r0), min(stop, r0 + TILE_ROWS)
            for tj in range(c0 // TILE_COLS, (c1 - 1) // TILE_COLS + 1):
                tile = self._tile(ti, tj)
                a0 = tj * TILE_COLS
                out[lo - start : hi - start, a0 - c0 : a0 - c0 + tile.shape[1]] = tile[
                    lo - r0 : hi - r0
                ]
        return out

    def rows(self, start: int, stop: int, dtype=np.float64) -> np.ndarray:
        self._check_rows(start, stop)
        if start == stop:
            return np.empty((0, self.D), dtype=dtype)
        return self._slab(start, stop, 0, self.D).astype(dtype, copy=False)

    def apply_cols(self, X_part: np.ndarray, start: int) -> np.ndarray:
        X_part = np.asarray(X_part, dtype=np.float64)
        m = X_part.shape[0]
        if start % TILE_COLS or (m % TILE_COLS and start + m != self.D):
            raise ValueError(f"column chunk {start}:{start + m} is not aligned to {TILE_COLS}")
        return self._slab(0, self.s, start, start + m) @ X_part


class Gaussian(_TiledDense):
    """I.i.d. standard normal entries."""

    kind = "gaussian"

    def _draw(self, rng, shape):
        return rng.standard_normal(shape)


class Rademacher(_TiledDense):
    """I.i.d. +-1 entries with equal probability."""

    kind = "rademacher"

    def _draw(self, rng, shape):
        return rng.integers(0, 2, size=shape, dtype=np.int8).astype(np.float64) * 2 - 1


class SSRFT(SketchingMatrix):
    """Subsampled randomized trigonometric transform Phi = R F P2 F P1 (orthonormal DCT-II).

    (P x)_i = sign_i x_{perm_i}; R keeps s distinct random coordinates; so Phi has orthonormal
    rows. Woolfe, Liberty, Rokhlin & Tygert (2008); Tropp et al. (2019), §3.3.
    """

    kind = "ssrft"

    def __init__(self, s: int, D: int, seed: int, stream: int = 0):
        super().__init__(s, D, seed, stream)
        if s > D:
            raise ValueError(f"SSRFT keeps s distinct coordinates: needs s <= D, got s={s}, D={D}")
        rng = _rng(self.seed, self.stream)
        self.perm1, self.perm2 = rng.permutation(D), rng.permutation(D)
        self.sign1 = rng.integers(0, 2, D).astype(np.float64) * 2 - 1
        self.sign2 = rng.integers(0, 2, D).astype(np.float64) * 2 - 1
        self.keep = rng.permutation(D)[:s]

    def apply(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if X.shape[0] != self.D:
            raise ValueError(f"test matrix of shape {self.shape} cannot multiply {X.shape}")
        sg1 = self.sign1 if X.ndim == 1 else self.sign1[:, None]
        sg2 = self.sign2 if X.ndim == 1 else self.sign2[:, None]
        Y = scipy.fft.dct(sg1 * X[self.perm1], type=2, norm="ortho", axis=0)
        Y = scipy.fft.dct(sg2 * Y[self.perm2], type=2, norm="ortho", axis=0)
        return Y[self.keep]

    def rows(self, start: int, stop: int, dtype=np.float64) -> np.ndarray:
        """Phi^T e_i for i in start..stop-1: the transposed transform on unit vectors."""
        self._check_rows(start, stop)
        m = stop - start
        E = np.zeros((self.D, m))
        E[self.keep[start:stop], np.arange(m)] = 1.0
        E = scipy.fft.idct(E, type=2, norm="ortho", axis=0)
        U = np.empty_like(E)
        U[self.perm2] = self.sign2[:, None] * E
        U = scipy.fft.idct(U, type=2, norm="ortho", axis=0)
        out = np.empty_like(U)
        out[self.perm1] = self.sign1[:, None] * U
        return out.T.astype(dtype)


class SparseSign(SketchingMatrix):
    """Sparse sign embedding: each column has ``zeta`` entries +-1 in distinct random rows.

    Tropp, Yurtsever, Udell & Cevher (2019), §3.3: zeta = 8 suffices in practice. Columns are
    generated in chunks of ``TILE_COLS`` from (seed, stream, chunk).
    """

    kind = "sparse"

    def __init__(self, s: int, D: int, seed: int, stream: int = 0, zeta: int = 8):
        super().__init__(s, D, seed, stream)
        self.zeta = min(int(zeta), self.s)

    def cache(self, use: str = "cols") -> SparseSign:
        """Keep the drawn tiles between calls: ``use="cols"`` for ``apply``/``apply_cols``
        (sparse float32 tiles, ~8 bytes per entry), ``use="rows"`` for ``rows`` (the entries
        sorted by row, so a block of rows is a slice per tile; ~7 bytes per entry)."""
        if use not in ("cols", "rows"):
            raise ValueError(f"use must be 'cols' or 'rows', got {use!r}")
        self._tiles = {} if use == "cols" else None
        self._by_row = {} if use == "rows" else None
        return self

    def _sorted_by_row(self, tj: int):
        """Entries of tile tj sorted by row: (rows, columns within the tile, signs)."""
        cache = getattr(self, "_by_row", None)
        if cache is not None and tj in cache:
            return cache[tj]
        idx, signs = self._draw(tj)
        flat = idx.ravel()
        order = np.argsort(flat, kind="stable")
        out = (flat[order], (order // self.zeta).astype(np.int32), signs.ravel()[order])
        if cache is not None:
            cache[tj] = out
        return out

    def _draw(self, tj: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows (width, zeta) and signs (width, zeta) of column tile tj."""
        width = min(TILE_COLS, self.D - tj * TILE_COLS)
        rng = _rng(self.seed, self.stream, tj)
        if self.s <= 4 * self.zeta:  # few rows: the zeta smallest of s random keys per column
            idx = np.argsort(rng.random((width, self.s)), axis=1)[:, : self.zeta]
        else:  # many rows: draw, and redraw the columns whose rows repeat (rarely needed)
            idx = rng.integers(0, self.s, size=(width, self.zeta))
            while True:
                srt = np.sort(idx, axis=1)
                dup = (srt[:, 1:] == srt[:, :-1]).any(axis=1)
                if not dup.any():
                    break
                idx[dup] = rng.integers(0, self.s, size=(int(dup.sum()), self.zeta))
        signs = rng.integers(0, 2, size=(width, self.zeta)).astype(np.float64) * 2 - 1
        small = np.int16 if self.s < 2**15 else np.int32
        return idx.astype(small), signs.astype(np.int8)

    def _chunk(self, tj: int) -> scipy.sparse.csc_matrix | scipy.sparse.csr_matrix:
        """Column tile tj as a sparse matrix (cached, in float32, when ``cache("cols")``; built
        from the row-sorted entries, without drawing again, when ``cache("rows")``)."""
        tiles = getattr(self, "_tiles", None)
        if tiles is not None and tj in tiles:
            return tiles[tj]
        by_row = getattr(self, "_by_row", None)
        if by_row is not None and tj in by_row:
            rows, cols, signs = by_row[tj]
            indptr = np.searchsorted(rows, np.arange(self.s + 1))
            width = min(TILE_COLS, self.D - tj * TILE_COLS)
            return scipy.sparse.csr_matrix(
                (signs.astype(np.float32), cols, indptr), shape=(self.s, width)
            )
        idx, signs = self._draw(tj)
        width = idx.shape[0]
        indptr = np.arange(0, width * self.zeta + 1, self.zeta)
        dtype = np.float32 if tiles is not None else np.float64  # +-1: exact in either
        out = scipy.sparse.csc_matrix(
            (signs.ravel().astype(dtype), idx.ravel().astype(np.int32), indptr),
            shape=(self.s, width),
        )
        if tiles is not None:
            tiles[tj] = out
        return out

    def rows(self, start: int, stop: int, dtype=np.float64) -> np.ndarray:
        self._check_rows(start, stop)
        out = np.zeros((stop - start, self.D), dtype=dtype)
        for tj in range((self.D - 1) // TILE_COLS + 1):
            rows, cols, signs = self._sorted_by_row(tj)
            lo, hi = np.searchsorted(rows, [start, stop])
            out[rows[lo:hi] - start, tj * TILE_COLS + cols[lo:hi]] = signs[lo:hi]
        return out

    def apply_cols(self, X_part: np.ndarray, start: int) -> np.ndarray:
        X_part = np.asarray(X_part)
        if X_part.dtype not in (np.float32, np.float64):
            X_part = X_part.astype(np.float64)
        m = X_part.shape[0]
        if start % TILE_COLS or (m % TILE_COLS and start + m != self.D):
            raise ValueError(f"column chunk {start}:{start + m} is not aligned to {TILE_COLS}")
        out = np.zeros((self.s, *X_part.shape[1:]))  # accumulated in float64
        for k, c0 in enumerate(range(start, start + m, TILE_COLS)):
            out += self._chunk(c0 // TILE_COLS) @ X_part[k * TILE_COLS : (k + 1) * TILE_COLS]
        return out


_KINDS = {c.kind: c for c in (Gaussian, Rademacher, SSRFT, SparseSign)}


def sketching_matrix(noise: str, s: int, D: int, seed: int, stream: int = 0) -> SketchingMatrix:
    """Build the s x D sketching matrix of kind ``noise`` (one of ``NOISES``)."""
    if noise not in _KINDS:
        raise ValueError(f"unknown noise {noise!r}: choose one of {', '.join(NOISES)}")
    return _KINDS[noise](s, D, seed, stream)


def sketch_pair(noise: str, s: int, D: int, seed: int) -> tuple[SketchingMatrix, SketchingMatrix]:
    """The two matrices of a single-pass sketch: Phi_R (its rows are the test vectors) and Phi_L
    (applied to the products), streams 0 and 1 of ``seed``. A sparse sign pair keeps the tiles
    each side needs between calls: Phi_R by rows, Phi_L by columns."""
    R = sketching_matrix(noise, s, D, seed, STREAM_RIGHT)
    L = sketching_matrix(noise, s, D, seed, STREAM_LEFT)
    if isinstance(R, SparseSign):
        R.cache("rows")
        L.cache("cols")
    return R, L
