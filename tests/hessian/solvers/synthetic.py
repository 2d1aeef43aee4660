"""Synthetic symmetric matrices of known spectra for the solver tests (D = 400).

M = U diag(lam) U^T with U a fixed random orthogonal matrix (QR of a Gaussian):
- ``low rank``: rank R = 12, eigenvalues alternating in sign, magnitudes 10 down to 1 (distinct);
- ``tail``: the same top 12 plus a decaying indefinite tail lam_j = +-0.05 * 0.9^j, j = 1..388.
"""

from __future__ import annotations

import numpy as np

import hessian

D, R = 400, 12
SEEDS = (0, 1, 2)
CASES = [(noise, seed) for noise in hessian.NOISES for seed in SEEDS]


def spectrum():
    top = np.where(np.arange(R) % 2 == 0, 1.0, -1.0) * np.linspace(10.0, 1.0, R)
    j = np.arange(1, D - R + 1)
    tail = np.where(j % 2 == 0, 1.0, -1.0) * 0.05 * 0.9**j
    return top, tail


def matrices() -> dict:
    """The synthetic matrices (and their eigenbasis U, top and tail spectra)."""
    rng = np.random.default_rng(2024)
    U, _ = np.linalg.qr(rng.standard_normal((D, D)))
    top, tail = spectrum()
    lam = np.concatenate([top, tail])
    return {
        "U": U,
        "top": top,
        "tail": tail,
        "low_rank": (U[:, :R] * top) @ U[:, :R].T,
        "full": (U * lam) @ U.T,
        "psd_low_rank": (U[:, :R] * np.abs(top)) @ U[:, :R].T,
        "psd_full": (U * np.abs(lam)) @ U.T,
    }


def frob_error(M, res):
    return float(np.linalg.norm(M - (res.eigenvectors * res.eigenvalues) @ res.eigenvectors.T))


def check_basic(res, k):
    assert res.eigenvalues.shape == (k,) and res.eigenvectors.shape == (D, k)
    np.testing.assert_allclose(res.eigenvectors.T @ res.eigenvectors, np.eye(k), atol=1e-10)
    mags = np.abs(res.eigenvalues)
    assert np.all(np.diff(mags) <= 0)  # |lambda| descending
