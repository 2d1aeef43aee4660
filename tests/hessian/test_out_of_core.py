"""The out-of-core path: store, resumable measurement jobs (also under SIGKILL), streamed solve."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import hessian
from hessian import masks, metrics, streamed
from hessian.measure import measure_block, run_measurements
from hessian.out_of_core import sketch
from hessian.store import CorruptBlockError, SketchStore, StoreMismatchError

from .ooc_runner import spec as runner_spec

ROOT = Path(__file__).resolve().parents[2]
K, S = 60, 120


@pytest.fixture(scope="module")
def op():
    return runner_spec(8).build()


@pytest.fixture(scope="module")
def reference(op):
    """The in-memory sketch with the runner's settings (seed 5, default oversampling)."""
    return hessian.seigh(op, k=K, s=S, seed=5, noise="sparse")


def run(url, **kw):
    kw = {"k": K, "s": S, "seed": 5, "dtype": "float64", "scheduler": "inprocess",
          "progress": False} | kw  # fmt: skip
    return sketch(str(url), runner_spec(8), **kw)


@pytest.mark.parametrize("noise", ["sparse", "gaussian"])
def test_out_of_core_equals_in_memory(tmp_path, op, noise):
    res, rep = run(tmp_path / "h.zarr", noise=noise)
    ref = hessian.seigh(op, k=K, s=S, seed=5, noise=noise)
    assert rep.measured == list(range(S // 8)) and rep.n_hvp == S
    np.testing.assert_allclose(res.eigenvalues, ref.eigenvalues, rtol=1e-9, atol=1e-12)
    V = res.eigenvectors()
    assert metrics.subspace_overlap(ref.eigenvectors, V) > 1 - 1e-10
    np.testing.assert_allclose(V.T @ V, np.eye(K), atol=1e-10)
    # streamed overlaps equal the in-memory metrics for every k
    theta = op.theta.numpy()
    mag, rnd = masks.magnitude(theta, K), masks.random(op.D, K, draws=30, seed=2)
    ov = streamed.overlaps(str(tmp_path / "h.zarr"), {"mag": mag, "rnd": rnd})
    np.testing.assert_allclose(ov.curves["mag"], metrics.overlap(mag, ref.eigenvectors), atol=1e-12)
    np.testing.assert_allclose(ov.curves["rnd"], metrics.overlap(rnd, ref.eigenvectors), atol=1e-12)
    np.testing.assert_allclose(ov.best, masks.best_overlap(ref.eigenvectors), atol=1e-12)


def test_float32_store_is_close(tmp_path, reference):
    res, _ = run(tmp_path / "h.zarr", dtype="float32")
    errs = hessian.eigenvalue_errors(res.eigenvalues, reference.eigenvalues)["matched"]
    assert errs.max() < 1e-4  # float32 rounding of the stored sketch only
    assert metrics.subspace_overlap(reference.eigenvectors, res.eigenvectors()) > 1 - 1e-5


def test_rerun_skips_done_blocks(tmp_path, op, reference):
    url = str(tmp_path / "h.zarr")
    first, _ = run(url)
    stamps = SketchStore.open(url).finished_at()
    again, rep = run(url)
    assert rep.measured == [] and rep.skipped == S // 8
    np.testing.assert_array_equal(SketchStore.open(url).finished_at(), stamps)
    np.testing.assert_array_equal(again.eigenvalues, first.eigenvalues)


def test_mismatch_is_refused(tmp_path, op):
    url = str(tmp_path / "h.zarr")
    run(url)
    with pytest.raises(StoreMismatchError, match="fingerprint"):
        run(url, params=op.theta.numpy() * 1.01)
    with pytest.raises(StoreMismatchError, match="k: store has 60, asked 50"):
        run(url, k=50, oversample=15)
    with pytest.raises(StoreMismatchError, match="noise"):
        run(url, noise="gaussian")


def test_corrupted_and_missing_blocks_are_measured_again(tmp_path, reference):
    url = tmp_path / "h.zarr"
    run(url)
    # flip bytes in block 1's outer chunk, delete block 2's inner chunk
    outer = url / "outer" / "c" / "0" / "1"
    data = bytearray(outer.read_bytes())
    data[100] ^= 0xFF
    outer.write_bytes(bytes(data))
    (url / "inner" / "c" / "0" / "2").unlink()
    with pytest.raises(CorruptBlockError) as e:
        hessian.streamed.solve(str(url))
    assert e.value.blocks  # the solve refuses to use them
    res, rep = run(url)
    assert rep.remeasured == [1, 2] and rep.measured == [1, 2]
    np.testing.assert_allclose(res.eigenvalues, reference.eigenvalues, rtol=1e-9)


def test_solve_detects_damage_made_after_measuring(tmp_path, reference):
    url = tmp_path / "h.zarr"
    run(url)
    (url / "outer" / "c" / "0" / "3").unlink()
    with pytest.raises(CorruptBlockError, match=r"\[3\]"):
        hessian.streamed.solve(str(url))
    res, rep = run(url)  # the rerun's verification finds it and measures it again
    assert rep.remeasured == [3]
    np.testing.assert_allclose(res.eigenvalues, reference.eigenvalues, rtol=1e-9)


def _runner(url, scheduler, k=K, s=S, block=8, *extra):
    env = os.environ | {"DASK_LOGGING__DISTRIBUTED": "error", "PYTHONWARNINGS": "ignore"}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.hessian.ooc_runner", str(url), scheduler, str(k), str(s),
         str(block), *extra],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip


def _wait_done(url, n, proc, timeout=120):
    t = time.time()
    while time.time() - t < timeout:
        if (url / "done").exists():
            try:
                if SketchStore.open(str(url)).done().sum() >= n:
                    return
            except (FileNotFoundError, KeyError, ValueError):
                pass
        if proc.poll() is not None:
            raise AssertionError(f"runner ended early: {proc.communicate()}")
        time.sleep(0.05)
    raise AssertionError("timed out waiting for blocks")


def test_sigkill_of_the_whole_run_resumes(tmp_path):
    """Kill the driver and its Dask workers with SIGKILL part way, then resume."""
    url = tmp_path / "h.zarr"
    k, s, block = 100, 400, 2  # 200 small blocks, so the kill lands part way
    proc = _runner(url, "local", k, s, block)
    _wait_done(url, 20, proc)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    time.sleep(0.5)
    store = SketchStore.open(str(url))
    done_at_kill = np.flatnonzero(store.done())
    stamps = store.finished_at()[done_at_kill]
    assert 20 <= len(done_at_kill) < s // block
    res, rep = sketch(str(url), runner_spec(block), k=k, s=s, seed=5, dtype="float64",
                      scheduler="inprocess", progress=False)  # fmt: skip
    assert set(rep.measured).isdisjoint(done_at_kill)  # no completed block measured again
    np.testing.assert_array_equal(SketchStore.open(str(url)).finished_at()[done_at_kill], stamps)
    ref = hessian.seigh(runner_spec(block).build(), k=k, s=s, seed=5, noise="sparse")
    np.testing.assert_allclose(res.eigenvalues, ref.eigenvalues, rtol=1e-9)


def test_sigkill_of_a_worker_process_is_survived(tmp_path):
    """SIGKILL the Dask worker mid-run: its nanny restarts it, Dask retries the lost block."""
    from distributed import Client, LocalCluster

    url = str(tmp_path / "h.zarr")
    k, s, block = 100, 400, 2
    spec = runner_spec(block)
    op = spec.build()
    store = SketchStore.open_or_create(
        url,
        hessian.store.SketchSettings(D=op.D, k=k, s=s, oversample=25, seed=5, block_size=block,
                                     dtype="float64"),
        hessian.spec.fingerprint(op), spec.to_json(), op.theta.numpy(),
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
        os.kill(pid, signal.SIGKILL)
        t.join(timeout=180)
        new_pid = next(iter(client.run(os.getpid).values()))
    assert new_pid != pid and store.done().all()
    measured = out["rep"].measured  # by this run, before and after the kill: each block once
    assert sorted(measured) == list(range(s // block)), measured
    np.testing.assert_array_equal(store.finished_at()[done_at_kill], stamps)
    res = streamed.solve(url)
    ref = hessian.seigh(op, k=k, s=s, seed=5, noise="sparse", oversample=25)
    np.testing.assert_allclose(res.eigenvalues, ref.eigenvalues, rtol=1e-9)


def test_two_runs_on_one_store_share_the_work(tmp_path, op):
    url = tmp_path / "h.zarr"
    k, s, block = 80, 200, 2
    spec = runner_spec(block)
    SketchStore.open_or_create(
        str(url),
        hessian.store.SketchSettings(D=op.D, k=k, s=s, oversample=20, seed=5, block_size=block,
                                     dtype="float64"),
        hessian.spec.fingerprint(spec.build()), spec.to_json(), op.theta.numpy(),
    )  # fmt: skip
    procs = [_runner(url, "inprocess", k, s, block, "measure-only") for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    measured = [json.loads(o[0].strip().splitlines()[-1])["measured"] for o in outs]
    assert sorted(measured[0] + measured[1]) == list(range(s // block))  # each block once
    res = streamed.solve(str(url))
    ref = hessian.seigh(spec.build(), k=k, s=s, seed=5, noise="sparse", oversample=20)
    np.testing.assert_allclose(res.eigenvalues, ref.eigenvalues, rtol=1e-9)


def test_measure_block_is_idempotent(tmp_path):
    url = str(tmp_path / "h.zarr")
    run(url)
    assert measure_block(url, 0)["status"] == "done"


def test_bad_store_urls(tmp_path):
    with pytest.raises(FileNotFoundError, match="no sketch store"):
        SketchStore.open(str(tmp_path / "nothing.zarr"))
    with pytest.raises(RuntimeError, match="not done"):
        spec = runner_spec(8)
        o = spec.build()
        url = str(tmp_path / "h.zarr")
        SketchStore.open_or_create(
            url, hessian.store.SketchSettings(D=o.D, k=10, s=20, block_size=8),
            hessian.spec.fingerprint(o), spec.to_json(), o.theta.numpy(),
        )  # fmt: skip
        streamed.solve(url)
