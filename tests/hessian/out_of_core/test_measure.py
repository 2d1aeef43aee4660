"""The measurement run over all blocks on a Dask cluster: a killed worker is survived, two runs
on one store share the work."""

import json
import os
import signal
import threading
import time

import numpy as np

import hessian
from hessian import out_of_core
from hessian.operators import fingerprint
from hessian.out_of_core import SketchSettings, SketchStore, run_measurements

from .helpers import start_runner
from .runner import spec as runner_spec


def test_sigkill_of_a_worker_process_is_survived(tmp_path):
    """SIGKILL the Dask worker mid-run: its nanny restarts it, Dask retries the lost block."""
    from distributed import Client, LocalCluster

    url = str(tmp_path / "h.zarr")
    k, s, block = 100, 400, 2
    spec = runner_spec(block)
    op = spec.build()
    store = SketchStore.open_or_create(
        url,
        SketchSettings(D=op.D, k=k, s=s, oversample=25, seed=5, vectors_per_block=block,
                       dtype="float64"),
        fingerprint(op), spec.to_json(), op.theta.numpy(),
    )  # fmt: skip
    with LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=None,
                      silence_logs=50) as cluster, Client(cluster) as client:  # fmt: skip
        pid = next(iter(client.run(os.getpid).values()))
        out = {}
        t = threading.Thread(
            target=lambda: out.update(rep=run_measurements(url, scheduler=client, progress=False))
        )
        t.start()
        deadline = time.time() + 120
        while store.done().sum() < 20 and time.time() < deadline:
            time.sleep(0.05)
        done_at_kill = np.flatnonzero(store.done())
        stamps = store.finished_at()[done_at_kill]
        killed_at = time.time()
        os.kill(pid, signal.SIGKILL)
        t.join(timeout=180)
        new_pid = next(iter(client.run(os.getpid).values()))
    assert new_pid != pid and store.done().all()
    measured = out["rep"].measured  # by this run, before and after the kill: each block once
    assert len(measured) == len(set(measured)), measured
    # a block the worker wrote just before it was killed is kept (not measured again), though
    # its report died with the worker
    lost = sorted(set(range(s // block)) - set(measured))
    assert len(lost) <= 1 and all(store.finished_at()[b] <= killed_at for b in lost), lost
    np.testing.assert_array_equal(store.finished_at()[done_at_kill], stamps)
    res = out_of_core.solve(url)
    ref = hessian.seigh(op, k=k, s=s, seed=5, noise="sparse", oversample=25)
    np.testing.assert_allclose(res.eigenvalues, ref.eigenvalues, rtol=1e-9)


def test_two_runs_on_one_store_share_the_work(tmp_path, op):
    url = tmp_path / "h.zarr"
    k, s, block = 80, 200, 2
    spec = runner_spec(block)
    SketchStore.open_or_create(
        str(url),
        SketchSettings(D=op.D, k=k, s=s, oversample=20, seed=5, vectors_per_block=block,
                       dtype="float64"),
        fingerprint(spec.build()), spec.to_json(), op.theta.numpy(),
    )  # fmt: skip
    procs = [start_runner(url, "inprocess", k, s, block, "measure-only") for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    measured = [json.loads(o[0].strip().splitlines()[-1])["measured"] for o in outs]
    assert sorted(measured[0] + measured[1]) == list(range(s // block))  # each block once
    res = out_of_core.solve(str(url))
    ref = hessian.seigh(spec.build(), k=k, s=s, seed=5, noise="sparse", oversample=20)
    np.testing.assert_allclose(res.eigenvalues, ref.eigenvalues, rtol=1e-9)
