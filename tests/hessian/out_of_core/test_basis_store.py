"""The accurate solver's store: settings, layout, refusal of others, the solution's read API."""

import numpy as np
import pytest

from hessian.exceptions import StoreMismatchError
from hessian.out_of_core.basis_store import AccurateSettings, BasisStore
from hessian.out_of_core.solutions import open_solution
from hessian.solvers.certificates import certify

ST = AccurateSettings(D=1000, k=5, block=4, n_max=24, keep=10, tol=1e-2, subspace_tol=1e-2,
                      dtype="float64", chunk_rows=65536, verify=4)  # fmt: skip


def test_layout_mismatch_and_solution(tmp_path):
    url = str(tmp_path / "b.zarr")
    st = BasisStore.open_or_create(url, ST, "fp", "{}", np.arange(1000.0))
    assert st.group["basis"].shape == (1000, 28) and st.group["products"].shape == (1000, 4)
    assert np.array_equal(st.params(), np.arange(1000.0)) and not st.solved
    assert ST.bytes_on_disk() >= 1000 * (28 + 4 + 8) * 8
    with pytest.raises(StoreMismatchError, match="operator fingerprint"):
        BasisStore.open_or_create(url, ST, "other", "{}", np.zeros(1000))
    with pytest.raises(RuntimeError, match="has not finished"):
        st.eigenvalues()
    Q, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((1000, 8)))
    st.group["basis"][:, :8] = Q
    U = np.eye(8)[:, :3]
    cert = certify(np.array([3.0, 2.0, 1.0]), np.array([1e-4, 1e-4, 1e-4]), 2)
    st.write_solution(np.array([3.0, 2.0, 1.0]), U, {"x": 1}, cert)
    again = open_solution(url)
    assert isinstance(again, BasisStore) and again.solved and again.solve_info == {"x": 1}
    np.testing.assert_array_equal(again.eigenvectors(), Q[:, :3])
    assert again.certificate().certified_rank == cert.certified_rank
    assert len(again.solution_id) == 16
    st.save_state(T=np.eye(2))
    assert np.array_equal(BasisStore.open(url).load_state()["T"], np.eye(2))


def test_bad_stores_and_settings_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="no accurate-solver store"):
        BasisStore.open(str(tmp_path / "none.zarr"))
    with pytest.raises(ValueError, match="local path"):
        BasisStore.open("s3://bucket/x.zarr")
    with pytest.raises(ValueError, match="dtype"):
        AccurateSettings(D=10, k=2, block=1, n_max=6, keep=3, tol=0.1, subspace_tol=0.1,
                         dtype="float16")  # fmt: skip
