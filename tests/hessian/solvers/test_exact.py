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
