"""Out of core: sketches that live on disk, measured on Dask, solved and analysed by streaming.

    from hessian import OperatorSpec, SketchRequest, out_of_core
    request = SketchRequest(OperatorSpec("wide_mlp"), k=1000)
    result, report = out_of_core.sketch("runs/h.zarr", request, params)
    out_of_core.overlaps("runs/h.zarr", {"magnitude": mask})

Nothing of size D x k is held in memory. The parts, in the order a sketch meets them:
``settings`` (what defines a sketch), ``store`` (the Zarr group: layout, checksums, the
solution), ``blocks`` (one measurement job and its per-process cache), ``cluster`` (the Dask
client of a run), ``progress`` (what a run shows), ``measure`` (the run over all blocks),
``streamed_solve``, ``passes`` (overlaps, gather, cross-overlap, a-posteriori error) over
``row_chunks``, and ``sketch_and_solve`` (the one call that does it all, resumably); ``certify``
(the sketch's certificate from fresh products). The accurate solver's basis lives in a
``basis_store`` (its chunks read and written as their files: ``chunk_files``), solved by
``accurate`` (thick-restart block Lanczos); ``solutions.open_solution``
opens a solved store of either kind.
"""

from hessian.exceptions import CorruptBlockError, CorruptSolutionError, StoreMismatchError
from hessian.out_of_core.accurate_solve import AccurateRequest, AccurateResult, accurate
from hessian.out_of_core.basis_store import AccurateSettings, BasisStore
from hessian.out_of_core.blocks import flush, forget, measure_block
from hessian.out_of_core.certify import certify_store
from hessian.out_of_core.cluster import local_cluster, scheduler_is_client
from hessian.out_of_core.measure import MeasureReport, run_measurements
from hessian.out_of_core.passes import (
    Gathered,
    StreamedOverlaps,
    aposteriori_error,
    cross_overlap,
    gather,
    overlaps,
)
from hessian.out_of_core.settings import SketchSettings
from hessian.out_of_core.sketch_and_solve import SketchRequest, repair_solution, sketch
from hessian.out_of_core.solutions import open_solution
from hessian.out_of_core.space import check_space
from hessian.out_of_core.store import SketchStore
from hessian.out_of_core.streamed_solve import StreamedSolve, solve

__all__ = [
    "AccurateRequest",
    "AccurateResult",
    "AccurateSettings",
    "BasisStore",
    "CorruptBlockError",
    "CorruptSolutionError",
    "Gathered",
    "MeasureReport",
    "SketchRequest",
    "SketchSettings",
    "SketchStore",
    "StoreMismatchError",
    "StreamedOverlaps",
    "StreamedSolve",
    "accurate",
    "aposteriori_error",
    "certify_store",
    "check_space",
    "cross_overlap",
    "flush",
    "forget",
    "gather",
    "local_cluster",
    "measure_block",
    "open_solution",
    "overlaps",
    "repair_solution",
    "run_measurements",
    "scheduler_is_client",
    "sketch",
    "solve",
]
