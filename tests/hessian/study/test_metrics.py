"""Tests for hessian.metrics (docs/method.md §4)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from hessian import masks, metrics


def _orthonormal(D: int, k: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((D, k)))
    return Q


def _one_hot(indices, D: int) -> np.ndarray:
    E = np.zeros((D, len(indices)))
    E[np.asarray(indices), np.arange(len(indices))] = 1.0
    return E


D, K = 500, 40


@pytest.fixture(scope="module")
def V():
    return _orthonormal(D, K, seed=0)


def test_overlap_equals_naive_loop(V):
    S = masks.magnitude(np.random.default_rng(1).standard_normal(D), 60)
    ov = metrics.overlap(S, V)
    assert ov.shape == (K,) and ov.dtype == np.float64
    naive = np.array([np.sum(V[S[:k], :k] ** 2) / k for k in range(1, K + 1)])
    np.testing.assert_allclose(ov, naive, rtol=1e-12, atol=1e-15)
    assert np.all(ov >= 0) and np.all(ov <= 1 + 1e-12)
    # float32 eigenvectors and torch inputs give the same (float64) answer
    ov32 = metrics.overlap(torch.from_numpy(S), torch.from_numpy(V.astype(np.float32)))
    np.testing.assert_allclose(ov32, naive, rtol=1e-5)
    np.testing.assert_allclose(metrics.overlap(S, V, k_max=10), naive[:10], rtol=1e-12)


def test_overlap_batched(V):
    R = masks.random(D, K, draws=5, seed=0)
    ov = metrics.overlap(R, V)
    assert ov.shape == (5, K)
    for i in range(5):
        np.testing.assert_allclose(ov[i], metrics.overlap(R[i], V), rtol=1e-14)


def test_overlap_agrees_with_principal_angles(V):
    S = masks.random(D, K, seed=7)[0]
    ov = metrics.overlap(S, V)
    for k in (1, 5, 17, 40):
        theta = metrics.principal_angles(S, V, k)
        assert theta.shape == (k,) and np.all(np.diff(theta) >= 0)
        assert np.all((theta >= 0) & (theta <= np.pi / 2))
        g = metrics.grassmannian_metrics(theta)
        np.testing.assert_allclose(ov[k - 1], np.mean(np.cos(theta) ** 2), rtol=1e-10)
        np.testing.assert_allclose(g["overlap"], ov[k - 1], rtol=1e-10)
        # overlap = 1 - d_projF^2 / k
        np.testing.assert_allclose(ov[k - 1], 1 - g["projection_F"] ** 2 / k, rtol=1e-10)
        assert metrics.mask_metrics(S, V, k) == pytest.approx(g)


def test_overlap_one_hot_support_is_one():
    support = np.array([7, 2, 30, 11, 0])
    Vh = _one_hot(support, 50)
    np.testing.assert_array_equal(metrics.overlap(support, Vh), np.ones(5))
    # the same set in another rank order: 1 only once the prefix covers the first k columns
    np.testing.assert_allclose(metrics.overlap(support[::-1].copy(), Vh), [0, 0, 1 / 3, 3 / 4, 1])
    theta = metrics.principal_angles(support, Vh, 5)
    np.testing.assert_array_equal(theta, np.zeros(5))


def test_overlap_errors(V):
    with pytest.raises(ValueError, match="out of range"):
        metrics.overlap(np.array([0, D]), V)
    with pytest.raises(ValueError, match="out of range"):
        metrics.overlap(np.array([-1, 3]), V)
    with pytest.raises(ValueError, match="duplicated"):
        metrics.overlap(np.array([3, 4, 3]), V)
    with pytest.raises(ValueError, match="duplicated"):
        metrics.overlap(np.array([[0, 1], [2, 2]]), V)
    with pytest.raises(ValueError, match="k_max"):
        metrics.overlap(np.arange(5), V, k_max=6)
    with pytest.raises(ValueError, match="integer"):
        metrics.overlap(np.array([0.0, 1.0]), V)


def test_chance_monte_carlo():
    Dc, k, draws = 400, 20, 2000
    Vc = _orthonormal(Dc, k, seed=11)
    ov = metrics.overlap(masks.random(Dc, k, draws=draws, seed=0), Vc)
    mean = ov.mean(axis=0)
    se = ov.std(axis=0, ddof=1) / np.sqrt(draws)
    expected = metrics.chance(np.arange(1, k + 1), Dc)
    assert np.all(np.abs(mean - expected) < 4 * se)
    assert metrics.chance(20, 400) == pytest.approx(0.05)


def test_chance_exact_expectation():
    # Each index lies in a uniform random k-subset S with probability k/D, so
    # E ||V[S, :k]||_F^2 = (k/D) ||V[:, :k]||_F^2 = (k/D) * k = k^2/D, i.e. E[overlap(k)] = k/D.
    # Check exactly by enumerating every ordered 3-subset of range(6).
    Dt, kt = 6, 3
    Vt = _orthonormal(Dt, kt, seed=4)
    subsets = np.array(list(itertools.permutations(range(Dt), kt)))
    mean = metrics.overlap(subsets, Vt).mean(axis=0)
    np.testing.assert_allclose(mean, metrics.chance(np.arange(1, kt + 1), Dt), rtol=1e-12)


def test_grassmannian_known_angles():
    g = metrics.grassmannian_metrics(np.array([0.0, np.pi / 2]))
    assert g["overlap"] == pytest.approx(0.5)
    assert g["geodesic"] == pytest.approx(np.pi / 2)
    assert g["chordal_2"] == pytest.approx(np.sqrt(2))
    assert g["chordal_F"] == pytest.approx(np.sqrt(2))
    assert g["projection_2"] == pytest.approx(1.0)
    assert g["projection_F"] == pytest.approx(1.0)
    assert g["fubini_study"] == pytest.approx(np.pi / 2)
    assert set(g) == set(metrics.GRASSMANNIAN_KEYS)

    t = np.array([np.pi / 3, np.pi / 6])
    g = metrics.grassmannian_metrics(t)
    assert g["overlap"] == pytest.approx((0.25 + 0.75) / 2)
    assert g["geodesic"] == pytest.approx(np.hypot(np.pi / 3, np.pi / 6))
    assert g["chordal_2"] == pytest.approx(2 * np.sin(np.pi / 6))
    assert g["projection_2"] == pytest.approx(np.sin(np.pi / 3))
    assert g["projection_F"] == pytest.approx(1.0)
    assert g["fubini_study"] == pytest.approx(np.arccos(0.5 * np.sqrt(3) / 2))

    z = metrics.grassmannian_metrics(np.zeros(4))
    assert z["overlap"] == 1.0
    for key in metrics.GRASSMANNIAN_KEYS[1:]:
        assert z[key] == 0.0
    with pytest.raises(ValueError):
        metrics.grassmannian_metrics(np.array([2.0]))


def test_subspace_angles_and_overlap(V):
    theta = metrics.subspace_principal_angles(V, V)
    np.testing.assert_allclose(theta, 0.0, atol=1e-7)
    assert metrics.subspace_overlap(V, V) == pytest.approx(1.0)
    # a rotated basis of the same span
    R, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((K, K)))
    np.testing.assert_allclose(metrics.subspace_principal_angles(V, V @ R), 0.0, atol=1e-7)
    # two known angles in a plane
    e = np.eye(4)
    a = 0.3
    A = e[:, :2]
    B = np.stack([e[:, 0], np.cos(a) * e[:, 1] + np.sin(a) * e[:, 2]], axis=1)
    np.testing.assert_allclose(metrics.subspace_principal_angles(A, B), [0.0, a], atol=1e-12)
    assert metrics.subspace_overlap(A, B) == pytest.approx((1 + np.cos(a) ** 2) / 2)
    # tiny angle resolved accurately (arccos alone would lose it)
    B2 = np.stack([e[:, 0], np.cos(1e-9) * e[:, 1] + np.sin(1e-9) * e[:, 2]], axis=1)
    np.testing.assert_allclose(metrics.subspace_principal_angles(A, B2), [0, 1e-9], atol=1e-15)
    # random subspaces: overlap = mean cos^2 of the angles; wider B captures more of A
    W = _orthonormal(D, K, seed=1)
    th = metrics.subspace_principal_angles(V, W)
    np.testing.assert_allclose(metrics.subspace_overlap(V, W), np.mean(np.cos(th) ** 2))
    Wide = _orthonormal(D, 2 * K, seed=2)
    Wide[:, :K] = V[:, :K]
    Wide, _ = np.linalg.qr(Wide)
    assert metrics.subspace_overlap(V[:, :10], Wide) == pytest.approx(1.0)
    assert metrics.subspace_principal_angles(V[:, :10], Wide).shape == (10,)


def test_iou_set_arithmetic():
    a = np.array([5, 1, 9, 3])
    b = np.array([3, 8, 5])
    assert metrics.iou(a, b) == pytest.approx(2 / 5)
    assert metrics.iou(a, a) == 1.0
    assert metrics.iou(a, np.array([100])) == 0.0
    with pytest.raises(ValueError, match="duplicated"):
        metrics.iou(np.array([1, 1]), b)


def test_iou_curve_matches_sets():
    rng = np.random.default_rng(0)
    for trial in range(5):
        a = rng.permutation(60)[:40]
        b = rng.permutation(60)[:45] if trial else a[::-1].copy()
        curve = metrics.iou_curve(a, b)
        assert curve.shape == (40,)
        ref = [len(set(a[:k]) & set(b[:k])) / len(set(a[:k]) | set(b[:k])) for k in range(1, 41)]
        np.testing.assert_allclose(curve, ref, rtol=1e-14)
        np.testing.assert_allclose(metrics.iou_curve(a, b, 7), ref[:7])
    np.testing.assert_allclose(metrics.iou_curve(a, a), 1.0)


def test_iou_equals_overlap_relation_for_masks():
    # masks as one-hot subspaces: ov = |A∩B| / k and IoU = ov / (2 - ov)
    Dm, k = 200, 30
    rng = np.random.default_rng(5)
    for shared in (0, 1, 10, 29, 30):
        perm = rng.permutation(Dm)
        a = perm[:k]
        b = np.concatenate([a[:shared], perm[k : 2 * k - shared]])
        rng.shuffle(b)
        ov = metrics.subspace_overlap(_one_hot(a, Dm), _one_hot(b, Dm))
        assert ov == pytest.approx(shared / k)
        assert metrics.iou(a, b) == pytest.approx(ov / (2 - ov))
        # also the mask-vs-basis overlap at k
        assert metrics.overlap(a, _one_hot(b, Dm))[-1] == pytest.approx(ov)
