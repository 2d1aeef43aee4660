"""The accurate mode (randomized block Krylov) on synthetic matrices of known spectra."""

from __future__ import annotations

import numpy as np
import pytest

import hessian
from hessian.study.metrics import subspace_overlap

from .synthetic import CASES, D, R, check_basic


@pytest.mark.parametrize(("noise", "seed"), CASES)
def test_block_krylov_converges(mats, noise, seed):
    M, U, top = mats["full"], mats["U"], mats["top"]
    res = hessian.block_krylov_eigh(M, k=R, tol=1e-6, seed=seed, noise=noise)
    check_basic(res, R)
    assert res.info["converged"] is True
    assert res.info["max_residual"] <= 1e-6
    np.testing.assert_array_less(np.abs(res.eigenvalues - top) / np.abs(top), 1e-6)
    assert subspace_overlap(U[:, :R], res.eigenvectors) > 1 - 1e-8
    # the reported residuals are the true ones
    r = hessian.residuals(M, res)
    assert r.max() == pytest.approx(res.info["max_residual"], rel=1e-3, abs=1e-12)


def test_block_krylov_reports_non_convergence(mats):
    res = hessian.block_krylov_eigh(mats["full"], k=R, block=12, tol=1e-14, max_depth=1)
    assert res.info["converged"] is False
    assert res.info["max_residual"] > 1e-14


def test_block_krylov_fits_its_basis_in_memory(mats):
    """The default block narrows until the basis fits; a budget too small for k is refused."""
    M, U = mats["full"], mats["U"]
    wide = hessian.block_krylov_eigh(M, k=R, tol=1e-6, seed=0)
    assert wide.info["block"] == 64
    budget = 8 * D * 16 * 10  # 16-wide blocks: 4 for the basis, 5 working, 1 for the result
    res = hessian.block_krylov_eigh(M, k=R, tol=1e-6, seed=0, memory=budget)
    assert res.info["block"] == 16
    assert res.info["basis"] <= 4 * 16
    if not res.info["converged"]:
        assert res.info["depth_limit"] == "memory"
    assert subspace_overlap(U[:, :R], res.eigenvectors) > 0.99
    deep = hessian.block_krylov_eigh(M, k=R, block=4, max_depth=1, tol=1e-14)  # k needs 3
    assert deep.info["basis"] >= R and deep.eigenvectors.shape == (D, R)
    with pytest.raises(MemoryError, match="GiB"):
        hessian.block_krylov_eigh(M, k=R, memory=8 * D * 8 * 6)
