"""Passes over the rows of a tall basis, a range of rows per task, on a few threads.

    passes = RowPasses(row_parts(D), threads=pass_threads(n_parts))
    P, WW = passes.sum(project, W)          # fn(a, c, *args) per row range, summed in order
    passes.close()

Each task runs on one BLAS thread (the caller sets that: ``threadpool_limits(1)``); numpy's
matmul releases the GIL, so two tasks use two cores. (scipy's BLAS wrappers, ``dgemm`` and the
like, hold it: two threads calling them ran at 0.82x of one.) The parts are summed in the order
of their rows, so the thread count and the threads' timing change no bit of a result.
"""

from __future__ import annotations

import functools
import itertools
import os
from concurrent.futures import ThreadPoolExecutor

from threadpoolctl import ThreadpoolController

#: pass threads at most: each holds its range's buffers
PASS_THREADS = 4
#: rows of a pass' tile: 512 x 1,000 float64 columns is 4 MB, used twice while in cache
TILE_ROWS = 512


def pass_threads(n_parts: int) -> int:
    """Threads for a basis' passes: the cores this process may use, at most ``PASS_THREADS``
    and one per part. The products are not running while the passes do (a step's products
    come first), so the passes may take every core."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(PASS_THREADS, cores, n_parts))


def one_blas_thread(controller: ThreadpoolController | None = None):
    """A context manager: BLAS on one thread per calling thread, by ``controller`` (a
    ``ThreadpoolController`` made once per basis: making one looks the loaded libraries up, 2 ms
    here, 5 % of a small solve's step if done per step)."""
    return (controller or ThreadpoolController()).limit(limits=1, user_api="blas")


def row_parts(D: int, rows: int = 1 << 16) -> list[tuple[int, int]]:
    """D rows in an even number of near-equal ranges of at most ``rows`` (two threads share
    them evenly); the split depends on D alone, so a result does not depend on the threads."""
    n = 2 * -(-D // (2 * rows)) if D > 1 else 1
    edges = [D * i // n for i in range(n + 1)]
    return [(a, c) for a, c in itertools.pairwise(edges) if c > a]


def tiles(a: int, c: int, rows: int = TILE_ROWS):
    """(t0, t1) ranges of at most ``rows`` rows covering a..c-1."""
    for t0 in range(a, c, rows):
        yield t0, min(c, t0 + rows)


def sum_parts(a, b):
    """Element-wise sum of two tuples of partial sums."""
    return tuple(x + y for x, y in zip(a, b, strict=True))


class RowPasses:
    """``fn(a, c, *args)`` for every row range (a, c), on ``threads`` threads, in order."""

    def __init__(self, ranges: list[tuple[int, int]], threads: int):
        self.ranges = list(ranges)
        self.threads = max(1, min(int(threads), len(self.ranges)))
        self._pool = None
        self.blas = ThreadpoolController()  # the libraries loaded now (numpy's, scipy's BLAS)

    def one_blas_thread(self):
        """BLAS on one thread per calling thread while the passes run (a context manager)."""
        return one_blas_thread(self.blas)

    def map(self, fn, *args) -> list:
        """The results of every range, in the ranges' order."""
        if self.threads == 1:
            return [fn(a, c, *args) for a, c in self.ranges]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="basis-pass")
        futures = [self._pool.submit(fn, a, c, *args) for a, c in self.ranges]
        try:
            return [f.result() for f in futures]
        finally:
            for f in futures:  # an error (or Ctrl-C): the ranges not started are not run
                f.cancel()

    def sum(self, fn, *args) -> tuple:
        """The ranges' tuples of partial sums, summed in the ranges' order."""
        return functools.reduce(sum_parts, self.map(fn, *args))

    def close(self) -> None:
        """Stop the threads (a later pass starts them again)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
