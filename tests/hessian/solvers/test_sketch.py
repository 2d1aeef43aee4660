"""SEIGH and Nystrom on synthetic symmetric matrices of known spectra (docs/method.md §2).

M = U diag(lam) U^T with U a fixed random orthogonal matrix (QR of a Gaussian), D = 400:
- ``low rank``: rank R = 12, eigenvalues alternating in sign, magnitudes 10 down to 1 (distinct);
- ``tail``: the same top 12 plus a decaying indefinite tail lam_j = +-0.05 * 0.9^j, j = 1..388.
"""

from __future__ import annotations

import numpy as np
import pytest

import hessian
from hessian.solvers.sketching_matrices import sketching_matrix
from hessian.study.metrics import subspace_overlap

from .synthetic import CASES, D, R, check_basic, frob_error


@pytest.mark.parametrize(("noise", "seed"), CASES)
def test_exact_recovery_of_low_rank(mats, noise, seed):
    """rank(M) = 12 <= k: exact up to round-off.

    The outer sketch Y = M Phi_R[:r]^T (r = k + p >= 12) spans range(M) exactly, so M = Q Q^T M
    Q Q^T; then Z = Phi_L M Phi_R^T = (Phi_L Q)(Q^T M Q)(Phi_R Q)^T, and with Phi_L Q and Phi_R Q
    of full column rank r the two least-squares solves return C = Q^T M Q exactly (Tropp,
    Yurtsever, Udell & Cevher 2019, §4). Only round-off remains.
    """
    M, U, top = mats["low_rank"], mats["U"], mats["top"]
    res = hessian.seigh(M, k=R, s=30, seed=seed, noise=noise)
    check_basic(res, R)
    np.testing.assert_allclose(res.eigenvalues, top, rtol=1e-8)
    assert subspace_overlap(U[:, :R], res.eigenvectors) > 1 - 1e-10
    assert res.n_hvp == 30
    assert res.info["noise"] == noise and res.info["seed"] == seed


@pytest.mark.parametrize(("noise", "seed"), CASES)
def test_low_rank_plus_tail_within_theory(mats, noise, seed):
    """Low rank plus a decaying tail: errors within the sketch's guarantees.

    - Frobenius error: Tropp et al. (2019), Thm 5.1: with s >= 2r + 1 (here r = k + p = 24,
      s = 60 >= 49) the expected error of the sketch is a modest multiple of the best rank-r
      error, which is <= tail_F; truncating to k = 12 adds at most the tail again. We assert
      ||M - V diag(l) V^T||_F <= 4 tail_F (tail_F = ||lam_13..||, the best rank-12 error).
    - Eigenvalues: Weyl, |lam_i(M) - lam_i(M_hat)| <= ||M - M_hat||_2 <= ||M - M_hat||_F. Both
      matrices have 6 large eigenvalues of each sign and the rest within the tail, so the
      algebraic order pairs the same eigenvalues as the |lambda| order used here.
    - Subspace: Davis-Kahan sin(theta), ||sin Theta||_F <= ||M - M_hat||_F / delta with
      delta >= gap - max eigenvalue error (gap = |lam_12| - |lam_13|); overlap = 1 -
      ||sin Theta||_F^2 / k, which is above the asserted 1 - (err / gap)^2 whenever
      gap - max eigenvalue error > gap / sqrt(k), true here by the Weyl check.
    """
    M, U, top, tail = mats["full"], mats["U"], mats["top"], mats["tail"]
    tail_F = float(np.linalg.norm(tail))
    gap = abs(top[-1]) - abs(tail[0])
    res = hessian.seigh(M, k=R, s=60, oversample=12, seed=seed, noise=noise)
    check_basic(res, R)
    err = frob_error(M, res)
    assert tail_F <= err <= 4 * tail_F  # never better than the best rank-12 approximation
    eig_err = np.abs(res.eigenvalues - top)
    assert np.all(eig_err <= err)
    assert eig_err.max() < gap - gap / np.sqrt(R)  # the premise of the Davis-Kahan step
    ov = subspace_overlap(U[:, :R], res.eigenvectors)
    assert ov >= 1 - (err / gap) ** 2
    assert res.n_hvp == 60 and res.info["oversample"] == 12


