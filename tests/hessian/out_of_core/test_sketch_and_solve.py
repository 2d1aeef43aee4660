"""The one-call out-of-core sketch: equal to the in-memory one, resumable (also under SIGKILL),
refusing a store of another operator, measuring lost or damaged blocks again."""

import os
import signal
import time

import numpy as np
import pytest

import hessian
from hessian import masks, metrics, out_of_core
from hessian.out_of_core import CorruptBlockError, SketchStore, StoreMismatchError, sketch

from .helpers import K, S, run, start_runner, wait_done
from .runner import spec as runner_spec


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
    ov = out_of_core.overlaps(str(tmp_path / "h.zarr"), {"mag": mag, "rnd": rnd})
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
        out_of_core.solve(str(url))
    assert e.value.blocks  # the solve refuses to use them
    res, rep = run(url)
    assert rep.remeasured == [1, 2] and rep.measured == [1, 2]
    np.testing.assert_allclose(res.eigenvalues, reference.eigenvalues, rtol=1e-9)


def test_solve_detects_damage_made_after_measuring(tmp_path, reference):
    url = tmp_path / "h.zarr"
    run(url)
    (url / "outer" / "c" / "0" / "3").unlink()
    with pytest.raises(CorruptBlockError, match=r"\[3\]"):
        out_of_core.solve(str(url))
    res, rep = run(url)  # the rerun's verification finds it and measures it again
    assert rep.remeasured == [3]
    np.testing.assert_allclose(res.eigenvalues, reference.eigenvalues, rtol=1e-9)


def test_sigkill_of_the_whole_run_resumes(tmp_path):
    """Kill the driver and its Dask workers with SIGKILL part way, then resume."""
    url = tmp_path / "h.zarr"
    k, s, block = 100, 400, 2  # 200 small blocks, so the kill lands part way
    proc = start_runner(url, "local", k, s, block)
    wait_done(url, 20, proc)
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
