"""A-posteriori Frobenius error, scree bounds and residuals (docs/method.md §3)."""

from __future__ import annotations

import numpy as np
import pytest

import hessian
from hessian.solvers import EigenResult, order_by_magnitude
from hessian.solvers.accuracy import FrobeniusErrorEstimate, probes

D, K, N_PROBES, EPS = 300, 10, 30, 0.5
SEEDS = range(40)


def _slack(p: float, trials: int) -> float:
    """Three binomial standard deviations of an observed frequency with success rate p."""
    return 3 * np.sqrt(p * (1 - p) / trials)


@pytest.fixture(scope="module")
def case():
    """Symmetric indefinite M = U diag(lam) U^T with a known spectrum (|lam| decreasing)."""
    rng = np.random.default_rng(0)
    U, _ = np.linalg.qr(rng.standard_normal((D, D)))
    j = np.arange(D)
    lam = np.where(j % 2 == 0, 1.0, -1.0) * (5.0 * 0.8**j + 0.2)
    M = (U * lam) @ U.T
    return M, U, lam


@pytest.fixture(scope="module")
def approx(case):
    """An approximate eigendecomposition (small sketch) and its dense true errors."""
    M = case[0]
    res = hessian.seigh(M, k=K, s=3 * K, seed=1)
    E = M - (res.eigenvectors * res.eigenvalues) @ res.eigenvectors.T
    return res, float(np.linalg.norm(E)), float(np.linalg.norm(M))


def test_probability_bounds_closed_form():
    below, above = hessian.probability_bounds(30, 0.5)
    assert below == pytest.approx(((1 - 0.5) * np.exp(0.5)) ** 15, rel=1e-12)
    assert above == pytest.approx(((1 + 0.5) * np.exp(-0.5)) ** 15, rel=1e-12)
    # the numbers stated in docs/method.md §3
    assert round(below, 3) == 0.055
    assert round(above, 3) == 0.242
    # more probes, tighter bounds; a wider band, smaller failure probabilities
    b60, a60 = hessian.probability_bounds(60, 0.5)
    assert b60 < below and a60 < above
    b30, a30 = hessian.probability_bounds(30, 0.8)
    assert b30 < below and a30 < above
    for n, eps in ((0, 0.5), (30, 0.0), (30, 1.0), (30, -0.1)):
        with pytest.raises(ValueError):
            hessian.probability_bounds(n, eps)


def test_aposteriori_error_statistics(case, approx):
    M = case[0]
    res, true_err, true_norm = approx
    assert true_err > 0.1 * true_norm  # a genuinely approximate result
    p_below, p_above = hessian.probability_bounds(N_PROBES, EPS)
    ests = [hessian.aposteriori_error(M, res, n=N_PROBES, seed=sd) for sd in SEEDS]
    err2 = np.array([e.error for e in ests]) ** 2 / true_err**2
    norm2 = np.array([e.norm for e in ests]) ** 2 / true_norm**2
    T = len(ests)
    for ratio in (err2, norm2):
        assert np.mean(ratio <= 1 - EPS) <= p_below + _slack(p_below, T)
        assert np.mean(ratio >= 1 + EPS) <= p_above + _slack(p_above, T)
        # unbiased: E[est^2] = truth^2
        assert abs(ratio.mean() - 1) < 0.15
        # but each seed's estimate is its own: the probes differ between seeds
        assert len(np.unique(ratio)) == T
    inside = [e.interval[0] <= true_err <= e.interval[1] for e in ests]
    assert np.mean(inside) >= 1 - p_below - p_above - _slack(p_below + p_above, T)
    for e in ests:
        assert e.n_probes == N_PROBES
        assert (e.p_below, e.p_above) == (p_below, p_above)
        assert e.relative == pytest.approx(e.error / e.norm, rel=1e-15)
        lo, hi = e.interval
        assert lo == pytest.approx(e.error / np.sqrt(1 + EPS))
        assert hi == pytest.approx(e.error / np.sqrt(1 - EPS))
    # same seed, same probes: bit-identical estimate
    again = hessian.aposteriori_error(M, res, n=N_PROBES, seed=SEEDS[3])
    assert again.error == ests[3].error and again.norm == ests[3].norm


def test_aposteriori_error_rank_one_worst_case(case):
    """A rank-one error makes est^2 / truth^2 exactly chi^2_n / n: the Chernoff bounds' case."""
    M, U, lam = case
    bad = lam[:K].copy()
    bad[3] += 0.7  # E = -0.7 u_4 u_4^T
    res = EigenResult(bad, U[:, :K])
    E = M - (U[:, :K] * bad) @ U[:, :K].T
    true_err = np.linalg.norm(E)
    assert true_err == pytest.approx(np.sqrt(0.7**2 + np.sum(lam[K:] ** 2)), rel=1e-10)
    # drop the tail too so that the error is exactly rank one
    M1 = (U[:, :K] * lam[:K]) @ U[:, :K].T
    true1 = np.linalg.norm(M1 - (U[:, :K] * bad) @ U[:, :K].T)
    assert true1 == pytest.approx(0.7, rel=1e-10)
    trials = 300
    r = np.array(
        [
            hessian.aposteriori_error(M1, res, n=N_PROBES, seed=sd).error ** 2 / true1**2
            for sd in range(trials)
        ]
    )
    p_below, p_above = hessian.probability_bounds(N_PROBES, EPS)
    assert np.mean(r <= 1 - EPS) <= p_below + _slack(p_below, trials)
    assert np.mean(r >= 1 + EPS) <= p_above + _slack(p_above, trials)
    # chi^2_n / n has mean 1 and variance 2 / n: 300 trials give a standard error of 0.015
    assert abs(r.mean() - 1) < 0.08
    assert abs(r.var() - 2 / N_PROBES) < 0.03


