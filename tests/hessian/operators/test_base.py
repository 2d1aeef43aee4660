"""Machinery shared by the Hessian and the GGN: batching, interfaces, counts, checks."""

import numpy as np
import pytest
import scipy.sparse.linalg
import torch
from torch import nn

import hessian
from hessian import NondeterministicOperatorError
from tests.conftest import rel_err, small_data, small_mlp


def test_result_does_not_depend_on_data_batching(small_net):
    _, model, data, H, _ = small_net
    V = np.random.default_rng(0).standard_normal((H.shape[0], 3))
    for batch_size in (1, 4, None):
        op = hessian.HessianOperator(model, data, batch_size=batch_size)
        np.testing.assert_allclose(op @ V, H @ V, rtol=1e-10, atol=1e-12)


def test_numpy_torch_vector_and_scipy_interfaces():
    model, data = small_mlp(), small_data("mlp")
    op = hessian.HessianOperator(model, data)
    v = np.random.default_rng(1).standard_normal(op.D)
    out = op @ v
    assert isinstance(out, np.ndarray) and out.shape == (op.D,)
    out_t = op @ torch.from_numpy(v)
    assert isinstance(out_t, torch.Tensor)
    np.testing.assert_allclose(out_t.numpy(), out)
    L = op.to_scipy()
    assert isinstance(L, scipy.sparse.linalg.LinearOperator)
    np.testing.assert_allclose(L @ v, out)
    w = scipy.sparse.linalg.eigsh(L, k=2, which="LM", return_eigenvectors=False)
    H = hessian.dense(op)
    top = np.sort(np.abs(np.linalg.eigvalsh(H)))[-2:]
    np.testing.assert_allclose(np.sort(np.abs(w)), top, rtol=1e-8)
    with pytest.raises(ValueError, match="cannot multiply"):
        op @ np.ones(op.D + 1)


def test_float32_operator_is_close_to_float64():
    model, data = small_mlp(), small_data("mlp")
    op64 = hessian.HessianOperator(model, data)
    op32 = hessian.HessianOperator(model, data, dtype=torch.float32)
    assert op32.dtype == torch.float32 and next(model.parameters()).dtype == torch.float64
    V = np.random.default_rng(2).standard_normal((op64.D, 4))
    out32 = op32 @ V.astype(np.float32)
    assert out32.dtype == np.float32
    assert rel_err(out32.astype(np.float64), op64 @ V) < 1e-5


def test_counts_products_and_passes():
    op = hessian.HessianOperator(
        small_mlp(), small_data("mlp"), vectors_per_pass=4, check_deterministic=False
    )
    op @ np.ones((op.D, 10))
    assert (op.stats.n_hvp, op.stats.n_passes) == (10, 3)


class NoisyNet(nn.Module):
    """A stochastic layer that ignores eval(): dropout forced on."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(12, 4).double()

    def forward(self, x):
        return self.lin(nn.functional.dropout(x.flatten(1), 0.5, training=True))


def test_refuses_stochastic_model():
    with pytest.raises(NondeterministicOperatorError, match="dropout"):
        hessian.HessianOperator(NoisyNet(), small_data("mlp"))


def test_refuses_random_augmentation():
    def augment(x):
        return x + 0.1 * torch.randn_like(x)

    with pytest.raises(NondeterministicOperatorError, match="augmentation"):
        hessian.GGNOperator(small_mlp(), small_data("mlp"), transform=augment)
    # a deterministic transform is accepted
    hessian.HessianOperator(small_mlp(), small_data("mlp"), transform=lambda x: 2 * x)


def test_refuses_train_mode_dropout_and_batchnorm():
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 6), nn.BatchNorm1d(6), nn.Linear(6, 4))
    model.double().train()
    with pytest.raises(NondeterministicOperatorError, match="BatchNorm"):
        hessian.HessianOperator(model, small_data("mlp"), eval_mode=False)
    op = hessian.HessianOperator(model, small_data("mlp"))  # eval mode: fine
    assert not op.model.training


def test_non_finite_parameters_and_products_are_refused():
    model = small_mlp()
    with torch.no_grad():
        model[1].weight[0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN or inf"):
        hessian.HessianOperator(model, small_data("mlp"))
    X, y = small_data("mlp")
    X = X.clone()
    X[3, 0, 0] = float("inf")
    with pytest.raises(FloatingPointError, match="NaN or inf"):
        hessian.HessianOperator(small_mlp(), (X, y))


def test_bad_data_and_settings():
    X, y = small_data("mlp")
    with pytest.raises(ValueError, match="targets"):
        hessian.HessianOperator(small_mlp(), (X, y[:-1]))
    with pytest.raises(ValueError, match="empty"):
        hessian.HessianOperator(small_mlp(), (X[:0], y[:0]))
    with pytest.raises(ValueError, match="block_size"):
        hessian.HessianOperator(small_mlp(), (X, y), block_size=0)
    with pytest.raises(ValueError, match="vectors_per_pass"):
        hessian.HessianOperator(small_mlp(), (X, y), vectors_per_pass=0)
    with pytest.raises(ValueError, match="dtype"):
        hessian.HessianOperator(small_mlp(), (X, y), dtype=torch.float16)


def test_block_size_is_the_old_name_of_vectors_per_pass():
    data = small_data("mlp")
    with pytest.warns(DeprecationWarning, match="vectors_per_pass"):
        op = hessian.HessianOperator(small_mlp(), data, block_size=4, check_deterministic=False)
    assert op.vectors_per_pass == 4
    with pytest.warns(DeprecationWarning):
        assert op.block_size == 4
    with pytest.warns(DeprecationWarning):
        op.block_size = 2
    assert op.vectors_per_pass == 2 and "vectors_per_pass=2" in repr(op)
    with pytest.raises(TypeError, match="old name"):
        hessian.HessianOperator(small_mlp(), data, block_size=4, vectors_per_pass=8)
