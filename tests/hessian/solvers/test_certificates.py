"""Certificates: the Davis-Kahan / Weyl bounds hold, and nothing unresolved is certified."""

import numpy as np
import pytest

from hessian.solvers import certificates as cf
from hessian.solvers.certificates import certify, certify_by_products, check_pairs

D = 300


def operator(seed=0, top=(10, -9, 8, -7, 6, -5)):
    rng = np.random.default_rng(seed)
    U, _ = np.linalg.qr(rng.standard_normal((D, D)))
    bulk = rng.uniform(-1, 1, D - len(top))
    lam = np.concatenate([np.asarray(top, float), bulk])
    w, V = lam, U
    order = np.lexsort((-w, -np.abs(w)))
    return (U * lam) @ U.T, w[order], V[:, order]


def subspace_overlap(A, B):
    return np.linalg.norm(A.T @ B) ** 2 / A.shape[1]


def test_exact_pairs_are_certified_up_to_the_checked_prefix():
    H, w, V = operator()
    c = certify_by_products(H, w[:100], V[:, :100])
    assert c.max_residual < 1e-12
    assert c.certified_rank == cf.LEADING_CHECKS  # only the contiguous checked prefix counts
    assert not c.complete and "use sketch.mode: accurate" in c.warning()
    assert len(c.checked) == cf.LEADING_CHECKS + cf.SPREAD_CHECKS


def test_the_overlap_bound_holds_for_perturbed_pairs():
    """Rayleigh-Ritz pairs of a perturbed top-6 subspace: the Davis-Kahan bound is below the
    true overlap for every k', and the certificate fails once the perturbation is large."""
    H, w, V = operator(1)
    rng = np.random.default_rng(3)
    for eps, expect in ((1e-4, 6), (3e-2, 0)):
        Q, _ = np.linalg.qr(V[:, :12] + eps * rng.standard_normal((D, 12)))
        t, U = np.linalg.eigh(Q.T @ H @ Q)
        o = np.lexsort((-t, -np.abs(t)))
        t, X = t[o], Q @ U[:, o]
        r = np.linalg.norm(H @ X - X * t, axis=0)
        c = certify(t, r, 6)
        for kk in range(1, 7):
            if np.isfinite(c.overlap_bound[kk - 1]):
                true = subspace_overlap(V[:, :kk], X[:, :kk])
                assert c.overlap_bound[kk - 1] <= true + 1e-12, (eps, kk)
        assert c.certified_rank == expect, (eps, c.certified_rank, c.residuals[:6])
        # Kato-Temple: eigenvalue bounds hold
        err = np.abs(t[:6] - w[:6]) / np.abs(t[:6])
        assert np.all(err <= c.eigenvalue_bounds[:6] + 1e-12)


def test_a_near_tie_at_k_is_not_certified_until_resolved():
    """lambda_5 / lambda_6 = 1.0006: the top-5 subspace needs residuals below the gap."""
    H, _, V = operator(2, top=(10, -9, 8, -7, 6.0036, 6.0))
    rng = np.random.default_rng(4)
    X = V[:, :10].copy()
    X[:, 4] = np.cos(0.01) * V[:, 4] + np.sin(0.01) * V[:, 5]  # mixed across the tie
    X[:, 5] = -np.sin(0.01) * V[:, 4] + np.cos(0.01) * V[:, 5]
    t = np.einsum("di,dj,ji->i", X, H, X)
    r = np.linalg.norm(H @ X - X * t, axis=0)
    c = certify(t, r + 1e-3 * rng.random(10), 5)
    assert c.residuals[:5].max() < cf.RESIDUAL_TOL  # every residual passes the tolerance...
    assert c.certified_rank == 4  # ...but the subspace across the tie is not resolved


def test_check_pairs_and_records():
    assert list(check_pairs(10)) == list(range(10))
    idx = check_pairs(1000)
    assert len(idx) == 64 and idx[47] == 47 and idx[-1] == 999 and np.all(np.diff(idx) > 0)
    H, w, V = operator()
    c = certify_by_products(H, w[:20], V[:, :20])
    rec = c.record()
    assert rec["certified_rank"] == c.certified_rank and len(rec["residuals"]) == 20
    again = cf.Certificate.from_record(c.summary(), c.arrays())
    assert again.certified_rank == c.certified_rank
    np.testing.assert_array_equal(again.residuals, c.residuals)
    with pytest.raises(ValueError, match="residuals"):
        certify(w[:5], np.ones(4), 5)


def _bounds_by_definition(theta, r, kmax, beta):
    """The Davis-Kahan bounds k' by k', as the module states them."""
    out = np.full(kmax, np.nan)
    for kk in range(1, kmax + 1):
        t = theta[:kk, None]
        d = np.maximum(np.maximum(theta[None, kk:] - r[None, kk:] - t, t - theta[kk:] - r[kk:]), 0)
        delta = min(d.min(initial=np.inf), np.min(np.maximum(np.abs(theta[:kk]) - beta, 0)))
        if delta > 0:
            out[kk - 1] = max(0.0, 1 - np.sum(r[:kk] ** 2) / delta**2 / kk)
    return out


@pytest.mark.parametrize("seed", range(4))
def test_the_overlap_bounds_equal_their_definition(seed):
    rng = np.random.default_rng(seed)
    P = 60
    theta = rng.choice([-1, 1], P) * np.sort(rng.uniform(0.5, 10, P))[::-1]
    theta[[10, 11]] = theta[10]  # a tie: no gap at k' = 11
    r = rng.uniform(0, 0.05, P) * (rng.random(P) < 0.8)
    for kmax, beta in ((P, 0.4), (P - 5, 0.4), (20, 6.0)):
        got = cf._overlap_bounds(theta, r, kmax, beta)
        want = _bounds_by_definition(theta, r, kmax, beta)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        np.testing.assert_allclose(got[~np.isnan(got)], want[~np.isnan(want)], rtol=1e-12)
        assert np.isnan(want).any() and (~np.isnan(want)).any()
