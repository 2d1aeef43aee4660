"""The block Krylov-Schur driver: sizes, CGS2 from one pass, the relation across restarts."""

import numpy as np
import pytest

from hessian.operators.counting import CountingOperator
from hessian.solvers import krylov_schur as ks


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
    basis = ks.InMemoryBasis(CountingOperator(H), rng.standard_normal((D, b)), 60, b)
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


def _steps(basis, n_steps, restart_at=None, keep=None):
    """(C, R) of each step, with a thick restart to ``keep`` columns after step ``restart_at``."""
    b, n, out = basis.block, 0, []
    for i in range(n_steps):
        out.append(basis.step(n))
        n += b
        if i == restart_at:
            U, _ = np.linalg.qr(np.random.default_rng(i).standard_normal((n, keep)))
            basis.restart(n, U)
            n = keep
    return out, n


def test_the_in_memory_pass_threads_do_not_change_a_bit():
    """Row ranges on two threads, summed in the ranges' order: the bits of one thread."""
    rng = np.random.default_rng(4)
    D, b = 5000, 16
    U, _ = np.linalg.qr(rng.standard_normal((D, 200)))
    H = (U * rng.uniform(-1, 1, 200)) @ U.T + np.diag(rng.uniform(-0.1, 0.1, D))
    X0 = rng.standard_normal((D, b))
    runs = []
    for threads in (1, 2):
        basis = ks.InMemoryBasis(CountingOperator(H), X0, 160, b, threads=threads)
        assert basis.passes.threads == threads and len(basis.passes.ranges) == 2
        steps, n = _steps(basis, 8, restart_at=5, keep=64)
        basis.close()
        runs.append((steps, basis.Q[:, : n + b].copy(), basis.G.copy()))
    (s1, Q1, G1), (s2, Q2, G2) = runs
    for (C1, R1), (C2, R2) in zip(s1, s2, strict=True):
        np.testing.assert_array_equal(C1, C2)
        np.testing.assert_array_equal(R1, R2)
    np.testing.assert_array_equal(Q1, Q2)
    np.testing.assert_array_equal(G1, G2)


def test_an_invariant_subspace_is_left_for_a_random_direction(mats):
    """H of rank 12 at b = 4: the fourth step's products lie in the span of the basis, which
    Pythagoras' Gram matrix cannot resolve; the step projects explicitly and continues at
    random, and the basis stays orthonormal."""
    rng = np.random.default_rng(5)
    b = 4
    basis = ks.InMemoryBasis(CountingOperator(mats["low_rank"]), rng.standard_normal((400, b)),
                             40, b)  # fmt: skip
    explicit = []
    step = basis._step_explicitly
    basis._step_explicitly = lambda n, W: explicit.append(n) or step(n, W)
    steps, n = _steps(basis, 6)
    assert explicit and explicit[0] <= 12  # the Krylov space of a rank-12 H is exhausted
    Q = basis.Q[:, : n + b]
    assert np.abs(Q.T @ Q - np.eye(n + b)).max() < 1e-12
    np.testing.assert_allclose(basis.G[: n + b, : n + b], Q.T @ Q, atol=1e-14)
    _, R = steps[explicit[0] // b]
    assert np.abs(np.diag(R)).min() == 0.0  # the vanished directions: no coupling to them


def _basis_after_steps(D=3000, b=8, steps=5, seed=6):
    rng = np.random.default_rng(seed)
    U, _ = np.linalg.qr(rng.standard_normal((D, 100)))
    H = (U * rng.uniform(-1, 1, 100)) @ U.T + np.diag(rng.uniform(-0.1, 0.1, D))
    basis = ks.InMemoryBasis(CountingOperator(H), rng.standard_normal((D, b)), 120, b)
    _, n = _steps(basis, steps)
    return basis, n, rng


@pytest.mark.parametrize("tiny", [1e-3, 1e-5, 0.0])  # Pythagoras loses digits; fails; W = 0
def test_a_block_nearly_in_the_span_is_projected_again(tiny):
    """Products W = [Q X] M + tiny E: the new block still comes out orthonormal to 1e-13
    (projected again, or explicitly), and W = [Q X] C + X' R holds."""
    basis, n, rng = _basis_after_steps()
    b, c1 = basis.block, n + basis.block
    Qa = basis.Q[:, :c1].copy()
    W0 = Qa @ rng.standard_normal((c1, b)) + tiny * rng.standard_normal((basis.D, b))
    W0 = W0 if tiny else np.zeros_like(W0)
    basis._apply = lambda X: W0.copy()
    C, R = basis.step(n)
    assert basis.repairs == (1 if tiny == 1e-3 else 0)  # 1e-5 and 0: explicitly from the start
    Q = basis.Q[:, : c1 + b]
    assert np.abs(Q.T @ Q - np.eye(c1 + b)).max() < 1e-13
    np.testing.assert_allclose(basis.G[: c1 + b, : c1 + b], Q.T @ Q, atol=1e-14)
    np.testing.assert_allclose(Qa @ C + Q[:, c1:] @ R, W0, atol=1e-12 * max(1, np.abs(W0).max()))
    basis.close()


def test_products_that_are_not_finite_are_named():
    basis, n, _ = _basis_after_steps(steps=2)
    basis._apply = lambda X: np.full((basis.D, basis.block), np.nan)
    with pytest.raises(FloatingPointError, match="not finite"):
        basis.step(n)
    basis.close()
