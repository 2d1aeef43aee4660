"""The GGN operator against a dense float64 reference from torch.func."""

import numpy as np
import pytest

import hessian
from tests.conftest import rel_err


@pytest.mark.parametrize("vectors_per_pass", [1, 5, 64])
def test_ggn_matches_torch_func(small_net, vectors_per_pass):
    _, model, data, _, G = small_net
    op = hessian.GGNOperator(model, data, batch_size=7, vectors_per_pass=vectors_per_pass)
    assert rel_err(hessian.dense(op), G) < 1e-10
    assert np.linalg.eigvalsh(G).min() > -1e-12  # the GGN is PSD; the Hessian need not be
