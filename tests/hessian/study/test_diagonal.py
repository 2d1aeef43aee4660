"""Operator diagonals and the GGN-diagonal mask."""

import numpy as np
import pytest

import hessian
from hessian import masks
from tests.conftest import small_data, small_mlp


def test_exact_and_hutchinson_diagonal_of_the_ggn():
    op = hessian.GGNOperator(small_mlp(), small_data("mlp"))
    G = hessian.dense(op)
    exact = hessian.exact_diagonal(op)
    np.testing.assert_allclose(exact, np.diag(G), rtol=1e-12, atol=1e-15)
    est = hessian.hutchinson_diagonal(op, n_probes=4000, seed=1, block=500)
    # per entry, the standard error is sqrt(sum_{j != i} G_ij^2 / n)
    se = np.sqrt((np.sum(G**2, axis=1) - np.diag(G) ** 2) / 4000)
    assert np.all(np.abs(est - exact) <= 5 * se + 1e-12)
    with pytest.raises(ValueError, match="n_probes"):
        hessian.hutchinson_diagonal(op, n_probes=0)


def test_ggn_diagonal_mask_picks_the_largest_entries():
    op = hessian.GGNOperator(small_mlp(), small_data("mlp"))
    d = hessian.exact_diagonal(op)
    m = masks.ggn_diagonal(d, 10)
    assert set(m) == set(np.argsort(-d)[:10])
    assert np.all(np.diff(d[m]) <= 0)
