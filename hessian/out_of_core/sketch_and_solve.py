"""One call for a sketch that lives on disk: lay out or resume the store, measure, solve.

    request = SketchRequest(OperatorSpec("wide_mlp"), k=1000, s=2000)
    result, report = sketch("runs/h.zarr", request, params)
    result, report = sketch("runs/h.zarr", OperatorSpec("wide_mlp"), params, k=1000)  # the same

Everything is resumable: a rerun with the same arguments skips the blocks that are done, and
re-measures those whose data was lost or corrupted (also when the solve finds them); a complete,
solved store whose blocks and solution all verify is returned as it is, without solving again; a
damaged solution is solved again from the intact sketches (``result.info["repaired"]`` says what
was repaired).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from hessian import defaults
from hessian._checks import as_request
from hessian.exceptions import CorruptBlockError, CorruptSolutionError
from hessian.operators.spec import OperatorSpec, fingerprint
from hessian.out_of_core.certify import certify_store
from hessian.out_of_core.measure import MeasureReport, run_measurements
from hessian.out_of_core.settings import SketchSettings
from hessian.out_of_core.store import SketchStore
from hessian.out_of_core.streamed_solve import StreamedSolve, solve
from hessian.solvers.certificates import RESIDUAL_TOL, SUBSPACE_TOL


@dataclass(frozen=True)
class SketchRequest:
    """What an out-of-core sketch is: the operator, the sketch, its store, its measurement run,
    and the probes of its a-posteriori error.

    Attributes:
        operator: the curvature operator (any worker rebuilds it from this and the parameters).
        k, s, oversample, seed, noise: as in ``hessian.seigh`` (s: 2k by default, oversample:
            min(k // 4, s - k); the store's default noise is the sparse sign embedding).
        dtype: of the stored outer sketch ("float32" halves the disk; the algebra is float64).
        chunk_rows: rows of D per chunk of the store (a multiple of 65,536).
        vectors_per_block: test vectors per measurement block, the unit of work and resumption
            (default: the operator's ``vectors_per_pass``, so a block is one pass over the data).
        n_workers, threads: Dask worker processes of a new LocalCluster, torch threads in each.
        probes: Gaussian probes of the a-posteriori error of the result.
        certify, tol, subspace_tol: certify the solution with fresh products of 64 pairs
            (``hessian.out_of_core.certify``), to these tolerances.
    """

    operator: OperatorSpec
    k: int
    s: int | None = None
    oversample: int | None = None
    seed: int = 0
    noise: str = "sparse"
    dtype: str = "float32"
    chunk_rows: int = defaults.CHUNK_ROWS
    vectors_per_block: int | None = None
    n_workers: int = 1
    threads: int | None = None
    probes: int = defaults.APOSTERIORI_PROBES
    certify: bool = True
    tol: float = RESIDUAL_TOL
    subspace_tol: float = SUBSPACE_TOL

    def settings(self, D: int) -> SketchSettings:
        """The store's settings for an operator of D parameters, every default filled in."""
        s = defaults.sketch_size(self.k) if self.s is None else int(self.s)
        oversample = (
            defaults.oversampling(self.k, s) if self.oversample is None else self.oversample
        )
        return SketchSettings(
            D=D, k=self.k, s=s, oversample=oversample, seed=self.seed, noise=self.noise,
            vectors_per_block=self.vectors_per_block or self.operator.vectors_per_pass,
            dtype=self.dtype, chunk_rows=self.chunk_rows,
        )  # fmt: skip


def sketch(
    url: str,
    request: SketchRequest | OperatorSpec,
    params=None,
    *,
    buffers=None,
    scheduler=None,
    progress: bool = True,
    solve_scheduler="threads",
    **settings,
) -> tuple[StreamedSolve, MeasureReport]:
    """Sketch the operator of ``request`` at ``params`` into the store at ``url`` and solve it.

    Args:
        request: a ``SketchRequest``; or an ``OperatorSpec`` with the request's other fields as
            keywords (``k=``, ``s=``, ``noise=``, ...).
        params: the flat parameters (None: the problem's initialisation); ``buffers``: the
            model's floating buffers (``hessian.operators.flat_buffers``; BatchNorm statistics).
        scheduler: where the blocks run, as in ``hessian.out_of_core.run_measurements``.
        solve_scheduler: the dask scheduler of the streamed solve.

    Returns:
        The solution (``reused=True`` when the store held it already) and the measurement report.
    """
    if isinstance(request, OperatorSpec):
        request = SketchRequest(request, **settings)
    else:
        request = as_request(SketchRequest, request, settings)
    spec = request.operator
    if scheduler != "inprocess":  # only its fingerprint is needed here: no device memory taken
        spec = replace(spec, device="cpu")  # from the workers that share this machine's GPUs
    op = spec.build(params, buffers)
    theta = op.theta.detach().cpu().numpy().astype(np.float64)
    opened = SketchStore.open_or_create(
        url, request.settings(op.D), fingerprint(op), request.operator.to_json(), theta,
        buffers=buffers,
    )  # fmt: skip
    repaired = list(opened.repaired)
    local = {"op": op} if scheduler == "inprocess" else {}
    if scheduler != "inprocess":
        del op  # the workers build their own (rebuilt below for the certificate)
    measure = {"scheduler": scheduler, "n_workers": request.n_workers,
               "threads": request.threads, "progress": progress, **local}  # fmt: skip
    report = run_measurements(url, **measure)
    if report.remeasured:
        repaired.append(f"measurement blocks {report.remeasured} (damaged; measured again)")
    store = SketchStore.open(url)  # fresh attributes: the measurement may have changed them
    result = None
    if store.solved and not report.measured:  # complete and verified: reuse the solution
        try:
            store.verify_solution()
            info = store.solve_info | ({"repaired": repaired} if repaired else {})
            result = StreamedSolve(store.eigenvalues(), store, info, reused=True)
        except CorruptSolutionError as e:
            repaired.append(f"the solution ({e}; solved again from the intact sketches)")
    if result is None:
        try:
            result = solve(url, scheduler=solve_scheduler)
        except CorruptBlockError as e:  # lost or damaged after measuring: measure again, once
            SketchStore.open(url, mode="r+").mark_undone(e.blocks)
            repaired.append(f"measurement blocks {e.blocks} (damaged; measured again)")
            report = run_measurements(url, verify=False, **measure)
            result = solve(url, scheduler=solve_scheduler)
        if repaired:
            result.info["repaired"] = repaired
    if request.certify:
        op = local.get("op") or request.operator.build(params, buffers)
        result.certificate = certify_store(
            url, op, tol=request.tol, subspace_tol=request.subspace_tol
        )
    return result, report


def repair_solution(url: str, *, solve_scheduler="threads") -> str | None:
    """Check a solved store's solution; a damaged one is solved again from the sketches.

    Returns:
        None when the solution is intact, else one line saying what was repaired.

    Raises:
        CorruptBlockError: the sketches themselves are damaged (measure them again:
            ``sketch``).
    """
    store = SketchStore.open(url)
    bad = store.verify()
    if bad:
        raise CorruptBlockError(bad)
    try:
        store.verify_solution()
        return None
    except CorruptSolutionError as e:
        reason = str(e)
    solve(url, scheduler=solve_scheduler)
    return f"{reason}: solved again from the intact sketches"
