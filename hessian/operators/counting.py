"""The solvers' view of any operator: products of float numpy blocks, counted.

``CountingOperator`` wraps one of our curvature operators, a dense array or a scipy
``LinearOperator``, so that a solver can apply it to test vectors and report the products and
passes over the data it used, whatever the operator is.
"""

from __future__ import annotations

import numpy as np
import torch

from hessian.defaults import MAX_VECTORS_PER_CALL


class CountingOperator:
    """Wraps any operator (ours, a dense array, a scipy LinearOperator) to apply it to float64
    numpy blocks and count the products and passes it used. Wrapping a CountingOperator
    returns it (one set of counters)."""

    def __new__(cls, op=None):
        if isinstance(op, CountingOperator):  # already counting: share its counters
            return op
        return super().__new__(cls)

    def __init__(self, op):
        if op is self:
            return
        self.op = op
        self.D = int(op.shape[0])
        if op.shape[0] != op.shape[1]:
            raise ValueError(f"operator must be square, got shape {op.shape}")
        self.n_hvp = 0
        self.n_passes = 0
        #: vectors the operator multiplies in one pass (ours: ``vectors_per_pass``; others: any)
        self.vectors_per_pass = int(getattr(op, "vectors_per_pass", 1 << 30))
        name = str(getattr(op, "dtype", "float64")).removeprefix("torch.")  # torch or numpy
        self.dtype = np.dtype(name if name in ("float32", "float64") else "float64")

    def vectors_per_call(self, asked: int | None = None) -> int:
        """Test vectors a solver hands to the operator at a time: ``asked``, else the
        operator's vectors per pass, at most ``MAX_VECTORS_PER_CALL``."""
        return int(asked or min(self.vectors_per_pass, MAX_VECTORS_PER_CALL))

    def rows(self, V: np.ndarray) -> np.ndarray:
        """(op @ V^T)^T for test vectors as the rows of V (m, D), in the operator's dtype.

        Our operators work on rows, so this skips the two transposed float64 copies of D x m
        that ``op @ X`` makes (2.4 s of an 18 s sketch at D = 1M, k = 100). On a CUDA device the
        result lies in one of the operator's two reused pinned host buffers: it stays valid
        until the second call after (keep a copy to hold it longer)."""
        V = np.ascontiguousarray(V, dtype=self.dtype)
        stats = getattr(self.op, "stats", None)
        before = stats.n_passes if stats is not None else 0
        if hasattr(self.op, "host_rows"):
            out = self.op.host_rows(V)
        elif hasattr(self.op, "matmat_rows"):
            out = self.op.matmat_rows(torch.from_numpy(V)).cpu().numpy()
        else:
            out = np.asarray(self.op @ V.T).T
        if not np.isfinite(out).all():
            raise FloatingPointError("the operator returned NaN or inf")
        self.n_hvp += V.shape[0]
        self.n_passes += (stats.n_passes - before) if stats is not None else 1
        return out

    def __call__(self, X: np.ndarray) -> np.ndarray:
        """op @ X for X (D,) or (D, m); the result in float64."""
        X = np.asarray(X)
        if X.ndim == 1:
            return self.rows(X[None])[0].astype(np.float64)
        return self.rows(X.T).T.astype(np.float64)
