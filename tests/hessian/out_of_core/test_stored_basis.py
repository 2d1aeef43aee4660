"""The basis on disk: a step and a restart equal the in-memory basis', and the Gram matrix of
the stored basis is tracked exactly."""

from pathlib import Path

import numpy as np
import pytest

from hessian.operators import CountingOperator
from hessian.out_of_core.basis_jobs import Jobs
from hessian.out_of_core.basis_store import AccurateSettings, BasisStore
from hessian.out_of_core.stored_basis import StoredBasis, state_arrays, write_start
from hessian.solvers import krylov_schur as ks
from hessian.solvers.in_memory_basis import InMemoryBasis
from hessian.solvers.row_passes import RowPasses


class _Op:
    """A dense symmetric matrix as the jobs' operator (``matmat_rows`` on torch rows)."""

    def __init__(self, H):
        import torch

        self.H, self.D, self.dtype = H, H.shape[0], torch.float64
        self.theta = torch.zeros(H.shape[0], dtype=torch.float64)

    def matmat_rows(self, V):
        import torch

        return torch.from_numpy(V.numpy() @ self.H)


def test_steps_and_a_restart_match_the_in_memory_basis(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    D, b = 400, 4
    U, _ = np.linalg.qr(rng.standard_normal((D, D)))
    H = (U * rng.uniform(-1, 1, D)) @ U.T
    st = AccurateSettings(D=D, k=4, block=b, n_max=24, keep=8, tol=1e-2, subspace_tol=1e-2,
                          dtype="float64", chunk_rows=65536, verify=4)  # fmt: skip
    store = BasisStore.open_or_create(str(tmp_path / "b.zarr"), st, "fp", "{}", np.zeros(D))
    import hessian.out_of_core.basis_jobs as bj

    monkeypatch.setattr(bj, "_operator", lambda store, op=None: op)  # the dense test operator
    state = ks.State.start(b)
    disk = StoredBasis(store, Jobs(store.url, None, 1, _Op(H)), np.eye(st.columns), 0, 0, state)
    write_start(disk, 3, None)
    X0 = store.read("basis", 0, D, slice(0, b))
    mem = InMemoryBasis(CountingOperator(H), X0, st.n_max, b)
    _steps_then_restart(disk, mem, store, state, rng, m=6)
    assert "rotation_U" in store.load_state()
    assert set(state_arrays(state, disk)) == {"T", "B", "G", "counters", "history"}


def _steps_then_restart(disk, mem, store, state, rng, m, tol=1e-10, rot_tol=1e-12, g_tol=1e-12):
    """Four steps of the stored and the in-memory basis (C and R equal up to signs; G the
    stored basis' Gram matrix), then a restart to m columns (the rotation, the block moved)."""
    D, b = disk.D, disk.block
    n = 0
    for _ in range(4):
        Cd, Rd = disk.step(n)
        Cm, Rm = mem.step(n)
        np.testing.assert_allclose(np.abs(Rd), np.abs(Rm), atol=tol)
        np.testing.assert_allclose(np.abs(Cd), np.abs(Cm), atol=tol)
        n += b
    Q = store.read("basis", 0, D, slice(0, n + b))
    np.testing.assert_allclose(disk.G[: n + b, : n + b], Q.T @ Q, atol=1e-12)
    Uk, _ = np.linalg.qr(rng.standard_normal((n, m)))
    state.n, state.T, state.B = n, np.zeros((n, n)), np.zeros((b, n))
    disk.restart(n, Uk, np.arange(float(m)))
    Q2 = store.read("basis", 0, D, slice(0, m + b))
    np.testing.assert_allclose(Q2[:, :m], Q[:, :n] @ Uk, atol=rot_tol)
    np.testing.assert_array_equal(Q2[:, m:], Q[:, n : n + b])
    np.testing.assert_allclose(disk.G[: m + b, : m + b], Q2.T @ Q2, atol=g_tol)
    # the staged files are renamed into the basis where the kept columns end on a chunk
    # boundary (the solver keeps a multiple of b for that); else copied, and left staged
    staged = [p for p in (Path(store.url) / "staging").rglob("*") if p.name != "zarr.json"]
    assert bool([p for p in staged if p.is_file()]) == (m % b != 0)


def test_a_nan_in_the_basis_is_found_by_the_step_and_named(tmp_path, monkeypatch):
    """The passes read chunks without a NaN check of their own (their CRC32C is checked): a NaN
    written with a valid checksum reaches the step's inner products, and the step then names
    the chunk that holds it."""
    from hessian.exceptions import CorruptBlockError

    rng = np.random.default_rng(0)
    D, b = 65536 + 300, 4
    d = rng.uniform(-1, 1, D)
    st = AccurateSettings(D=D, k=4, block=b, n_max=24, keep=8, tol=1e-2, subspace_tol=1e-2,
                          chunk_rows=65536, verify=4)  # fmt: skip
    store = BasisStore.open_or_create(str(tmp_path / "b.zarr"), st, "fp", "{}", np.zeros(D))
    import hessian.out_of_core.basis_jobs as bj

    class _Diag:
        def __init__(self):
            import torch

            self.D, self.dtype = D, torch.float64

        def matmat_rows(self, V):
            import torch

            return torch.from_numpy(V.numpy() * d)

    monkeypatch.setattr(bj, "_operator", lambda store, op=None: op)
    disk = StoredBasis(store, Jobs(store.url, None, 1, _Diag()), np.eye(st.columns), 0, 0,
                       ks.State.start(b))  # fmt: skip
    write_start(disk, 3, None)
    disk.step(0)
    X = store.read("basis", 65536, D, slice(0, b))
    X[7, 1] = np.nan
    store.write("basis", 65536, D, 0, X)  # a valid checksum over a NaN
    with pytest.raises(CorruptBlockError, match=r"basis rows 65536\.\.65836: chunk 1,0 holds"):
        disk.step(b)


@pytest.mark.parametrize("b", [4, 16])  # a block at a time, the update in place; in tiles
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_steps_over_several_row_chunks_match_the_in_memory_basis(tmp_path, monkeypatch, dtype, b):
    """Three row chunks, the last one short: the passes' reused buffers give the in-memory
    basis' C and R, and G is the stored basis' Gram matrix (float32: the rounding of the
    stored columns, tracked exactly)."""
    import scipy.sparse.linalg as sla

    rng = np.random.default_rng(1)
    D = 2 * 65536 + 8928
    d = rng.uniform(-1, 1, D)
    Z = np.linalg.qr(rng.standard_normal((D, 6)))[0]
    s = np.array([9.0, -7.0, 5.0, 4.0, -3.0, 2.5])
    H = sla.LinearOperator(
        (D, D),
        matvec=lambda x: d * x + Z @ (s * (Z.T @ x)),
        matmat=lambda X: d[:, None] * X + Z @ (s[:, None] * (Z.T @ X)),
    )
    st = AccurateSettings(D=D, k=b, block=b, n_max=6 * b, keep=2 * b, tol=1e-2,
                          subspace_tol=1e-2, dtype=dtype, chunk_rows=65536, verify=4)  # fmt: skip
    store = BasisStore.open_or_create(str(tmp_path / "b.zarr"), st, "fp", "{}", np.zeros(D))
    import hessian.out_of_core.basis_jobs as bj

    class _Rows:
        def __init__(self):
            import torch

            self.D, self.dtype = D, torch.float64

        def matmat_rows(self, V):
            import torch

            return torch.from_numpy(H.matmat(V.numpy().T).T.copy())

    monkeypatch.setattr(bj, "_operator", lambda store, op=None: op)
    state = ks.State.start(b)
    disk = StoredBasis(store, Jobs(store.url, None, 1, _Rows()), np.eye(st.columns), 0, 0, state)
    assert len(disk.chunks) == 3 and disk.mirror is None
    write_start(disk, 3, None)
    X0 = store.read("basis", 0, D, slice(0, b))
    mem = InMemoryBasis(CountingOperator(H), X0, st.n_max, b)
    # a restart rotates G (U^T G U): exact for a float64 basis; a float32 one rounds the rotated
    # columns, which G does not see (measured 2.5e-10 here, far below their own eps32 level)
    f64 = dtype == "float64"
    _steps_then_restart(disk, mem, store, state, rng, m=2 * b, tol=1e-10 if f64 else 1e-5,
                        rot_tol=1e-12 if f64 else 1e-6, g_tol=1e-12 if f64 else 1e-9)  # fmt: skip


@pytest.mark.parametrize("b", [4, 16])  # a block at a time; in tiles
def test_the_pass_threads_do_not_change_a_bit(tmp_path, monkeypatch, b):
    """The passes run row chunks on threads and sum their parts in chunk order: two threads
    give the bits of one (C, R, G and the stored basis), whatever order the chunks finish in."""
    import torch

    import hessian.out_of_core.basis_jobs as bj

    rng = np.random.default_rng(2)
    D = 2 * 65536 + 8928
    d = torch.from_numpy(rng.uniform(-1, 1, D))

    class _Diag:
        def __init__(self):
            self.D, self.dtype = D, torch.float64

        def matmat_rows(self, V):
            return V * d

    monkeypatch.setattr(bj, "_operator", lambda store, op=None: op)
    runs = []
    for threads in (1, 2):
        st = AccurateSettings(D=D, k=b, block=b, n_max=6 * b, keep=2 * b, tol=1e-2,
                              subspace_tol=1e-2, chunk_rows=65536, verify=4)  # fmt: skip
        store = BasisStore.open_or_create(str(tmp_path / f"{threads}.zarr"), st, "fp", "{}",
                                          np.zeros(D))  # fmt: skip
        disk = StoredBasis(store, Jobs(store.url, None, 1, _Diag()), np.eye(st.columns), 0, 0,
                           ks.State.start(b))  # fmt: skip
        assert disk.tiled == (b >= 16)
        disk.pool = RowPasses(disk.chunks, threads)
        write_start(disk, 3, None)
        steps = [disk.step(n) for n in range(0, 4 * b, b)]
        assert (disk.pool._pool is not None) == (threads > 1)
        disk.close()
        runs.append((steps, disk.G.copy(), store.read("basis", 0, D, slice(0, 5 * b))))
    (one, G1, Q1), (two, G2, Q2) = runs
    for (C1, R1), (C2, R2) in zip(one, two, strict=True):
        np.testing.assert_array_equal(C1, C2)
        np.testing.assert_array_equal(R1, R2)
    np.testing.assert_array_equal(G1, G2)
    np.testing.assert_array_equal(Q1, Q2)
