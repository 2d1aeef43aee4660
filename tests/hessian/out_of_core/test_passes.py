"""Streamed passes over a stored eigenbasis equal their in-memory counterparts."""

import numpy as np
import pytest

import hessian
from hessian import out_of_core
from hessian.out_of_core import SketchStore
from hessian.study import masks

from ..conftest import STORE_K as K


def test_gather_rows_and_best_masks(stores):
    url, theta, _ = stores["a"]
    V = SketchStore.open(url).eigenvectors()
    mag = masks.magnitude(theta, K)
    g = out_of_core.gather(url, {"mag": mag}, best_ks=[3, K])
    np.testing.assert_allclose(g.rows["mag"], V[mag], atol=1e-12)
    for kk in (3, K):
        assert set(g.best_masks[kk]) == set(masks.best(V, kk))
        np.testing.assert_allclose(g.best_rows[kk], V[g.best_masks[kk], :kk], atol=1e-12)
    with pytest.raises(ValueError, match="best_ks"):
        out_of_core.gather(url, {}, best_ks=[K + 1])


def test_streamed_aposteriori_equals_in_memory(stores):
    url, _, op = stores["a"]
    store = SketchStore.open(url)
    res = hessian.EigenResult(store.eigenvalues(), store.eigenvectors())
    a = out_of_core.aposteriori_error(url, op, n=10, seed=3)
    b = hessian.aposteriori_error(op, res, n=10, seed=3)
    assert a.error == pytest.approx(b.error, rel=1e-9) and a.norm == pytest.approx(b.norm)
    assert 0 < a.relative < 1
