"""The Dask side of a measurement run: a LocalCluster set up for HVPs, or a client of an
existing cluster, opened for the run and closed after it (only what the run opened)."""

from __future__ import annotations

import contextlib
import os

import dask


def threads_per_worker(n_workers: int = 1, threads: int | None = None) -> int:
    """``threads``, else this machine's cores divided among ``n_workers`` (at least 1)."""
    return threads or max(1, (os.cpu_count() or 1) // max(1, n_workers))


def local_cluster(n_workers: int = 1, threads: int | None = None, gpus: list[int] | None = None):
    """A ``distributed.LocalCluster`` of ``n_workers`` processes set up for HVPs.

    Each worker runs one task at a time with ``threads`` torch/MKL/OpenMP threads (default: the
    cores divided among the workers). Dask starts workers with OMP/MKL_NUM_THREADS=1, and
    torch.set_num_threads later does not undo that for MKL (HVPs ran ~2x slower), so the
    counts are set in the workers' environment before they spawn.

    ``gpus``: one worker per GPU instead (``n_workers`` is then their number), each seeing only
    its own (``CUDA_VISIBLE_DEVICES``), where it is ``cuda``; ``hessian.devices.worker_gpus``.
    """
    from distributed import LocalCluster

    n_workers = len(gpus) if gpus else n_workers
    n = threads_per_worker(n_workers, threads)
    env = {"OMP_NUM_THREADS": n, "MKL_NUM_THREADS": n, "OPENBLAS_NUM_THREADS": 1}
    with dask.config.set({"distributed.nanny.pre-spawn-environ": env}):
        cluster = LocalCluster(
            n_workers=0 if gpus else n_workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=40,
        )
        if gpus:  # the spec of one worker per GPU; env is set in each child before it starts
            base = cluster.new_worker_spec()
            _, spec = next(iter(base.items()))
            for i in gpus:
                opts = spec["options"] | {"env": {"CUDA_VISIBLE_DEVICES": str(i)}}
                cluster.worker_spec[f"gpu-{i}"] = spec | {"options": opts}
            cluster.sync(cluster._correct_state)
            cluster.wait_for_workers(len(gpus))
        return cluster


def scheduler_is_client(x) -> bool:
    """Whether ``x`` is a ``distributed.Client`` (checked without importing distributed)."""
    return type(x).__name__ == "Client" and hasattr(x, "submit")


@contextlib.contextmanager
def client(scheduler, n_workers: int, threads: int, gpus: list[int] | None = None):
    """A distributed Client for a run: ``scheduler`` itself if it is one; a client of the
    cluster at an address; or a new LocalCluster (None; one worker per GPU of ``gpus``). What
    is opened here is closed here."""
    from distributed import Client

    if scheduler_is_client(scheduler):
        yield scheduler
        return
    cluster = local_cluster(n_workers, threads, gpus) if scheduler is None else None
    c = Client(cluster if cluster is not None else scheduler)
    try:
        yield c
    finally:
        c.close()
        if cluster is not None:
            cluster.close()
