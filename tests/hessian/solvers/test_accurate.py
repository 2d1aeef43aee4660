"""The accurate mode in memory: certified top-k, against exact spectra."""

import numpy as np
import pytest

import hessian
from hessian.study.metrics import subspace_overlap

from .synthetic import D, R


def flat(D=600, k_out=5, seed=0):
    """A few outliers over a flat indefinite bulk: |lambda| spacing ~1e-3 (the hard case)."""
    rng = np.random.default_rng(seed)
    U, _ = np.linalg.qr(rng.standard_normal((D, D)))
    lam = np.concatenate([
        rng.uniform(5, 10, k_out) * rng.choice([-1, 1], k_out),
        np.linspace(1, 0.5, D - k_out) * rng.choice([-1, 1], D - k_out),
    ])  # fmt: skip
    H = (U * lam) @ U.T
    o = np.lexsort((-lam, -np.abs(lam)))
    return H, lam[o], U[:, o]


def test_flat_spectrum_is_certified_and_right():
    H, w, V = flat()
    k = 40
    r = hessian.accurate_eigh(H, k, block=8)
    c = r.certificate
    assert r.info["converged"] and c.certified_rank == k
    assert c.max_residual <= c.tol
    sub = subspace_overlap(V[:, :k], r.eigenvectors)
    assert sub >= c.overlap_bound[k - 1] - 1e-12 and sub > 0.999
    assert np.max(np.abs(r.eigenvalues - w[:k]) / np.abs(w[:k])) < 1e-4
    assert r.info["restarts"] >= 1 and r.n_hvp < 40 * k  # restarted, and far from D products
    assert c.verified < 1e-6  # the relation's residuals agree with fresh products


def test_low_rank_matrix(mats):
    r = hessian.accurate_eigh(mats["full"], R, block=4)
    c = r.certificate
    assert c.certified_rank == R
    top = mats["top"][np.argsort(-np.abs(mats["top"]))]
    err = np.abs(r.eigenvalues - top) / np.abs(top)
    assert np.all(err <= c.eigenvalue_bounds[:R] + 1e-12) and err.max() < 1e-3  # Kato-Temple


def test_budget_spent_is_reported_not_hidden():
    H, _, _ = flat(seed=1)
    r = hessian.accurate_eigh(H, 40, block=8, max_products=120)
    assert not r.info["converged"]
    assert r.certificate.certified_rank < 40 and r.certificate.warning()
    assert r.n_hvp <= 120 + r.info["block"] + 64  # the budget, plus the verification sample


def test_warm_start_from_a_sketch_saves_products():
    H, _, V = flat(seed=2)
    k = 30
    cold = hessian.accurate_eigh(H, k, block=8, seed=1)
    sk = hessian.seigh(H, k, seed=1)
    warm = hessian.accurate_eigh(H, k, block=8, seed=1, warm_start=sk.eigenvectors)
    assert warm.certificate.certified_rank == k
    assert warm.info["krylov_products"] <= cold.info["krylov_products"]
    assert subspace_overlap(V[:, :k], warm.eigenvectors) > 0.999


def test_bad_input_and_memory(mats):
    M = mats["full"]
    with pytest.raises(ValueError, match=r"\bk\b"):
        hessian.accurate_eigh(M, k=0)
    with pytest.raises(ValueError, match="block"):
        hessian.accurate_eigh(M, k=5, block=D)
    with pytest.raises(MemoryError, match=r"out_of_core\.accurate"):
        hessian.accurate_eigh(M, k=R, memory=8 * D * 10)


def test_block_krylov_eigh_is_a_deprecated_alias(mats):
    with pytest.warns(DeprecationWarning, match="accurate_eigh"):
        r = hessian.block_krylov_eigh(mats["full"], k=R, tol=1e-6, max_depth=3, noise="sparse")
    assert r.certificate.certified_rank == R