def test_seigh_refuses_a_sketch_that_does_not_fit(mats):
    """Refused before any product, naming the GiB it needs; a budget that fits runs."""
    r = R + 3  # k + the default oversample
    need = D * (8 * r + 8 * R)
    with pytest.raises(MemoryError, match=r"needs .* GiB .* out-of-core"):
        hessian.seigh(mats["full"], k=R, s=30, memory=need - 1)
    assert hessian.seigh(mats["full"], k=R, s=30, memory=need).n_hvp == 30


@pytest.mark.parametrize("noise", ["gaussian", "sparse"])
def test_gram_route_equals_householder_route(mats, noise):
    """The solve that never forms Q (Gram matrix of Y, the out-of-core algebra) gives the
    eigenpairs of the Householder QR route where it applies, and declines where rank(Y) < r."""
    from hessian.solvers.linalg import core, orth, symmetric_eigh
    from hessian.solvers.sketch import _solve_by_gram

    k, r, s = R, 2 * R, 60
    Phi_R, Phi_L = sketching_matrix(noise, s, D, 0, 0), sketching_matrix(noise, s, D, 0, 1)
    for name, declines in (("full", False), ("low_rank", True)):
        M = mats[name]
        Y = M @ Phi_R.rows(0, s).T  # all s measurements; the outer sketch is the first r
        Z = Phi_L.apply(Y)
        w, V = _solve_by_gram(np.ascontiguousarray(Y[:, :r].T), Z, Phi_R.apply(Y[:, :r]), k)
        if declines:
            assert V is None
            continue
        Q = orth(Y[:, :r])
        w_ref, U = symmetric_eigh(core(Phi_L.apply(Q), Z, Phi_R.apply(Q)))
        np.testing.assert_allclose(w[:k], w_ref[:k], rtol=1e-9)
        assert subspace_overlap(V, Q @ U[:, :k]) > 1 - 1e-9


@pytest.mark.parametrize(("noise", "seed"), CASES)
def test_power_iterations_sharpen_eigenvalues(mats, noise, seed):
    M, top = mats["full"], mats["top"]
    single = hessian.seigh(M, k=R, s=60, oversample=12, seed=seed, noise=noise)
    power = hessian.seigh(M, k=R, s=60, oversample=12, seed=seed, noise=noise, power=2)
    check_basic(power, R)
    e0 = np.abs(single.eigenvalues - top).max()
    e2 = np.abs(power.eigenvalues - top).max()
    assert e2 * 10 <= e0
    assert power.n_hvp == 3 * (R + 12)  # (q + 1) r products
    assert power.info["power"] == 2


@pytest.mark.parametrize(("noise", "seed"), CASES)
def test_nystrom_psd(mats, noise, seed):
    U, absl = mats["U"], np.abs(mats["top"])
    # exactly rank 12 and PSD: Y spans range(M), so the Nystrom approximation is exact
    res = hessian.nystrom(mats["psd_low_rank"], k=R, oversample=12, seed=seed, noise=noise)
    check_basic(res, R)
    np.testing.assert_allclose(res.eigenvalues, absl, rtol=1e-8)
    assert subspace_overlap(U[:, :R], res.eigenvectors) > 1 - 1e-10
    assert res.n_hvp == 24

    # PSD with the tail: Y (Omega^T Y)^+ Y^T <= M in the PSD order, so the eigenvalues are never
    # overestimated, and the error falls with oversampling. (At p = 12 this tail leaves about
    # 2 % on lambda_12 = 1 in the textbook formula too, checked below; 1e-3 needs p = 60.)
    Mp = mats["psd_full"]
    errs = []
    for p in (12, 60):
        res = hessian.nystrom(Mp, k=R, oversample=p, seed=seed, noise=noise)
        Om = sketching_matrix(noise, R + p, D, seed, 0).dense().T
        Y = Mp @ Om
        H_nys = Y @ np.linalg.pinv(Om.T @ Y) @ Y.T
        ref = np.sort(np.linalg.eigvalsh((H_nys + H_nys.T) / 2))[::-1][:R]
        np.testing.assert_allclose(res.eigenvalues, ref, rtol=1e-8)
        assert np.all(res.eigenvalues <= absl * (1 + 1e-10))
        errs.append(np.max((absl - res.eigenvalues) / absl))
    assert errs[0] < 0.1
    assert errs[1] < 1e-3
    assert errs[1] < errs[0]


