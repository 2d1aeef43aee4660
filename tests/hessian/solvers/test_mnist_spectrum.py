"""The sketch, the accurate mode and the mask overlaps on mnist_mini against the exact Hessian.

mnist_mini (D = 7,030) after 300 SGD steps; the exact reference from the dense
float64 Hessian (tests/conftest.py). The paper's setting is k = 355, s = 2k = 710.
"""

import numpy as np
import pytest

import hessian
from hessian import masks, metrics


@pytest.mark.parametrize("k", [20, 100, 355])
def test_sketch_against_exact(mnist_trained, k):
    c = mnist_trained
    r = hessian.seigh(c.op, k=k, s=2 * k, seed=7)
    assert r.eigenvalues.shape == (k,) and r.eigenvectors.shape == (c.op.D, k)
    assert r.n_hvp == 2 * k
    assert np.all(np.diff(np.abs(r.eigenvalues)) <= 1e-12)  # |lambda| order
    V = r.eigenvectors
    np.testing.assert_allclose(V.T @ V, np.eye(k), atol=1e-8)

    errs = hessian.eigenvalue_errors(r.eigenvalues, c.exact.eigenvalues)
    sub = metrics.subspace_overlap(c.exact.eigenvectors[:, :k], V)
    # A single pass at s = 2k is coarse per eigenpair (the spectrum decays slowly) but far from
    # chance: the sketched subspace holds a good part of the exact one (chance: k / D < 0.06).
    assert sub > 0.25, sub
    assert np.median(errs["nearest"]) < 0.5
    # after training the top eigenvalue is well separated (7.8 vs 6.4)
    assert errs["matched"][0] < 0.05, errs["matched"][:3]

    # the magnitude-mask overlap curve of the sketch tracks the exact curve
    mag = masks.magnitude(c.theta, k)
    exact_curve = metrics.overlap(mag, c.exact.eigenvectors[:, :k])
    sketch_curve = metrics.overlap(mag, V)
    assert np.abs(sketch_curve - exact_curve).max() < 0.01
    if k == 355:
        assert abs(sketch_curve[-1] - exact_curve[-1]) < 0.01


def test_mask_overlaps_against_chance(mnist_trained):
    c = mnist_trained
    k, D = 355, c.op.D
    V = c.exact.eigenvectors[:, :k]
    mag = metrics.overlap(masks.magnitude(c.theta, k), V)
    draws = metrics.overlap(masks.random(D, k, draws=200, seed=1), V)
    best = masks.best_overlap(V)
    chance = metrics.chance(np.arange(1, k + 1), D)
    # random masks sit on chance: E[overlap] = k / D exactly
    mean, se = draws[:, -1].mean(), draws[:, -1].std(ddof=1) / np.sqrt(len(draws))
    assert abs(mean - k / D) < 4 * se
    # the paper's finding: magnitude masks overlap the top eigenspace well above chance ...
    assert mag[-1] > 1.5 * chance[-1]
    # ... and the best mask bounds every mask at every k
    assert np.all(best >= mag - 1e-12) and np.all(best >= draws.max(axis=0) - 1e-12)
    # overlap = 1 - d_projF^2 / k on the principal angles
    for kk in (10, 100, 355):
        theta = metrics.principal_angles(masks.magnitude(c.theta, kk), V, kk)
        g = metrics.grassmannian_metrics(theta)
        assert g["overlap"] == pytest.approx(mag[kk - 1], abs=1e-12)
        assert g["overlap"] == pytest.approx(1 - g["projection_F"] ** 2 / kk, abs=1e-12)


def test_accurate_mode_is_certified_at_the_near_tie(mnist_trained):
    """k = 355: every pair certified, the subspace equal to the exact one, the Davis-Kahan
    bound below the true overlap; the single-pass sketch never certifies what is wrong."""
    c, k = mnist_trained, 355
    r = hessian.accurate_eigh(c.op, k=k, seed=3)
    cert = r.certificate
    assert r.info["converged"] and cert.certified_rank == k, cert.summary()
    sub = metrics.subspace_overlap(c.exact.eigenvectors[:, :k], r.eigenvectors)
    errs = hessian.eigenvalue_errors(r.eigenvalues, c.exact.eigenvalues)
    assert sub >= 0.999 and sub >= cert.overlap_bound[k - 1] - 1e-9, sub
    assert np.median(errs["matched"]) < 1e-4
    assert r.n_hvp <= 1400, r.n_hvp  # ~3 products per eigenpair (ARPACK: ~2, sequentially)
    sk = hessian.seigh(c.op, k=k, seed=3)
    sc = sk.certificate
    for kk in range(1, sc.certified_rank + 1):  # what the sketch certifies is right
        true = metrics.subspace_overlap(c.exact.eigenvectors[:, :kk], sk.eigenvectors[:, :kk])
        assert true >= sc.overlap_bound[kk - 1] - 1e-9, kk
    print(f"accurate: {r.n_hvp} HVPs, overlap {sub:.6f}; sketch certified {sc.certified_rank}")


def test_aposteriori_error_matches_truth(mnist_trained):
    c, k = mnist_trained, 355
    r = hessian.seigh(c.op, k=k, s=2 * k, seed=11)
    est = hessian.aposteriori_error(c.op, r, n=30, seed=5)
    H_hat = (r.eigenvectors * r.eigenvalues) @ r.eigenvectors.T
    true_rel = np.linalg.norm(c.H - H_hat) / np.linalg.norm(c.H)
    # within the factor-0.5..1.5 band on the squares (fails with probability < 0.3)
    assert 0.5 * true_rel**2 <= est.relative**2 <= 1.5 * true_rel**2
    lo, hi = hessian.scree_bounds(r.eigenvalues, est)
    assert lo.shape == (k + 1,) and np.all(lo <= hi)
    res = hessian.residuals(c.op, c.exact.truncate(5))
    assert res.max() < 1e-8
