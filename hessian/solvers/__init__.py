"""Eigensolvers for symmetric operators, each returning an ``EigenResult`` in |lambda| order.

- ``seigh`` (single-pass sketch, s products) and ``nystrom`` (its PSD variant);
- ``accurate_eigh``: the accurate mode (thick-restart block Lanczos, ``krylov_schur``, until the
  top-k are certified); ``certificates``: residuals, certified rank, Davis-Kahan bounds;
- ``exact_eigh`` / ``dense``: the dense float64 reference of small problems;
- ``accuracy``: a-posteriori Frobenius error, scree bounds, residuals, eigenvalue errors;
- ``sketching_matrices``: the random matrices a sketch is measured with, regenerated from a seed;
- ``linalg``: the float64 algebra the solvers share (orth, Gram orthogonalisation, the core solve).

A new solver takes any operator with ``.shape`` and ``@`` (wrapped in
``hessian.operators.CountingOperator``), draws its random vectors from ``sketching_matrix``
(a stream of its own), and returns an ``EigenResult``; see docs/architecture.md.
"""

from hessian.solvers.accuracy import (
    FrobeniusErrorEstimate,
    aposteriori_error,
    eigenvalue_errors,
    probability_bounds,
    residuals,
    scree_bounds,
)
from hessian.solvers.accurate import accurate_eigh, block_krylov_eigh
from hessian.solvers.certificates import Certificate, certify, certify_by_products
from hessian.solvers.exact import (
    ExactRequest,
    dense,
    exact_eigh,
    load_reference,
    save_reference,
    stored_reference,
)
from hessian.solvers.result import EigenResult, order_by_magnitude
from hessian.solvers.sketch import nystrom, seigh
from hessian.solvers.sketching_matrices import NOISES, SketchingMatrix, sketching_matrix

__all__ = [
    "NOISES",
    "Certificate",
    "EigenResult",
    "ExactRequest",
    "FrobeniusErrorEstimate",
    "SketchingMatrix",
    "accurate_eigh",
    "aposteriori_error",
    "block_krylov_eigh",
    "certify",
    "certify_by_products",
    "dense",
    "eigenvalue_errors",
    "exact_eigh",
    "load_reference",
    "nystrom",
    "order_by_magnitude",
    "probability_bounds",
    "residuals",
    "save_reference",
    "scree_bounds",
    "seigh",
    "sketching_matrix",
    "stored_reference",
]
