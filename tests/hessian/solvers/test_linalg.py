"""The dense float64 algebra the solvers share."""

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from hessian.solvers.linalg import (
    ONE_BLAS_THREAD_ENTRIES,
    core,
    dense_threads,
    gram_orth,
    nested_overlaps,
    orth,
    solve_from_gram,
    symmetric_eigh,
    unit_columns,
)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.mark.parametrize("cond", [1.0, 1e3, 1e8])
def test_orth_is_orthonormal_and_spans(rng, cond):
    U, _ = np.linalg.qr(rng.standard_normal((500, 12)))
    Y = (U * np.logspace(0, -np.log10(cond), 12)) @ np.linalg.qr(rng.standard_normal((12, 12)))[0]
    Q = orth(Y)
    np.testing.assert_allclose(Q.T @ Q, np.eye(12), atol=1e-12)
    np.testing.assert_allclose(Q @ (Q.T @ Y), Y, atol=1e-9 * np.abs(Y).max())


def test_gram_orth_from_the_gram_matrix_alone(rng):
    Y = rng.standard_normal((300, 8))
    Y[:, 7] = Y[:, 0] + Y[:, 1]  # rank 7
    T, cond = gram_orth(Y.T @ Y)
    assert T.shape == (8, 7) and cond >= 1
    np.testing.assert_allclose((Y @ T).T @ (Y @ T), np.eye(7), atol=1e-8)
    with pytest.raises(FloatingPointError, match="zero"):
        gram_orth(np.zeros((3, 3)))


def test_symmetric_eigh_symmetrises_and_orders_by_magnitude(rng):
    A = rng.standard_normal((6, 6))
    w, U = symmetric_eigh(A)
    S = (A + A.T) / 2
    np.testing.assert_allclose(S @ U, U * w, atol=1e-12)
    assert np.all(np.diff(np.abs(w)) <= 0)


def test_core_recovers_the_core_matrix(rng):
    C = rng.standard_normal((5, 5))
    C = (C + C.T) / 2
    A, B = rng.standard_normal((20, 5)), rng.standard_normal((20, 5))
    np.testing.assert_allclose(core(A, A @ C @ B.T, B), C, atol=1e-10)


def test_solve_from_gram_equals_the_explicit_basis(rng):
    """Steps 3-5 of the sketch through G = Y^T Y equal the same steps with Q formed."""
    D, r, s, k = 200, 6, 12, 4
    H = rng.standard_normal((D, D))
    H = (H + H.T) / 2
    Phi_R, Phi_L = rng.standard_normal((s, D)), rng.standard_normal((s, D))
    Yall = H @ Phi_R.T
    Y, Z = Yall[:, :r], Phi_L @ Yall
    w, M, info = solve_from_gram(Y.T @ Y, lambda T: (Y @ T).T @ (Y @ T), Z, Phi_R @ Y, k)
    Q = orth(Y)
    w2, U = symmetric_eigh(core(Phi_L @ Q, Z, Phi_R @ Q))
    np.testing.assert_allclose(w, w2, rtol=1e-8)
    V, V2 = Y @ M, Q @ U[:, :k]
    np.testing.assert_allclose(np.abs(V.T @ V2), np.eye(k), atol=1e-6)
    assert info["rank"] == r and info["passes"] in (1, 2)


def test_unit_columns():
    np.testing.assert_array_equal(unit_columns(5, 1, 3), np.eye(5)[:, 1:3])


def test_nested_overlaps(rng):
    A = np.linalg.qr(rng.standard_normal((50, 6)))[0]
    B = np.linalg.qr(rng.standard_normal((50, 6)))[0]
    curve = nested_overlaps(A.T @ B)
    for k in range(1, 7):
        assert curve[k - 1] == pytest.approx(np.sum((A[:, :k].T @ B[:, :k]) ** 2) / k)
    np.testing.assert_allclose(nested_overlaps(A.T @ A), np.ones(6))


def _blas_threads():
    return {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}


def test_dense_threads_hold_blas_to_one_thread_for_small_solves_only():
    before = _blas_threads()
    with dense_threads(7030, 864):
        assert _blas_threads() == {1}
    assert _blas_threads() == before
    with dense_threads(ONE_BLAS_THREAD_ENTRIES + 1, 1):
        assert _blas_threads() == before
