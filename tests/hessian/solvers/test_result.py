"""Eigenpair results: |lambda| order and truncation."""

from __future__ import annotations

import numpy as np

from hessian.solvers import EigenResult
from hessian.solvers.result import order_by_magnitude


def test_order_by_magnitude():
    lam = np.array([3.0, -3.0, 1.0, -5.0, 5.0, 0.0, -1.0])
    V = np.arange(7 * 7, dtype=float).reshape(7, 7)
    w, W = order_by_magnitude(lam, V)
    np.testing.assert_array_equal(w, [5.0, -5.0, 3.0, -3.0, 1.0, -1.0, 0.0])
    order = [4, 3, 0, 1, 2, 6, 5]
    np.testing.assert_array_equal(W, V[:, order])
    # the input order of the tied pairs does not matter: ties go larger-first
    perm = np.random.default_rng(0).permutation(7)
    np.testing.assert_array_equal(order_by_magnitude(lam[perm]), w)
    # distinct magnitudes: plain sort by |lambda| descending
    x = np.random.default_rng(1).standard_normal(50)
    np.testing.assert_array_equal(order_by_magnitude(x), x[np.argsort(-np.abs(x))])


def test_truncate_keeps_the_top_pairs():
    V = np.eye(5)[:, :3]
    r = EigenResult(np.array([3.0, -2.0, 1.0]), V, n_hvp=7, n_passes=2, method="m", info={"a": 1})
    t = r.truncate(2)
    assert t.k == 2 and r.k == 3
    np.testing.assert_array_equal(t.eigenvalues, [3.0, -2.0])
    np.testing.assert_array_equal(t.eigenvectors, V[:, :2])
    assert (t.n_hvp, t.n_passes, t.method, t.info) == (7, 2, "m", {"a": 1})
    t.info["a"] = 2
    assert r.info["a"] == 1  # a copy
