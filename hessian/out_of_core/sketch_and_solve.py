"""One call for a sketch that lives on disk: lay out or resume the store, measure, solve.

    result = sketch("runs/h.zarr", OperatorSpec("wide_mlp"), params, k=1000, s=2000)

Everything is resumable: a rerun with the same arguments skips the blocks that are done, and
re-measures those whose data was lost or corrupted (also when the solve finds them); a complete,
solved store whose blocks all verify is returned as it is, without solving again.
"""

from __future__ import annotations

import numpy as np

from hessian import defaults
from hessian.exceptions import CorruptBlockError
from hessian.operators.spec import OperatorSpec, fingerprint
from hessian.out_of_core.measure import MeasureReport, run_measurements
from hessian.out_of_core.store import SketchSettings, SketchStore
from hessian.out_of_core.streamed_solve import StreamedSolve, solve


def sketch(
    url: str,
    spec: OperatorSpec,
    params=None,
    *,
    buffers=None,
    k: int,
    s: int | None = None,
    oversample: int | None = None,
    seed: int = 0,
    noise: str = "sparse",
    dtype: str = "float32",
    chunk_rows: int = defaults.CHUNK_ROWS,
    scheduler=None,
    n_workers: int = 1,
    threads: int | None = None,
    progress: bool = True,
    solve_scheduler="threads",
) -> tuple[StreamedSolve, MeasureReport]:
    """Sketch the operator of ``spec`` at ``params`` into the store at ``url`` and solve it.

    Arguments as in ``hessian.seigh`` (``s`` defaults to 2k, ``oversample`` to min(k//4, s-k));
    ``buffers``: the model's floating buffers (``spec.flat_buffers``; BatchNorm statistics);
    ``dtype`` is that of the stored outer sketch; ``scheduler``, ``n_workers``, ``threads`` as
    in ``hessian.out_of_core.run_measurements``.
    """
    op = spec.build(params, buffers)
    D = op.D
    s = defaults.sketch_size(k) if s is None else int(s)
    if oversample is None:
        oversample = defaults.oversampling(k, s)
    settings = SketchSettings(
        D=D, k=k, s=s, oversample=oversample, seed=seed, noise=noise,
        block_size=spec.block_size, dtype=dtype, chunk_rows=chunk_rows,
    )  # fmt: skip
    theta = op.theta.detach().cpu().numpy().astype(np.float64)
    SketchStore.open_or_create(
        url, settings, fingerprint(op), spec.to_json(), theta, buffers=buffers
    )
    local = {"op": op} if scheduler == "inprocess" else {}
    if scheduler != "inprocess":
        del op  # the workers build their own
    report = run_measurements(
        url, scheduler=scheduler, n_workers=n_workers, threads=threads, progress=progress,
        **local,
    )  # fmt: skip
    store = SketchStore.open(url)  # fresh attributes: the measurement may have changed them
    if store.solved and not report.measured:  # complete and verified: reuse the solution
        return StreamedSolve(store.eigenvalues(), store, store.solve_info, reused=True), report
    try:
        result = solve(url, scheduler=solve_scheduler)
    except CorruptBlockError as e:  # lost or damaged after measuring: measure again, once
        SketchStore.open(url, mode="r+").mark_undone(e.blocks)
        report = run_measurements(
            url, scheduler=scheduler, n_workers=n_workers, threads=threads, progress=progress,
            verify=False, **local,
        )  # fmt: skip
        result = solve(url, scheduler=solve_scheduler)
    return result, report
