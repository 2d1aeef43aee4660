"""The out-of-core accurate solver: equal to the in-memory one, certified, resumable (SIGKILL,
a crash inside a restart), on Dask workers, from a sketch store; damage and bad input refused."""

import dataclasses
import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest

import hessian
from hessian.exceptions import CorruptBlockError, StoreMismatchError
from hessian.out_of_core.accurate_solve import accurate as run_accurate
from hessian.out_of_core.basis_store import AccurateSettings, BasisStore
from hessian.out_of_core.space import check_space
from hessian.solvers import krylov_schur as ks
from hessian.study.metrics import subspace_overlap

from .helpers import run, start_runner
from .runner import accurate_request

KA, B = 24, 8


@pytest.fixture(scope="module")
def solved(tmp_path_factory, op):
    url = tmp_path_factory.mktemp("acc") / "a.zarr"
    return run_accurate(str(url), accurate_request(KA, B), scheduler="inprocess", op=op)


def test_equals_the_in_memory_solver_and_is_certified(solved, op):
    mem = hessian.accurate_eigh(op, KA, block=B, seed=5, verify=0)
    np.testing.assert_allclose(solved.eigenvalues, mem.eigenvalues, rtol=1e-9)
    assert subspace_overlap(solved.eigenvectors(), mem.eigenvectors) > 1 - 1e-9
    c = solved.certificate
    assert c.certified_rank == KA and c.source == "krylov" and c.verified < 1e-6
    assert solved.info["restarts"] >= 1  # the default sizes restart at this k
    V = solved.eigenvectors()
    r = np.linalg.norm(hessian.operators.CountingOperator(op)(V) - V * solved.eigenvalues, axis=0)
    assert np.all(r / np.abs(solved.eigenvalues) <= c.tol)  # the certificate holds


def test_a_finished_store_is_reused_and_a_mismatch_refused(solved, op):
    again = run_accurate(solved.url, accurate_request(KA, B), scheduler="inprocess", op=op)
    assert again.reused and np.array_equal(again.eigenvalues, solved.eigenvalues)
    assert again.certificate.certified_rank == KA
    with pytest.raises(StoreMismatchError, match="k: store has 24, asked 25"):
        run_accurate(solved.url, accurate_request(KA + 1, B), scheduler="inprocess", op=op)


def test_streamed_passes_read_the_accurate_store(solved):
    mask = np.random.default_rng(0).permutation(7030)[:100]
    res = hessian.out_of_core.overlaps(solved.url, {"m": mask})
    want = hessian.overlap(mask, solved.eigenvectors())
    np.testing.assert_allclose(res.curves["m"], want, rtol=1e-9)


