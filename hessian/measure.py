"""Measurement jobs: independent, idempotent, resumable blocks of batched HVPs into a sketch store.

Block j regenerates its b test vectors phi_i (rows j b .. (j+1) b - 1 of Phi_R) from the seed,
measures y_i = H phi_i in one pass over the data, writes its outer columns (if i < r) and its
inner block Phi_L [y_i], and only then marks itself done (``hessian.store``). A rerun skips done
blocks; done blocks whose data no longer reads back intact are measured again.

Blocks run on Dask: a ``LocalCluster`` by default, an existing scheduler by address, or in this
process (``scheduler="inprocess"``). Each worker process builds the operator once, from the
store's own spec and parameters, checks that its fingerprint matches the store's, and reuses it
for all its blocks. While a block's products run, the previous block is reduced (Phi_L y) and
written by a background thread, so the disk and the inner sketch hide behind the HVPs.
"""

from __future__ import annotations

import concurrent.futures
import os
import socket
import threading
import time
from dataclasses import dataclass, field

import dask
import numpy as np
import torch

from hessian.seigh import STREAM_LEFT, STREAM_RIGHT
from hessian.spec import OperatorSpec, fingerprint
from hessian.store import SketchStore, StoreMismatchError
from hessian.test_matrices import test_matrix


@dataclass
class _Context:
    """What one process keeps between blocks: the store, the operator, the test matrices."""

    store: SketchStore
    op: object
    Phi_R: object
    Phi_L: object
    writer: concurrent.futures.ThreadPoolExecutor = field(
        default_factory=lambda: concurrent.futures.ThreadPoolExecutor(1)
    )
    pending: concurrent.futures.Future | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


_CONTEXTS: dict[str, _Context] = {}
_WORKER = f"{socket.gethostname()}:{os.getpid()}"  # who measured a block (host:pid)


def _test_matrices(store: SketchStore):
    st = store.settings
    R = test_matrix(st.noise, st.s, st.D, st.seed, STREAM_RIGHT)
    L = test_matrix(st.noise, st.s, st.D, st.seed, STREAM_LEFT)
    if hasattr(R, "cache"):  # sparse sign: keep what each side needs between blocks
        R.cache("rows")
        L.cache("cols")
    return R, L


def _context(url: str, op=None) -> _Context:
    """This process's context for the store at ``url`` (built once)."""
    ctx = _CONTEXTS.get(url)
    if ctx is None:
        store = SketchStore.open(url, mode="r+")
        if op is None:
            spec = OperatorSpec.from_json(store.group.attrs["spec"])
            op = spec.build(store.params(), store.buffers())
        fp = fingerprint(op)
        if fp != store.group.attrs["fingerprint"]:
            raise StoreMismatchError(
                f"the operator rebuilt in process {os.getpid()} differs from the one the store "
                f"at {url} was made for (fingerprint {fp[:12]} vs "
                f"{store.group.attrs['fingerprint'][:12]}): data or parameters differ"
            )
        ctx = _Context(store, op, *_test_matrices(store))
        _CONTEXTS[url] = ctx
    return ctx


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
            V = torch.from_numpy(ctx.Phi_R.rows(c0, c1, dtype=np_dtype))
            Y = ctx.op.matmat_rows(V).T.numpy()
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


@dataclass
class MeasureReport:
    """What a measurement run did."""

    total_blocks: int
    measured: list[int]
    skipped: int
    remeasured: list[int]
    seconds: float
    hvp_seconds: float
    n_hvp: int
    workers: list[str] = field(default_factory=list)  # host:pid of the processes that measured

    @property
    def hvps_per_second(self) -> float:
        return self.n_hvp / self.seconds if self.seconds > 0 else float("nan")


def _progress(enabled: bool):
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("blocks, {task.fields[rate]} HVP/s"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        disable=not enabled,
    )


