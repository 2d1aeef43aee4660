"""The measurement block: one independent, idempotent job of batched HVPs into a sketch store.

Block j regenerates its b test vectors phi_i (rows j b .. (j+1) b - 1 of Phi_R) from the seed,
measures y_i = H phi_i in one pass over the data, writes its outer columns (if i < r) and its
inner block Phi_L [y_i], and only then marks itself done (``hessian.out_of_core.store``).

Each process keeps a context per store (the per-process cache, ``_CONTEXTS``): the operator,
built once from the store's own spec and parameters and checked against the store's
fingerprint, and the sketching matrices, reused for all the blocks the process measures. While
a block's products run, the previous block is reduced (Phi_L y) and written by a background
thread, so the disk and the inner sketch hide behind the HVPs.
"""

from __future__ import annotations

import concurrent.futures
import os
import socket
import threading
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from hessian.exceptions import ProblemError, StoreMismatchError
from hessian.operators.spec import OperatorSpec, fingerprint
from hessian.out_of_core.store import SketchStore
from hessian.solvers.sketching_matrices import sketch_pair


@dataclass
class _Context:
    """What one process keeps between blocks: the store, the operator, the sketching matrices."""

    store: SketchStore
    op: object
    Phi_R: object
    Phi_L: object
    writer: concurrent.futures.ThreadPoolExecutor = field(
        default_factory=lambda: concurrent.futures.ThreadPoolExecutor(1)
    )
    pending: concurrent.futures.Future | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


#: this process's contexts, by store URL (built by the first block, dropped by ``forget``)
_CONTEXTS: dict[str, _Context] = {}
_WORKER = f"{socket.gethostname()}:{os.getpid()}"  # who measured a block (host:pid)


def _context(url: str, op=None) -> _Context:
    """This process's context for the store at ``url`` (built once)."""
    ctx = _CONTEXTS.get(url)
    if ctx is None:
        store = SketchStore.open(url, mode="r+")
        op = worker_operator(store, url, op)
        st = store.settings
        ctx = _Context(store, op, *sketch_pair(st.noise, st.s, st.D, st.seed))
        _CONTEXTS[url] = ctx
    return ctx


def worker_operator(store, url: str, op=None):
    """The operator of a store (a sketch or an accurate basis store: its spec, params, buffers
    and fingerprint), rebuilt in this process unless ``op`` is given, and checked against the
    store's fingerprint. A user problem that does not import here fails with one message naming
    its path and this worker.

    Raises:
        ProblemError: the problem does not build here. StoreMismatchError: another operator.
    """
    if op is None:
        spec = OperatorSpec.from_json(store.group.attrs["spec"])
        try:
            op = spec.build(store.params(), store.buffers())
        except ProblemError as e:
            where = spec.factory or spec.problem
            raise ProblemError(
                f"worker {_WORKER} cannot build the problem {where!r}: {e}"
            ) from None
    fp = fingerprint(op)
    if fp != store.group.attrs["fingerprint"]:
        raise StoreMismatchError(
            f"the operator rebuilt in process {os.getpid()} differs from the one the store at "
            f"{url} was made for (fingerprint {fp[:12]} vs "
            f"{store.group.attrs['fingerprint'][:12]}): data or parameters differ"
        )
    return op


def _write(ctx: _Context, j: int, Y: np.ndarray, claim) -> None:
    try:
        Z = ctx.Phi_L.apply(Y)
        ctx.store.write_block(j, Y.astype(ctx.store.settings.dtype, copy=False), Z)
    finally:
        ctx.store.release(claim)


def measure_block(url: str, j: int, op=None, threads: int | None = None) -> dict:
    """Measure block j of the store at ``url`` unless it is done or claimed by another process.

    Returns a small report: block, status ("measured", "done", "claimed"), seconds of products,
    and the worker (host:pid) that ran it.
    The block's write may still be in flight when this returns; ``flush(url)`` waits for it.
    ``threads`` sets torch's threads in the thread that runs the block (OpenMP's thread count
    is per calling thread, and Dask workers start with OMP_NUM_THREADS=1).
    """
    if threads:
        torch.set_num_threads(threads)
    ctx = _context(url, op)
    st = ctx.store.settings
    with ctx.lock:
        if ctx.store.is_done(j):
            return {"block": j, "status": "done", "seconds": 0.0, "worker": _WORKER}
        claim = ctx.store.try_claim(j)
        if claim is None:
            return {"block": j, "status": "claimed", "seconds": 0.0, "worker": _WORKER}
        try:
            if ctx.store.is_done(j):  # finished by another process just before our claim
                ctx.store.release(claim)
                return {"block": j, "status": "done", "seconds": 0.0, "worker": _WORKER}
            c0, c1 = st.block_range(j)
            t = time.perf_counter()
            np_dtype = np.float32 if ctx.op.dtype == torch.float32 else np.float64
            # the test vectors are drawn on the host (bitwise the same for every device and
            # worker) and cross to the device; the products come back into a reused pinned
            # buffer, which holds until the write of the block before this one has finished
            V = torch.from_numpy(ctx.Phi_R.rows(c0, c1, dtype=np_dtype))
            Y = ctx.op.host_rows(V).T
            seconds = time.perf_counter() - t
        except BaseException:
            ctx.store.release(claim)
            raise
        if ctx.pending is not None:  # at most one write in flight: bounded memory
            ctx.pending.result()
        # the claim is held until the block is written and marked done
        ctx.pending = ctx.writer.submit(_write, ctx, j, Y, claim)
    return {"block": j, "status": "measured", "seconds": seconds, "worker": _WORKER}


def flush(url: str) -> None:
    """Wait for this process's pending write to the store at ``url`` (re-raises its error)."""
    ctx = _CONTEXTS.get(url)
    if ctx is not None and ctx.pending is not None:
        ctx.pending.result()
        ctx.pending = None


def forget(url: str) -> None:
    """Drop this process's cached context for ``url`` (after a run, or to rebuild)."""
    flush(url)
    _CONTEXTS.pop(url, None)
