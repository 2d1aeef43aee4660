"""The block Krylov-Schur driver: sizes, CGS2 from one pass, the relation across restarts."""

import numpy as np
import pytest

from hessian.operators.counting import CountingOperator
from hessian.solvers import krylov_schur as ks
from hessian.solvers.in_memory_basis import InMemoryBasis


def test_default_sizes_leave_room_for_two_blocks():
    cases = ((20, 32, 10_000), (1000, 64, 10**7), (40, 8, 600), (5, 4, 40), (100, 8, 10**7),
             (20, 8, 7030), (355, 64, 7030))  # fmt: skip
    for k, b, D in cases:
        n_max, keep = ks.default_sizes(k, b, D)
        assert n_max % b == 0 or n_max == D
        assert k <= keep and keep + 2 * b <= n_max <= D
        # after a restart the blocks stay on the out-of-core store's column chunks
        assert keep % b == 0, (k, b, keep)
        ks.Settings(k, b, n_max, keep)  # valid
    with pytest.raises(ValueError, match="keep"):
        ks.Settings(10, 8, 30, 9)
    with pytest.raises(ValueError, match="tol"):
        ks.Settings(10, 8, 60, 20, tol=0)


def test_the_default_block_grows_with_k_within_the_pass_and_64():
    assert [ks.default_block(k, 32) for k in (1, 20, 100, 239, 240, 355, 1000)] == [
        8, 8, 8, 8, 16, 16, 32,
    ]  # fmt: skip
    assert ks.default_block(1000, 256) == 48
    assert ks.default_block(5000, 256) == 64
    assert ks.default_block(100, 4) == 4  # never more than one pass over the data


def test_cgs2_from_gram_equals_explicit_projection():
    rng = np.random.default_rng(0)
    Q, _ = np.linalg.qr(rng.standard_normal((500, 40)))
    Q = (Q + 1e-7 * rng.standard_normal(Q.shape)).astype(np.float32).astype(np.float64)
    W = Q @ rng.standard_normal((40, 8)) + 1e-3 * rng.standard_normal((500, 8))
    C, R = ks.cgs2_from_gram(Q.T @ W, Q.T @ Q, W.T @ W)
    X = np.linalg.solve(R.T, (W - Q @ C).T).T
    assert np.abs(X.T @ X - np.eye(8)).max() < 1e-6
    assert np.abs(Q.T @ X).max() < 1e-6


def test_the_relation_holds_across_restarts():
    """H Q = Q T + X B after steps and a thick restart (in memory, float64)."""
    rng = np.random.default_rng(1)
    D, b = 300, 6
    U, _ = np.linalg.qr(rng.standard_normal((D, D)))
    H = (U * rng.uniform(-1, 1, D)) @ U.T
    basis = InMemoryBasis(CountingOperator(H), rng.standard_normal((D, b)), 60, b)
    state = ks.State.start(b)
    s = ks.Settings(10, b, 60, 24, max_products=10**6)
    for i in range(9):
        n = state.n
        C, R = basis.step(n)
        T = np.zeros((n + b, n + b))
        T[:n, :n], T[:, n:], T[n:, :n] = state.T, C, C[:n].T
        B = np.zeros((b, n + b))
        B[:, n:] = R
        state.n, state.T, state.B = n + b, (T + T.T) / 2, B
        if i == 6:
            w, Uk, res = ks.ritz(state)
            basis.restart(state.n, Uk[:, : s.keep], w[: s.keep])
            state.T, state.B, state.n = np.diag(w[: s.keep]), state.B @ Uk[:, : s.keep], s.keep
        Q, X = basis.Q[:, : state.n], basis.Q[:, state.n : state.n + b]
        assert np.abs(H @ Q - Q @ state.T - X @ state.B).max() < 1e-12
        assert np.abs(Q.T @ Q - np.eye(state.n)).max() < 1e-12
        QX = basis.Q[:, : state.n + b]  # the Gram matrix the steps project with is measured
        np.testing.assert_allclose(basis.G[: state.n + b, : state.n + b], QX.T @ QX, atol=1e-14)
    basis.close()
    w, Uk, res = ks.ritz(state)
    V = basis.vectors(Uk[:, :5])
    np.testing.assert_allclose(np.linalg.norm(H @ V - V * w[:5], axis=0), res[:5], atol=1e-12)
