"""Tests for hessian.masks (docs/method.md §4)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from hessian import masks
from hessian.study.metrics import overlap


def _orthonormal(D: int, k: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((D, k)))
    return Q


def test_magnitude_hand_made():
    theta = np.array([0.1, -5.0, 3.0, 0.0, -3.0, 7.0, 2.0])
    np.testing.assert_array_equal(masks.magnitude(theta, 3), [5, 1, 2])
    # tie between index 2 and 4 (|3|): lower index first
    np.testing.assert_array_equal(masks.magnitude(theta, 4), [5, 1, 2, 4])
    np.testing.assert_array_equal(masks.magnitude(theta, 7), [5, 1, 2, 4, 6, 0, 3])
    assert masks.magnitude(theta, 2).dtype == np.int64


def test_magnitude_ties_at_partition_boundary():
    theta = np.array([1.0, 2.0, 1.0, 1.0, -1.0, 0.5])
    np.testing.assert_array_equal(masks.magnitude(theta, 3), [1, 0, 2])
    np.testing.assert_array_equal(masks.magnitude(-theta, 4), [1, 0, 2, 3])


def test_magnitude_matches_stable_sort_and_is_nested():
    rng = np.random.default_rng(1)
    theta = np.round(rng.standard_normal(3000), 2)  # many ties
    ref = np.argsort(-np.abs(theta), kind="stable")
    full = masks.magnitude(theta, 3000)
    np.testing.assert_array_equal(full, ref)
    for k in (1, 5, 50, 999, 2999):
        m = masks.magnitude(theta, k)
        np.testing.assert_array_equal(m, ref[:k])
        np.testing.assert_array_equal(m, full[:k])


def test_magnitude_list_of_tensors_equals_flat():
    torch.manual_seed(0)
    params = [torch.randn(4, 3), torch.randn(5), torch.randn(2, 2, 2, dtype=torch.float64)]
    flat = torch.cat([p.reshape(-1).double() for p in params])
    for k in (1, 7, 25):
        a = masks.magnitude(params, k)
        np.testing.assert_array_equal(a, masks.magnitude(flat, k))
        np.testing.assert_array_equal(a, masks.magnitude(flat.numpy(), k))
    model = torch.nn.Linear(3, 2)
    assert masks.magnitude(model.parameters(), 8).shape == (8,)
    bf = torch.tensor([1.0, -3.0, 2.0], dtype=torch.bfloat16)
    np.testing.assert_array_equal(masks.magnitude(bf, 2), [1, 2])


def test_magnitude_errors():
    with pytest.raises(ValueError, match="NaN"):
        masks.magnitude(np.array([1.0, np.nan, 2.0]), 1)
    with pytest.raises(ValueError, match="inf"):
        masks.magnitude(torch.tensor([1.0, float("inf")]), 1)
    with pytest.raises(ValueError, match=r"k=4.*D=3"):
        masks.magnitude(np.ones(3), 4)
    with pytest.raises(ValueError, match="k=0"):
        masks.magnitude(np.ones(3), 0)
    with pytest.raises(ValueError, match="1-D"):
        masks.magnitude(np.ones((2, 2)), 1)


def test_from_scores_and_ggn_diagonal():
    s = np.array([0.3, -1.0, 5.0, 0.3, 2.0])
    np.testing.assert_array_equal(masks.from_scores(s, 3), [2, 4, 0])
    np.testing.assert_array_equal(masks.from_scores(s, 4), [2, 4, 0, 3])
    np.testing.assert_array_equal(masks.ggn_diagonal(torch.tensor(s), 2), [2, 4])
    with pytest.raises(ValueError):
        masks.from_scores(s.reshape(1, -1), 1)
    with pytest.raises(ValueError):
        masks.from_scores(s, 6)


def test_random_masks():
    r = masks.random(100, 10, draws=50, seed=3)
    assert r.shape == (50, 10) and r.dtype == np.int64
    assert r.min() >= 0 and r.max() < 100
    assert all(len(set(row)) == 10 for row in r)
    np.testing.assert_array_equal(r, masks.random(100, 10, draws=50, seed=3))
    assert not np.array_equal(r, masks.random(100, 10, draws=50, seed=4))
    assert len({tuple(row) for row in r}) == 50
    # uniform: each index appears at a given rank with probability 1/D
    big = masks.random(10, 3, draws=20000, seed=0)
    freq = np.bincount(big[:, 0], minlength=10) / 20000
    np.testing.assert_allclose(freq, 0.1, atol=0.015)
    assert masks.random(5, 5, draws=1).shape == (1, 5)
    with pytest.raises(ValueError):
        masks.random(5, 6)
    with pytest.raises(ValueError):
        masks.random(5, 2, draws=0)


def test_best_matches_brute_force_tiny():
    V = _orthonormal(8, 3, seed=5)
    for k in (1, 2, 3):
        brute = max(np.sum(V[list(S), :k] ** 2) / k for S in itertools.combinations(range(8), k))
        np.testing.assert_allclose(masks.best_overlap(V, [k])[0], brute, rtol=1e-12)
        np.testing.assert_allclose(overlap(masks.best(V, k), V)[k - 1], brute, rtol=1e-12)


def test_best_overlap_dominates_other_masks():
    D, k = 500, 40
    V = _orthonormal(D, k, seed=2)
    bound = masks.best_overlap(V)
    assert bound.shape == (k,)
    theta = np.random.default_rng(9).standard_normal(D)
    cands = [overlap(masks.magnitude(theta, k), V)]
    cands += list(overlap(masks.random(D, k, draws=20, seed=1), V))
    for ov in cands:
        assert np.all(bound >= ov - 1e-12)
    for kk in (1, 10, 40):
        b = masks.best(V, kk)
        np.testing.assert_allclose(overlap(b, V)[kk - 1], bound[kk - 1], rtol=1e-12)
    # ks in arbitrary order
    np.testing.assert_allclose(masks.best_overlap(V, [40, 3]), bound[[39, 2]])
    with pytest.raises(ValueError):
        masks.best_overlap(V, [41])
    with pytest.raises(ValueError):
        masks.best(V, 41)
