"""Flat parameter and buffer vectors, in ``model.parameters()`` order, and back."""

import numpy as np
import pytest
import torch
from torch import nn

from hessian.operators import flat_buffers, flat_params, load_flat_buffers, load_flat_params


def _net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))


def test_params_round_trip():
    model = _net()
    theta = flat_params(model.parameters())
    assert theta.shape == (sum(p.numel() for p in model.parameters()),)
    other = _net()
    with torch.no_grad():
        for p in other.parameters():
            p.zero_()
    load_flat_params(other, theta.numpy())
    torch.testing.assert_close(flat_params(other.parameters()), theta)
    assert flat_params(theta) is not theta and flat_params(theta).data_ptr() == theta.data_ptr()
    with pytest.raises(ValueError, match="expected"):
        load_flat_params(other, theta.numpy()[:-1])


def test_buffers_round_trip():
    model = _net().train()
    model(torch.randn(8, 3))  # BatchNorm running statistics move
    buf = flat_buffers(model)
    assert buf.dtype == np.float64 and buf.size == 4 + 4  # mean and var; not the int counter
    other = _net()
    load_flat_buffers(other, buf)
    np.testing.assert_array_equal(flat_buffers(other), buf)
    assert flat_buffers(nn.Linear(2, 2)).size == 0
    with pytest.raises(ValueError, match="buffer values"):
        load_flat_buffers(other, buf[:-1])
