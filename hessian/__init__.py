"""hessian: top Hessian eigenspaces of neural nets by sketching, and their relation to masks.

Pure torch / numpy / scipy (zarr and dask for the out-of-core parts): no Prefect, no MLflow.

Public API:
    problems.load(name, ...)            the paper's problems: model, parameters, loss, data
    HessianOperator, GGNOperator        batched curvature operators over a fixed data subset
    seigh(op, k=, s=, seed=, noise=)    single-pass sketched eigendecomposition (|lambda| order)
    nystrom(op, k=...)                  PSD variant (GGN)
    block_krylov_eigh(op, k=...)        accurate mode (randomized block Krylov + Rayleigh-Ritz)
    exact_eigh(op, k=None)              dense float64 reference (small problems)
    aposteriori_error, scree_bounds, residuals
    overlap(mask_indices, eigenvectors) overlap for every k; masks.magnitude / random / best
    hutchinson_diagonal, exact_diagonal diagonals for masks.ggn_diagonal
"""

from hessian import masks, metrics, problems
from hessian._operator_base import CurvatureOperator, NondeterministicOperatorError
from hessian.diagonal import exact_diagonal, hutchinson_diagonal
from hessian.eigen import EigenResult, eigenvalue_errors
from hessian.errors import aposteriori_error, probability_bounds, residuals, scree_bounds
from hessian.exact import dense, exact_eigh
from hessian.ggn_operator import GGNOperator
from hessian.hessian_operator import HessianOperator
from hessian.krylov import block_krylov_eigh
from hessian.metrics import chance, overlap
from hessian.seigh import nystrom, seigh
from hessian.test_matrices import NOISES, test_matrix

__version__ = "0.1.0"

__all__ = [
    "NOISES",
    "CurvatureOperator",
    "EigenResult",
    "GGNOperator",
    "HessianOperator",
    "NondeterministicOperatorError",
    "aposteriori_error",
    "block_krylov_eigh",
    "chance",
    "dense",
    "eigenvalue_errors",
    "exact_diagonal",
    "exact_eigh",
    "hutchinson_diagonal",
    "masks",
    "metrics",
    "nystrom",
    "overlap",
    "probability_bounds",
    "problems",
    "residuals",
    "scree_bounds",
    "seigh",
    "test_matrix",
]
