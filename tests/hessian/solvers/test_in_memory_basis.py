"""The in-memory Krylov basis: its passes on threads, its safeguards where Pythagoras' Gram
matrix loses digits (the relation across restarts: test_krylov_schur.py)."""

import numpy as np
import pytest

from hessian.operators.counting import CountingOperator
from hessian.solvers.in_memory_basis import InMemoryBasis


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
        basis = InMemoryBasis(CountingOperator(H), X0, 160, b, threads=threads)
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
    basis = InMemoryBasis(CountingOperator(mats["low_rank"]), rng.standard_normal((400, b)),
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
    basis = InMemoryBasis(CountingOperator(H), rng.standard_normal((D, b)), 120, b)
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
