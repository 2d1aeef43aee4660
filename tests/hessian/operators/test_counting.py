"""The solvers' view of an operator: float blocks in, products and passes counted."""

import numpy as np
import pytest
import scipy.sparse.linalg
import torch

import hessian
from hessian.operators import CountingOperator
from tests.conftest import small_data, small_mlp


def test_dense_and_scipy_operators_are_counted_per_call():
    M = np.diag(np.arange(1.0, 6.0))
    for op in (M, scipy.sparse.linalg.aslinearoperator(M)):
        A = CountingOperator(op)
        assert A.D == 5 and A.dtype == np.float64
        np.testing.assert_allclose(A(np.ones(5)), np.arange(1.0, 6.0))
        np.testing.assert_allclose(A.rows(np.eye(5)[:2]), M[:2])
        assert (A.n_hvp, A.n_passes) == (3, 2)


def test_our_operators_report_their_passes():
    op = hessian.HessianOperator(
        small_mlp(), small_data("mlp"), vectors_per_pass=4, check_deterministic=False
    )
    A = CountingOperator(op)
    assert A.dtype == np.float64 and A.vectors_per_pass == 4
    out = A(np.ones((op.D, 10)))
    assert out.shape == (op.D, 10) and out.dtype == np.float64
    assert (A.n_hvp, A.n_passes) == (10, 3)  # ceil(10 / 4) passes over the data


def test_other_dtypes_are_applied_in_float64():
    A = CountingOperator(np.eye(3, dtype=np.float16))
    assert A.dtype == np.float64
    t = torch.eye(3, dtype=torch.bfloat16)
    assert CountingOperator(t.float().numpy()).dtype == np.float32


def test_refuses_non_square_and_non_finite():
    with pytest.raises(ValueError, match="square"):
        CountingOperator(np.ones((3, 4)))
    bad = np.eye(3)
    bad[1, 1] = np.nan
    with pytest.raises(FloatingPointError, match="NaN or inf"):
        CountingOperator(bad)(np.ones(3))
