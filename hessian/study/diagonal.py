"""Diagonals of curvature operators, for diagonal-score masks (e.g. the GGN-diagonal mask).

Hutchinson's estimator (Bekas, Kokiopoulou & Saad 2007, "An estimator for the diagonal of a
matrix"): with Rademacher probes z_i, diag(M) ~ (1/n) sum_i z_i * (M z_i), unbiased, with variance
sum_{j != i} M_ij^2 / n per entry. The probes are batched through the operator (one data pass per
block). ``exact_diagonal`` gives e_i^T M e_i by D products: small problems and tests only.
"""

from __future__ import annotations

import numpy as np

from hessian.defaults import HUTCHINSON_PROBES, MAX_VECTORS_PER_CALL
from hessian.operators.counting import CountingOperator
from hessian.solvers.linalg import unit_columns
from hessian.solvers.sketching_matrices import STREAM_DIAGONAL, sketching_matrix


def hutchinson_diagonal(
    op, n_probes: int = HUTCHINSON_PROBES, *, seed: int = 0, block: int = 64
) -> np.ndarray:
    """Unbiased estimate of diag(M) from ``n_probes`` Rademacher probes (float64, shape (D,))."""
    if n_probes < 1:
        raise ValueError(f"n_probes must be >= 1, got {n_probes}")
    A = CountingOperator(op)
    Z = sketching_matrix("rademacher", n_probes, A.D, seed, STREAM_DIAGONAL)
    acc = np.zeros(A.D)
    for i in range(0, n_probes, block):
        Zb = Z.rows(i, min(n_probes, i + block)).T
        acc += np.sum(Zb * A(Zb), axis=1)
    return acc / n_probes


def exact_diagonal(op, block: int = MAX_VECTORS_PER_CALL) -> np.ndarray:
    """diag(M) exactly, by M @ e_i in column blocks (D products; small problems only)."""
    A = CountingOperator(op)
    out = np.empty(A.D)
    for i in range(0, A.D, block):
        j = min(A.D, i + block)
        out[i:j] = A(unit_columns(A.D, i, j))[np.arange(i, j), np.arange(j - i)]
    return out