def test_aposteriori_error_of_exact_decomposition_is_zero(case):
    _, U, lam = case
    M = (U[:, :K] * lam[:K]) @ U[:, :K].T  # exactly rank K
    est = hessian.aposteriori_error(M, EigenResult(lam[:K], U[:, :K]), seed=4)
    assert est.error < 1e-12 * est.norm
    assert est.relative < 1e-12


def _true_scree(lam: np.ndarray, k: int) -> np.ndarray:
    lam2 = order_by_magnitude(lam) ** 2
    return np.array([lam2[r:].sum() for r in range(k + 1)]) / lam2.sum()


def test_scree_bounds_with_exact_error_and_norm(case):
    """With the true error and norm the bounds are Mirsky's theorem: they must hold exactly."""
    M, _, lam = case
    true = _true_scree(lam, K)
    tail_err = float(np.sqrt(np.sum(lam[K:] ** 2)))
    norm = float(np.linalg.norm(M))
    for inflate in (1.0, 1.3):  # an overestimated error gives looser, still valid, bounds
        est = FrobeniusErrorEstimate(inflate * tail_err, norm, 30, 0.0, 0.0, (0.0, 0.0))
        lower, upper = hessian.scree_bounds(lam[:K], est)
        assert lower.shape == upper.shape == (K + 1,)
        assert np.all(lower <= true + 1e-12)
        assert np.all(true <= upper + 1e-12)
        assert np.all(upper <= 1.0) and np.all(lower >= 0.0)
        assert upper[0] == 1.0  # scree(0) = 1, and the bound is capped there
        # both bounds fall with r, like the scree itself
        assert np.all(np.diff(lower) <= 1e-15) and np.all(np.diff(upper) <= 1e-15)
    # with the exact error, the upper bound at r = k is the truth itself
    est = FrobeniusErrorEstimate(tail_err, norm, 30, 0.0, 0.0, (0.0, 0.0))
    lower, upper = hessian.scree_bounds(lam[:K], est)
    assert upper[K] == pytest.approx(true[K], rel=1e-10)
    assert lower[K] == 0.0


def test_scree_bounds_from_probes_with_exact_pairs(case):
    """Exact top-k pairs: the estimated error is the true tail norm up to probe noise.

    The bounds plug the estimates into Mirsky's inequality, so they hold up to the estimates'
    own noise (at r = k the upper bound IS the point estimate (err / norm)^2). With n probes,
    est^2 / truth^2 has relative standard deviation sqrt(2 sum l^4 / n) / sum l^2 (l the
    eigenvalues of the matrix probed); we use n = 300 probes and allow 4.5 such deviations of
    the error and of the norm.
    """
    M, U, lam = case
    n = 300
    res = EigenResult(lam[:K], U[:, :K])
    true = _true_scree(lam, K)
    tail = lam[K:]
    tail_err = float(np.sqrt(np.sum(tail**2)))

    def rel_sd(x):
        return np.sqrt(2 * np.sum(x**4) / n) / np.sum(x**2)

    tol = 4.5 * (rel_sd(lam) + rel_sd(tail))
    assert tol < 0.2  # the check below is informative
    for sd in range(5):
        est = hessian.aposteriori_error(M, res, n=n, seed=sd)
        assert est.error**2 == pytest.approx(tail_err**2, rel=4.5 * rel_sd(tail))
        lower, upper = hessian.scree_bounds(res.eigenvalues, est)
        assert lower.shape == upper.shape == (K + 1,)
        assert np.all(lower <= true * (1 + tol))
        assert np.all(true <= upper * (1 + tol))
        assert np.all(upper <= 1.0) and np.all(lower <= upper)
        # informative: the band is not the trivial [0, 1] at the top
        assert upper[K] < 0.5 and lower[1] > 0.1


def test_residuals_of_exact_and_perturbed_pairs(case):
    M, _, _ = case
    w, V = np.linalg.eigh(M)
    w, V = order_by_magnitude(w, V)
    exact = EigenResult(w[:K], V[:, :K])
    r = hessian.residuals(M, exact)
    assert r.shape == (K,)
    assert np.all(r < 1e-10)
    rng = np.random.default_rng(3)
    Vp, _ = np.linalg.qr(V[:, :K] + 1e-2 * rng.standard_normal((D, K)))
    perturbed = EigenResult(w[:K], Vp)
    rp = hessian.residuals(M, perturbed)
    assert np.all(rp > 1e-3)
    np.testing.assert_allclose(hessian.residuals(M, perturbed, indices=[2, 5]), rp[[2, 5]])
    # a wrong eigenvalue with the right vector: residual |dlambda| / |lambda|
    wrong = w[:K].copy()
    wrong[0] *= 1.1
    rw = hessian.residuals(M, EigenResult(wrong, V[:, :K]), indices=[0])
    assert rw[0] == pytest.approx(0.1 / 1.1, rel=1e-8)


def test_probes_and_the_estimate_from_their_sums():
    W = probes(4, 100, seed=3)
    assert W.shape == (100, 4)
    np.testing.assert_array_equal(W, probes(4, 100, seed=3))
    est = FrobeniusErrorEstimate.from_probes(residual_sq=4.0 * 9, product_sq=4.0 * 36, n=4)
    assert (est.error, est.norm, est.relative, est.n_probes) == (3.0, 6.0, 0.5, 4)
    assert est.interval == pytest.approx((3 / np.sqrt(1.5), 3 / np.sqrt(0.5)))
    assert (est.p_below, est.p_above) == hessian.probability_bounds(4, 0.5)
