"""The basis on disk: a step and a restart equal the in-memory basis', and the Gram matrix of
the stored basis is tracked exactly."""

import numpy as np

from hessian.operators import CountingOperator
from hessian.out_of_core.basis_jobs import Jobs
from hessian.out_of_core.basis_store import AccurateSettings, BasisStore
from hessian.out_of_core.stored_basis import StoredBasis, state_arrays, write_start
from hessian.solvers import krylov_schur as ks


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
    mem = ks.InMemoryBasis(CountingOperator(H), X0, st.n_max, b)
    n = 0
    for _ in range(4):
        Cd, Rd = disk.step(n)
        Cm, Rm = mem.step(n)
        np.testing.assert_allclose(np.abs(Rd), np.abs(Rm), atol=1e-10)
        np.testing.assert_allclose(np.abs(Cd), np.abs(Cm), atol=1e-10)
        n += b
    Q = store.read("basis", 0, D, slice(0, n + b))
    np.testing.assert_allclose(disk.G[: n + b, : n + b], Q.T @ Q, atol=1e-12)
    Uk, _ = np.linalg.qr(rng.standard_normal((n, 6)))
    state.n, state.T, state.B = n, np.zeros((n, n)), np.zeros((b, n))
    disk.restart(n, Uk, np.arange(6.0))
    assert "rotation_U" in store.load_state()
    Q2 = store.read("basis", 0, D, slice(0, 6 + b))
    np.testing.assert_allclose(Q2[:, :6], Q[:, :n] @ Uk, atol=1e-12)
    np.testing.assert_allclose(Q2[:, 6:], Q[:, n : n + b], atol=0)
    np.testing.assert_allclose(disk.G[: 6 + b, : 6 + b], Q2.T @ Q2, atol=1e-12)
    assert set(state_arrays(state, disk)) == {"T", "B", "G", "counters", "history"}


def test_a_nan_in_the_basis_is_found_by_the_step_and_named(tmp_path, monkeypatch):
    """The passes read chunks without a NaN check of their own (their CRC32C is checked): a NaN
    written with a valid checksum reaches the step's inner products, and the step then names
    the chunk that holds it."""
    import pytest

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
