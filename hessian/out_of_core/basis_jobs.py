"""The accurate solver's product jobs: dst[:, cols] = H src[:, cols] for columns of its store.

Each job reads its columns (a few vectors of the basis, or of the verification sample) row chunk
by row chunk, multiplies them by this process's operator (built once per store from the store's
spec and parameters and checked against its fingerprint, as the sketch's measurement blocks),
writes the products, and only then marks itself with the step's key, so a rerun skips it. Jobs
of a step write disjoint column chunks: safe on any number of Dask workers.
"""

from __future__ import annotations

import os
import socket
import time

import numpy as np
import torch

from hessian.out_of_core.basis_store import BasisStore
from hessian.out_of_core.blocks import worker_operator

_OPERATORS: dict[str, object] = {}  # this process's operators, by store URL
_WORKER = f"{socket.gethostname()}:{os.getpid()}"


def _operator(store: BasisStore, op=None):
    if store.url in _OPERATORS:
        return _OPERATORS[store.url]
    op = worker_operator(store, store.url, op)
    _OPERATORS[store.url] = op
    return op


def product_job(url: str, src: str, c0: int, c1: int, dst: str, d0: int, flags: str, j: int,
                key: int, threads: int | None = None, op=None) -> dict:  # fmt: skip
    """dst[:, d0:d0+w] = H src[:, c0:c1], then flags[j] = key (one writer per chunk column)."""
    if threads:
        torch.set_num_threads(threads)
    store = BasisStore.open(url, mode="r+")
    if int(store.group[flags][j]) == key:
        return {"job": j, "status": "done", "seconds": 0.0, "worker": _WORKER}
    A = _operator(store, op)
    dtype = np.float32 if A.dtype == torch.float32 else np.float64
    V = np.empty((c1 - c0, store.settings.D), dtype=dtype)  # rows: the operator's layout
    for a, b in store.row_chunks():
        store.read(src, a, b, slice(c0, c1), out=V[:, a:b].T)
    t = time.perf_counter()
    if hasattr(A, "host_rows"):  # the products cross back through its pinned host buffers
        Y = A.host_rows(V)
    else:
        Y = A.matmat_rows(torch.from_numpy(V)).cpu().numpy()
    seconds = time.perf_counter() - t
    for a, b in store.row_chunks():
        store.write(dst, a, b, d0, Y[:, a:b].T)
    store.group[flags][j] = key
    return {"job": j, "status": "measured", "seconds": seconds, "worker": _WORKER}


def forget(url: str) -> None:
    _OPERATORS.pop(url, None)


class Jobs:
    """Runs a step's product jobs in this process or on a Dask client (kept for the solve)."""

    def __init__(self, url, client, threads, op=None):
        self.url, self.client, self.threads, self.op = url, client, threads, op
        self.seconds, self.products, self.jobs, self.workers = 0.0, 0, 0, set()

    def run(self, src, c0, c1, dst, flags, key, width):
        args = [(src, a, min(c1, a + width), dst, a - c0, flags, j, key)
                for j, a in enumerate(range(c0, c1, width))]  # fmt: skip
        if self.client is None:
            reps = [product_job(self.url, *a, op=self.op) for a in args]
        else:
            futs = [self.client.submit(product_job, self.url, *a, threads=self.threads,
                                       pure=False, retries=3) for a in args]  # fmt: skip
            reps = self.client.gather(futs)
        for r in reps:
            if r["status"] == "measured":
                self.seconds += r["seconds"]
                self.jobs += 1
                self.workers.add(r["worker"])
        self.products += c1 - c0
