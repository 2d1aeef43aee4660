"""The measurement run: every block of a sketch store that is not done, measured on Dask.

Blocks are independent, idempotent jobs (``hessian.out_of_core.blocks``): a rerun skips done
blocks, and done blocks whose data no longer reads back intact are measured again; a killed
worker or run loses at most its blocks in flight. They run on a new ``LocalCluster`` by default,
on an existing cluster (an address or a client), or in this process (``scheduler="inprocess"``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from hessian import devices
from hessian.operators.spec import OperatorSpec
from hessian.out_of_core import cluster
from hessian.out_of_core.blocks import flush, forget, measure_block
from hessian.out_of_core.progress import MeasureProgress
from hessian.out_of_core.store import SketchStore


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
        scheduler: None for a new ``LocalCluster`` of ``n_workers`` processes (for products on
            ``cuda`` or ``auto`` with GPUs: one worker per GPU, ``CUDA_VISIBLE_DEVICES`` each);
            a scheduler address ("tcp://host:port") or a ``distributed.Client`` for an existing
            cluster; "inprocess" to run the blocks in this process (``op`` may then be passed).
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
    gpus = None
    if scheduler is None:  # a new LocalCluster: one worker per GPU for a spec on cuda / auto
        spec = store.group.attrs.get("spec") or ""
        gpus = devices.worker_gpus(OperatorSpec.from_json(spec).device) if spec else None
        n_workers = len(gpus) if gpus else n_workers
    threads = cluster.threads_per_worker(n_workers, threads)

    with MeasureProgress(progress, st.n_blocks, skipped, t0) as bar:

        def record(rep):
            nonlocal hvp_seconds
            if rep["status"] == "measured":
                measured.append(rep["block"])
                if rep["worker"] not in workers:
                    workers.append(rep["worker"])
                hvp_seconds += rep["seconds"]
                n_vec = sum(np.diff(st.block_range(b))[0] for b in measured)
                bar.block_measured(len(measured), len(todo) - len(measured), n_vec)

        if scheduler == "inprocess":
            torch.set_num_threads(threads)
            while todo:
                for j in todo:
                    record(measure_block(url, j, op))
                flush(url)
                todo = _wait_for_others(store, poll_seconds)
            forget(url)
        else:
            with cluster.client(scheduler, n_workers, threads, gpus) as client:
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
        bar.finish(int(store.done().sum()))
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