def run_measurements(
    url: str,
    *,
    scheduler=None,
    n_workers: int = 1,
    threads: int | None = None,
    progress: bool = True,
    verify: bool = True,
    op=None,
    poll_seconds: float = 0.5,
) -> MeasureReport:
    """Measure every block of the store at ``url`` that is not done, and wait until all are.

    Args:
        scheduler: None for a new ``LocalCluster`` of ``n_workers`` processes; a scheduler
            address ("tcp://host:port") or a ``distributed.Client`` for an existing cluster;
            "inprocess" to run the blocks in this process (``op`` may then be passed).
        threads: torch threads per worker (default: the cores divided among the workers).
        verify: re-read the blocks marked done and measure again those that are corrupted or
            missing (a full read of the outer sketch; skipped on a fresh store).
    """
    store = SketchStore.open(url, mode="r+")
    st = store.settings
    t0 = time.perf_counter()
    remeasured = []
    done_before = int(store.done().sum())
    if verify and done_before:
        remeasured = store.verify()
        store.mark_undone(remeasured)
    todo = store.pending()
    skipped = st.n_blocks - len(todo)
    measured, hvp_seconds, workers = [], 0.0, []
    threads = threads or max(1, (os.cpu_count() or 1) // max(1, n_workers))

    with _progress(progress) as bar:
        task = bar.add_task("measuring", total=st.n_blocks, completed=skipped, rate="-")

        plain = progress and not bar.console.is_terminal  # logs: a line every 30 s instead
        last_line = [t0]

        def record(rep):
            nonlocal hvp_seconds
            if rep["status"] == "measured":
                measured.append(rep["block"])
                if rep["worker"] not in workers:
                    workers.append(rep["worker"])
                hvp_seconds += rep["seconds"]
                elapsed = time.perf_counter() - t0
                n_vec = sum(np.diff(st.block_range(b))[0] for b in measured)
                bar.update(task, advance=1, rate=f"{n_vec / elapsed:.1f}")
                if plain and time.perf_counter() - last_line[0] > 30:
                    last_line[0] = time.perf_counter()
                    left = len(todo) - len(measured)
                    eta = left * elapsed / len(measured)
                    print(
                        f"measuring: {skipped + len(measured)}/{st.n_blocks} blocks, "
                        f"{n_vec / elapsed:.2f} HVP/s, ETA {eta / 60:.1f} min",
                        flush=True,
                    )

        if scheduler == "inprocess":
            torch.set_num_threads(threads)
            while todo:
                for j in todo:
                    record(measure_block(url, j, op))
                flush(url)
                todo = _wait_for_others(store, poll_seconds)
            forget(url)
        else:
            with _client(scheduler, n_workers, threads) as client:
                from distributed import as_completed

                while todo:
                    futures = [
                        client.submit(measure_block, url, j, threads=threads, pure=False, retries=3)
                        for j in todo
                    ]
                    for fut in as_completed(futures):
                        record(fut.result())
                    client.run(flush, url)
                    todo = _wait_for_others(store, poll_seconds)
                client.run(forget, url)
        bar.update(task, completed=int(store.done().sum()))
    if workers:  # provenance: which processes (host:pid) measured this store's blocks
        before = list(store.group.attrs.get("measured_by", []))
        store.group.attrs["measured_by"] = sorted(set(before) | set(workers))
    n_hvp = sum(np.diff(st.block_range(b))[0] for b in measured)
    return MeasureReport(
        st.n_blocks, sorted(measured), skipped, remeasured,
        time.perf_counter() - t0, hvp_seconds, int(n_hvp), sorted(workers),
    )  # fmt: skip


def _wait_for_others(store: SketchStore, poll_seconds: float) -> list[int]:
    """Blocks still pending; if some are claimed by another process, wait for a change first."""
    todo = store.pending()
    if todo:
        time.sleep(poll_seconds)
        todo = store.pending()
    return todo


class _client:
    """A distributed Client: a new LocalCluster (closed after), or one to an existing cluster."""

    def __init__(self, scheduler, n_workers: int, threads: int):
        self.scheduler, self.n_workers, self.threads = scheduler, n_workers, threads
        self.cluster = self.client = None
        self.own = False

    def __enter__(self):
        from distributed import Client

        if scheduler_is_client(self.scheduler):
            self.client = self.scheduler
            return self.client
        if self.scheduler is None:
            self.cluster = local_cluster(self.n_workers, self.threads)
            self.client = Client(self.cluster)
        else:
            self.client = Client(self.scheduler)
        self.own = True
        return self.client

    def __exit__(self, *exc):
        if self.own:
            self.client.close()
            if self.cluster is not None:
                self.cluster.close()


def local_cluster(n_workers: int = 1, threads: int | None = None):
    """A ``distributed.LocalCluster`` of ``n_workers`` processes set up for HVPs.

    Each worker runs one task at a time with ``threads`` torch/MKL/OpenMP threads (default: the
    cores divided among the workers). Dask starts workers with OMP/MKL_NUM_THREADS=1, and
    torch.set_num_threads later does not undo that for MKL (HVPs ran ~2x slower), so the
    counts are set in the workers' environment before they spawn.
    """
    from distributed import LocalCluster

    n = threads or max(1, (os.cpu_count() or 1) // max(1, n_workers))
    env = {"OMP_NUM_THREADS": n, "MKL_NUM_THREADS": n, "OPENBLAS_NUM_THREADS": 1}
    with dask.config.set({"distributed.nanny.pre-spawn-environ": env}):
        return LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=40,
        )


def scheduler_is_client(x) -> bool:
    return type(x).__name__ == "Client" and hasattr(x, "submit")
