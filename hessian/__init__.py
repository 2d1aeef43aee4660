"""hessian: top Hessian eigenspaces of neural nets by sketching, and their relation to masks.

Pure torch / numpy / scipy (zarr and dask for the out-of-core parts): no Prefect, no MLflow.
The library is built of wings, each a subpackage with one face:

    hessian.problems      the paper's problems: model, parameters, loss, data, settings
    hessian.operators     HessianOperator, GGNOperator (batched, never formed), OperatorSpec
    hessian.solvers       seigh, nystrom, accurate_eigh, exact_eigh; certificates, accuracy
    hessian.out_of_core   on disk: the sketch store, measurement blocks on Dask, the streamed
                          solve; the accurate solver's basis store
    hessian.study         masks, metrics, the step analysis, plots
    hessian.training      plain SGD and the checkpoints of a run

and the names most scripts need are here at the top:

    problems.load(name, ...)            the paper's problems
    HessianOperator, GGNOperator        batched curvature operators over a fixed data subset
    seigh(op, k=, s=, seed=, noise=)    single-pass sketched eigendecomposition (|lambda| order)
    nystrom(op, k=...)                  PSD variant (GGN)
    accurate_eigh(op, k=..., tol=1e-2)  accurate mode: thick-restart block Lanczos, certified
    Certificate                         every result's residuals and certified rank
    exact_eigh(op, k=None)              dense float64 reference (small problems)
    aposteriori_error, scree_bounds, residuals
    overlap(mask_indices, eigenvectors) overlap for every k; masks.magnitude / random / best
    hutchinson_diagonal, exact_diagonal diagonals for masks.ggn_diagonal
    OperatorSpec, SketchRequest         an operator any worker rebuilds; an out-of-core sketch
    out_of_core.sketch, SketchStore     the out-of-core sketch and its Zarr store
    out_of_core.accurate, AccurateRequest  the out-of-core accurate solver (basis on disk)

Every exception is in ``hessian.exceptions``. Old module paths (``hessian.store``,
``hessian.streamed``, ...) still import, with a DeprecationWarning naming the new one.
"""

from hessian import (
    _moved,
    exceptions,
    operators,
    out_of_core,
    problems,
    solvers,
    study,
    training,
)
from hessian._version import __version__ as __version__
from hessian.exceptions import (
    CorruptBlockError,
    NondeterministicOperatorError,
    StoreMismatchError,
)
from hessian.operators import (
    CurvatureOperator,
    GGNOperator,
    HessianOperator,
    OperatorSpec,
)
from hessian.out_of_core import AccurateRequest, SketchRequest, SketchStore
from hessian.solvers import (
    NOISES,
    Certificate,
    EigenResult,
    accurate_eigh,
    aposteriori_error,
    block_krylov_eigh,
    dense,
    eigenvalue_errors,
    exact_eigh,
    nystrom,
    probability_bounds,
    residuals,
    scree_bounds,
    seigh,
    sketching_matrix,
)
from hessian.study import (
    chance,
    exact_diagonal,
    hutchinson_diagonal,
    masks,
    metrics,
    overlap,
)

_moved.install()

__all__ = [
    "NOISES",
    "AccurateRequest",
    "Certificate",
    "CorruptBlockError",
    "CurvatureOperator",
    "EigenResult",
    "GGNOperator",
    "HessianOperator",
    "NondeterministicOperatorError",
    "OperatorSpec",
    "SketchRequest",
    "SketchStore",
    "StoreMismatchError",
    "accurate_eigh",
    "aposteriori_error",
    "block_krylov_eigh",
    "chance",
    "dense",
    "eigenvalue_errors",
    "exact_diagonal",
    "exact_eigh",
    "exceptions",
    "hutchinson_diagonal",
    "masks",
    "metrics",
    "nystrom",
    "operators",
    "out_of_core",
    "overlap",
    "probability_bounds",
    "problems",
    "residuals",
    "scree_bounds",
    "seigh",
    "sketching_matrix",
    "solvers",
    "study",
    "training",
]


def __getattr__(name: str):
    """Old names: modules that moved (``hessian.store``) and names that were renamed."""
    if f"hessian.{name}" in _moved.MOVED:
        import importlib

        return importlib.import_module(f"hessian.{name}")
    if name in _moved.RENAMED:
        return _moved.lookup("hessian", name, ("hessian.solvers",))
    raise AttributeError(f"module 'hessian' has no attribute {name!r}")
