"""The Hessian operator against a dense float64 reference from torch.func."""

import numpy as np
import pytest
import torch

import hessian
from tests.conftest import rel_err


@pytest.mark.parametrize("vectors_per_pass", [1, 5, 64])
def test_hessian_matches_torch_func(small_net, vectors_per_pass):
    _, model, data, H, _ = small_net
    op = hessian.HessianOperator(model, data, batch_size=7, vectors_per_pass=vectors_per_pass)
    assert op.shape == H.shape
    assert rel_err(hessian.dense(op), H) < 1e-10


def test_mnist_mini_operator_on_problem():
    p = hessian.problems.load("mnist_mini")
    op = hessian.HessianOperator(p.model, p.hessian_data, vectors_per_pass=8)
    assert op.D == 7030 and op.n_samples == 500 and op.dtype == torch.float32
    v = np.random.default_rng(0).standard_normal((op.D, 8)).astype(np.float32)
    one_per_pass = hessian.HessianOperator(p.model, p.hessian_data, vectors_per_pass=1)
    np.testing.assert_allclose(one_per_pass @ v, op @ v, rtol=1e-3, atol=1e-5)
