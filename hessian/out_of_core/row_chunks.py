"""Passes over the row chunks of a sketch store, folded on Dask.

A pass maps each row chunk (start, stop) of the outer sketch to partial results and folds them
(``dask.bag`` with ``fold``, four partials at a time): threads by default, or any dask scheduler
name or distributed client.
"""

from __future__ import annotations

import dask.bag as db

from hessian.solvers.row_passes import sum_parts  # noqa: F401  (the passes' sum, re-exported)


def blas_threads(scheduler, num_workers: int) -> int | None:
    """BLAS threads per task of a pass: 1 where several dask threads share the cores, else
    BLAS's own (None)."""
    return 1 if scheduler == "threads" and num_workers > 1 else None


def fold(chunks, fn, combine, scheduler, num_workers):
    """``fn`` over every chunk, its results folded with ``combine``."""
    bag = db.from_sequence(chunks, npartitions=len(chunks))
    kw = {"scheduler": scheduler}
    if scheduler in ("threads", "processes"):
        kw["num_workers"] = num_workers
    return bag.map(fn).fold(combine, split_every=4).compute(**kw)