def test_on_two_dask_workers(tmp_path, solved):
    res = run_accurate(
        str(tmp_path / "d.zarr"),
        accurate_request(KA, B, vectors_per_job=B // 2, n_workers=2, threads=1, cache=0),
    )
    assert len(res.info["workers"]) == 2 and not res.info["cached"]
    np.testing.assert_allclose(res.eigenvalues, solved.eigenvalues, rtol=1e-9)


def test_sigkill_resumes_at_the_last_step(tmp_path, solved, op):
    url = tmp_path / "k.zarr"
    proc = start_runner(url, "inprocess", KA, 0, B, "accurate")
    t0 = time.time()
    while time.time() - t0 < 240:
        try:
            with np.load(url / "state.npz") as z:
                if z["counters"][2] >= 6:  # six whole steps on disk
                    break
        except (OSError, ValueError, KeyError):
            pass
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    res = run_accurate(str(url), accurate_request(KA, B), scheduler="inprocess", op=op)
    assert res.info["products"] < solved.info["products"]  # the finished steps were kept
    assert res.info["products_total"] == solved.info["products_total"]  # the whole solve's
    np.testing.assert_allclose(res.eigenvalues, solved.eigenvalues, rtol=1e-9)


@pytest.mark.parametrize("where", ["staging", "basis"])
def test_a_crash_inside_a_restart_resumes(tmp_path, solved, op, monkeypatch, where):
    """Killed inside a restart's first row chunk: after one of its files was written into the
    staging chunk, or after one staged file was renamed into the basis. The resumed run
    finishes the rotation (no staged file is left) and the solve is the same."""
    from hessian.out_of_core import chunk_files

    calls = {"n": 0}
    real = chunk_files._rename

    def rename(src, dst):
        if f"/{where}/" in str(dst) and "/staging/" in f"{src}{dst}":
            calls["n"] += 1
            if calls["n"] == 2:
                raise KeyboardInterrupt(f"killed inside a restart ({where})")
        return real(src, dst)

    url = str(tmp_path / "r.zarr")
    req = accurate_request(KA, B, chunk_rows=65536)
    monkeypatch.setattr(chunk_files, "_rename", rename)
    with pytest.raises(KeyboardInterrupt):
        run_accurate(url, req, scheduler="inprocess", op=op)
    monkeypatch.undo()
    assert "rotation_U" in BasisStore.open(url).load_state()
    staged = [p for p in (Path(url) / "staging").rglob("*") if p.is_file() and "/c/" in str(p)]
    assert staged  # the crash left part of the row chunk staged
    res = run_accurate(url, req, scheduler="inprocess", op=op)
    np.testing.assert_allclose(res.eigenvalues, solved.eigenvalues, rtol=1e-9)
    left = [p for p in (Path(url) / "staging").rglob("*") if p.is_file() and "/c/" in str(p)]
    assert not left


def test_warm_start_from_a_sketch_store(tmp_path, op):
    sk_url = tmp_path / "s.zarr"
    run(sk_url)  # k = 60 single-pass sketch of the same operator
    res = run_accurate(str(tmp_path / "w.zarr"), accurate_request(KA, B), op=op,
                            warm_start=str(sk_url), scheduler="inprocess")  # fmt: skip
    assert res.certificate.certified_rank == KA and res.info["warm_start"] == str(sk_url)
    with pytest.raises(ValueError, match="fewer than k"):
        run_accurate(str(tmp_path / "w2.zarr"), accurate_request(80, B), op=op,
                          warm_start=str(sk_url), scheduler="inprocess")  # fmt: skip
    other = hessian.OperatorSpec("mnist_mini", dtype="float64", batch_size=None,
                                 vectors_per_pass=B, n_hessian=100).build()  # fmt: skip
    with pytest.raises(StoreMismatchError, match="another operator"):
        run_accurate(str(tmp_path / "w3.zarr"), accurate_request(KA, B), op=other,
                          warm_start=str(sk_url), scheduler="inprocess")  # fmt: skip
    assert not (tmp_path / "w2.zarr").exists() and not (tmp_path / "w3.zarr").exists()


def test_a_damaged_basis_is_detected(tmp_path, solved):
    import shutil

    url = tmp_path / "copy.zarr"
    shutil.copytree(solved.url, url)
    chunk = next(p for p in sorted((url / "basis").rglob("*")) if p.is_file() and p.stat().st_size)
    data = bytearray(chunk.read_bytes())
    data[len(data) // 2] ^= 0x10
    chunk.write_bytes(bytes(data))
    with pytest.raises(CorruptBlockError, match="basis"):
        BasisStore.open(str(url)).eigenvectors()


def test_too_little_disk_is_refused_up_front(tmp_path):
    st = AccurateSettings(D=10**9, k=1000, block=64, n_max=2256, keep=1600, tol=1e-2,
                          subspace_tol=1e-2)  # fmt: skip
    with pytest.raises(OSError, match=r"big.zarr: needs \d+\.\d TB .* free on the filesystem"):
        check_space([(str(tmp_path / "big.zarr"), st)])
    assert not (tmp_path / "big.zarr").exists()


def test_out_of_budget_stops_with_what_it_has_uncertified(tmp_path, op):
    """A budget too small to converge: the solve ends, stores what it has, says it did not
    converge and certifies less than k (never a silent success); the store reads back."""
    res = run_accurate(str(tmp_path / "b.zarr"), accurate_request(KA, B, max_products=5 * B),
                       scheduler="inprocess", op=op)  # fmt: skip
    assert res.info["converged"] is False and res.info["krylov_products"] <= 5 * B
    assert res.certificate.certified_rank < KA
    again = BasisStore.open(res.url)
    assert again.solved and again.solve_info["converged"] is False
    assert again.certificate().certified_rank == res.certificate.certified_rank


def test_a_store_of_another_default_block_is_resumed_with_its_own(tmp_path, op):
    """A store laid out with block 2B (say, under an older default) is opened by a request
    that leaves the block to its default, not refused as a store of other settings."""
    url = str(tmp_path / "old.zarr")
    first = run_accurate(url, accurate_request(KA, 2 * B), scheduler="inprocess", op=op)
    assert ks.default_block(KA, 2 * B) != 2 * B
    again = dataclasses.replace(accurate_request(KA, 2 * B), block=None)
    res = run_accurate(url, again, scheduler="inprocess", op=op)
    assert res.reused and res.info["block"] == 2 * B
    np.testing.assert_array_equal(res.eigenvalues, first.eigenvalues)
