"""What defines a sketch besides its operator: sizes, seed, sketching-matrix kind, the width of a
measurement block, the stored dtype and the row chunks. A store records them and refuses to
resume with others."""

from __future__ import annotations

import math
from dataclasses import InitVar, dataclass

from hessian.defaults import CHUNK_ROWS, TILE, VECTORS_PER_PASS


@dataclass(frozen=True)
class SketchSettings:
    """What defines a sketch besides the operator.

    ``vectors_per_block``: test vectors per measurement block, the unit of work and resumption
    (one job each) and the column width of the store's chunks (formerly ``block_size``, still
    accepted). ``chunk_rows`` must be a multiple of the sketching matrices' column tile (65,536)
    so that a row chunk of the outer sketch meets whole tiles (or be >= D).
    """

    D: int
    k: int
    s: int
    oversample: int = 0
    seed: int = 0
    noise: str = "sparse"
    vectors_per_block: int = VECTORS_PER_PASS
    dtype: str = "float32"
    chunk_rows: int = CHUNK_ROWS
    block_size: InitVar[int | None] = None  # the old name of vectors_per_block (old stores)

    def __post_init__(self, block_size: int | None):
        if block_size is not None:
            object.__setattr__(self, "vectors_per_block", int(block_size))
        if not 1 <= self.k <= self.D:
            raise ValueError(f"k must be in 1..D = {self.D}, got k={self.k}")
        if self.oversample < 0:
            raise ValueError(f"oversample must be >= 0, got {self.oversample}")
        if not self.r <= self.s <= self.D:
            raise ValueError(f"s must satisfy k + oversample = {self.r} <= s <= D, got s={self.s}")
        if self.vectors_per_block < 1:
            raise ValueError(f"vectors_per_block must be >= 1, got {self.vectors_per_block}")
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {self.dtype!r}")
        if self.chunk_rows % TILE and self.chunk_rows < self.D:
            raise ValueError(f"chunk_rows must be a multiple of {TILE} (or >= D)")

    @property
    def r(self) -> int:
        return self.k + self.oversample

    @property
    def n_blocks(self) -> int:
        return math.ceil(self.s / self.vectors_per_block)

    @property
    def nbytes(self) -> int:
        """Bytes the store needs on disk: outer sketch, inner sketch, parameters, solution (the
        r x k transform and k eigenvalues) and the per-block records."""
        item = 4 if self.dtype == "float32" else 8
        return (
            self.D * self.r * item + self.s * self.s * 8 + self.D * 8
            + self.r * self.k * 8 + self.k * 8 + self.n_blocks * 9
        )  # fmt: skip

    def block_range(self, j: int) -> tuple[int, int]:
        return j * self.vectors_per_block, min(self.s, (j + 1) * self.vectors_per_block)