@pytest.mark.parametrize("noise", hessian.NOISES)
def test_nystrom_refuses_indefinite(mats, noise):
    for key in ("low_rank", "full"):
        with pytest.raises(ValueError, match="positive semi-definite"):
            hessian.nystrom(mats[key], k=R, oversample=12, seed=0, noise=noise)


def test_bad_inputs(mats):
    M = mats["full"]
    with pytest.raises(ValueError, match=r"\bk\b"):
        hessian.seigh(M, k=D + 1)
    with pytest.raises(ValueError, match=r"\bk\b"):
        hessian.seigh(M, k=0)
    with pytest.raises(ValueError, match=r"\bs\b"):
        hessian.seigh(M, k=12, s=10)
    with pytest.raises(ValueError, match=r"\bs\b"):
        hessian.seigh(M, k=12, s=20, oversample=12)  # s < k + p
    with pytest.raises(ValueError, match=r"\bs\b"):
        hessian.seigh(M, k=12, s=D + 1)
    with pytest.raises(ValueError, match="oversample"):
        hessian.seigh(M, k=12, s=30, oversample=-1)
    with pytest.raises(ValueError, match="power"):
        hessian.seigh(M, k=12, s=30, power=-1)
    with pytest.raises(ValueError):
        hessian.seigh(M, k=12, s=30, noise="cauchy")
    bad = M.copy()
    bad[3, 7] = np.nan
    with pytest.raises(FloatingPointError):
        hessian.seigh(bad, k=12, s=30)
    with pytest.raises(FloatingPointError):
        hessian.accurate_eigh(bad, k=12)
    with pytest.raises(ValueError, match="square"):
        hessian.seigh(M[:, :300], k=12, s=30)
    with pytest.raises(ValueError, match="square"):
        hessian.nystrom(M[:300], k=12)
    with pytest.raises(ValueError, match=r"\bk\b"):
        hessian.nystrom(mats["psd_full"], k=0)
    with pytest.raises(ValueError, match=r"\bk\b"):
        hessian.accurate_eigh(M, k=D + 1)


@pytest.mark.parametrize("noise", hessian.NOISES)
def test_vectors_per_call_does_not_change_the_result(mats, noise):
    M = mats["full"]
    a = hessian.seigh(M, k=R, s=60, seed=3, noise=noise, vectors_per_call=7)
    b = hessian.seigh(M, k=R, s=60, seed=3, noise=noise, vectors_per_call=64)
    np.testing.assert_allclose(a.eigenvalues, b.eigenvalues, rtol=1e-12, atol=1e-12)
    assert subspace_overlap(a.eigenvectors, b.eigenvectors) > 1 - 1e-12
    assert a.n_hvp == b.n_hvp == 60  # single pass: s products whatever the blocking
    assert (a.n_passes, b.n_passes) == (-(-60 // 7), 1)
    assert a.info["vectors_per_call"] == 7
    # a different seed is a different sketch
    c = hessian.seigh(M, k=R, s=60, seed=4, noise=noise, vectors_per_call=7)
    assert not np.array_equal(c.eigenvalues, a.eigenvalues)


def test_block_size_is_the_old_name_of_vectors_per_call(mats):
    M = mats["full"]
    new = hessian.seigh(M, k=R, s=60, seed=3, vectors_per_call=7)
    with pytest.warns(DeprecationWarning, match="vectors_per_call"):
        old = hessian.seigh(M, k=R, s=60, seed=3, block_size=7)
    np.testing.assert_array_equal(old.eigenvalues, new.eigenvalues)
    assert old.n_passes == new.n_passes == -(-60 // 7)
    with pytest.warns(DeprecationWarning):
        assert hessian.nystrom(mats["psd_full"], k=R, block_size=5).info["vectors_per_call"] == 5
    with pytest.warns(DeprecationWarning):
        hessian.block_krylov_eigh(M, k=R, block_size=5, max_depth=1)
