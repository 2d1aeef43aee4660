"""The dense float64 reference: a dense operator, its eigenpairs, and their file."""

import numpy as np
import pytest

import hessian
from hessian.operators import OperatorSpec
from hessian.solvers import exact


@pytest.fixture(scope="module")
def op():
    return OperatorSpec("mnist_tiny", vectors_per_pass=8, dtype="float64", batch_size=None).build()


def test_exact_reference_round_trip(tmp_path, op):
    ref = hessian.exact_eigh(op, k=5)
    exact.save_reference(tmp_path / "e.npz", ref, key="abc")
    back = exact.load_reference(tmp_path / "e.npz", key="abc")
    np.testing.assert_array_equal(back.eigenvalues, ref.eigenvalues)
    np.testing.assert_allclose(back.eigenvectors, ref.eigenvectors, atol=1e-7)
    with pytest.raises(ValueError, match="another operator"):
        exact.load_reference(tmp_path / "e.npz", key="xyz")


@pytest.mark.parametrize("damage", ["flip", "garbage"])
def test_a_damaged_reference_is_never_used_and_computed_again(tmp_path, damage):
    spec = OperatorSpec("mnist_tiny", vectors_per_pass=64, dtype="float64", batch_size=None)
    request = exact.ExactRequest(spec, k=5)
    path = tmp_path / "e.npz"
    first = exact.stored_reference(request, path, None)
    assert first.info["computed"] and "repaired" not in first.info
    data = bytearray(path.read_bytes())
    if damage == "flip":
        data[len(data) // 2] ^= 0x01  # inside the eigenvectors
    else:
        data = bytearray(b"not a zip file" * 10)
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="damaged"):
        exact.load_reference(path)
    again = exact.stored_reference(request, path, None)
    assert again.info["computed"] and "damaged" in again.info["repaired"]
    np.testing.assert_array_equal(again.eigenvalues, first.eigenvalues)
    exact.load_reference(path)  # intact again
