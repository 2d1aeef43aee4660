"""Reproducible random sketching matrices Phi (docs/method.md §2)."""

from __future__ import annotations

import numpy as np
import pytest

import hessian
from hessian.solvers.sketching_matrices import TILE_COLS, TILE_ROWS

DENSE_KINDS = ("gaussian", "rademacher")
STREAMABLE = ("gaussian", "rademacher", "sparse")  # kinds with apply_cols
S, D = 40, 300  # s > TILE_ROWS, so row blocks cross row-tile boundaries


def _tm(noise, s=S, d=D, seed=7, stream=0):
    return hessian.sketching_matrix(noise, s, d, seed, stream)


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.ravel() - a.mean(), b.ravel() - b.mean()
    return float(a @ b / np.sqrt((a @ a) * (b @ b)))


def test_noises_are_the_documented_kinds():
    assert set(hessian.NOISES) == {"gaussian", "rademacher", "ssrft", "sparse"}
    for noise in hessian.NOISES:
        Phi = _tm(noise)
        assert Phi.kind == noise
        assert Phi.shape == (S, D)
        assert Phi.dense().shape == (S, D) and Phi.dense().dtype == np.float64


@pytest.mark.parametrize("noise", hessian.NOISES)
def test_block_equals_rows_and_dense_slice(noise):
    Phi = _tm(noise)
    full = Phi.dense()
    for b in (3, 5, 16, 17):
        n_blocks = -(-S // b)
        for i in range(n_blocks):
            lo, hi = i * b, min(S, (i + 1) * b)
            blk = Phi.block(i, b)
            assert blk.shape == (hi - lo, D)
            np.testing.assert_array_equal(blk, Phi.rows(lo, hi))
            np.testing.assert_array_equal(blk, full[lo:hi])
        # the last block may be short; the one after it does not exist
        with pytest.raises(IndexError):
            Phi.block(n_blocks, b)


@pytest.mark.parametrize("noise", hessian.NOISES)
def test_rows_do_not_depend_on_blocking(noise):
    Phi = _tm(noise)
    by3 = np.concatenate([Phi.block(i, 3) for i in range(-(-S // 3))])
    by5 = np.concatenate([Phi.block(i, 5) for i in range(-(-S // 5))])
    assert by3.shape == by5.shape == (S, D)
    np.testing.assert_array_equal(by3, by5)
    # arbitrary unaligned ranges agree with the whole too
    np.testing.assert_array_equal(Phi.rows(13, 19), by3[13:19])
    assert Phi.rows(4, 4).shape == (0, D)


@pytest.mark.parametrize("noise", hessian.NOISES)
def test_regenerated_from_seed_in_a_fresh_object(noise):
    a = _tm(noise, seed=11, stream=3)
    b = _tm(noise, seed=11, stream=3)
    assert a is not b
    np.testing.assert_array_equal(a.rows(5, 23), b.rows(5, 23))
    # generating other rows first does not shift the stream
    b.rows(0, S)
    np.testing.assert_array_equal(a.block(2, 7), b.block(2, 7))


@pytest.mark.parametrize("noise", hessian.NOISES)
def test_other_stream_or_seed_gives_an_uncorrelated_matrix(noise):
    s, d = 30, 1000  # 30,000 entries: the sample correlation of independent matrices has a
    # standard deviation of about 1/sqrt(30000) = 0.006, so 0.05 is a > 8-sigma threshold
    base = _tm(noise, s, d, seed=5, stream=0).dense()
    for other in (_tm(noise, s, d, seed=5, stream=1), _tm(noise, s, d, seed=6, stream=0)):
        M = other.dense()
        assert not np.array_equal(M, base)
        assert abs(_corr(M, base)) < 0.05
        # and not a row permutation or sign flip of it: no row matches any row of base
        C = (M / np.linalg.norm(M, axis=1, keepdims=True)) @ (
            base / np.linalg.norm(base, axis=1, keepdims=True)
        ).T
        assert np.abs(C).max() < 0.5


@pytest.mark.parametrize("noise", hessian.NOISES)
def test_apply_equals_dense_product(noise):
    Phi = _tm(noise)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((D, 4))
    ref = Phi.dense() @ X
    out = Phi.apply(X)
    assert out.shape == (S, 4) and out.dtype == np.float64
    np.testing.assert_allclose(out, ref, rtol=1e-10, atol=1e-10 * np.abs(ref).max())
    x = X[:, 0]
    np.testing.assert_allclose(Phi.apply(x), ref[:, 0], rtol=1e-10, atol=1e-10 * np.abs(ref).max())
    # float32 input is promoted: the same matrix, applied in float64
    X32 = X.astype(np.float32)
    np.testing.assert_allclose(
        Phi.apply(X32), Phi.dense() @ X32.astype(np.float64), rtol=1e-10, atol=1e-9
    )
    with pytest.raises(ValueError):
        Phi.apply(rng.standard_normal((D + 1, 2)))


@pytest.mark.parametrize("noise", STREAMABLE)
def test_apply_cols_over_tile_aligned_chunks_sums_to_apply(noise):
    # 70,000 columns: two column tiles, the second one partial. The sparse kind draws its
    # zeta = min(8, s) distinct rows per column by rejection, which is slow when s is close to
    # zeta (about 19 s per column tile at s = 8), so it gets a few more rows.
    d, s = TILE_COLS + 4_464, (24 if noise == "sparse" else 6)
    Phi = _tm(noise, s, d, seed=3)
    rng = np.random.default_rng(1)
    X = rng.standard_normal((d, 3))
    total = np.zeros((s, 3))
    for c0 in range(0, d, TILE_COLS):
        part = Phi.apply_cols(X[c0 : c0 + TILE_COLS], c0)
        assert part.shape == (s, 3)
        total += part
    full = Phi.apply(X)
    np.testing.assert_allclose(total, full, rtol=1e-10, atol=1e-10 * np.abs(full).max())
    # and both equal the dense product, which crosses the column-tile boundary
    dense = Phi.dense()
    np.testing.assert_allclose(full, dense @ X, rtol=1e-10, atol=1e-10 * np.abs(full).max())
    # the first tile's share alone is the product with the first TILE_COLS columns
    np.testing.assert_allclose(
        Phi.apply_cols(X[:TILE_COLS], 0),
        dense[:, :TILE_COLS] @ X[:TILE_COLS],
        rtol=1e-10,
        atol=1e-10 * np.abs(full).max(),
    )
    # a chunk that is not tile aligned is refused
    with pytest.raises(ValueError, match="aligned"):
        Phi.apply_cols(X[10:100], 10)


def test_ssrft_cannot_apply_by_column_chunks():
    Phi = _tm("ssrft")
    with pytest.raises(NotImplementedError):
        Phi.apply_cols(np.ones((D, 2)), 0)


@pytest.mark.parametrize("noise", DENSE_KINDS)
def test_prefix_property_of_dense_kinds(noise):
    for d in (D, TILE_COLS + 10):
        short = _tm(noise, 10, d, seed=9).dense()
        long = _tm(noise, 2 * TILE_ROWS + 3, d, seed=9).dense()
        np.testing.assert_array_equal(long[:10], short)
        # rows beyond the first row tile extend it with fresh entries
        assert not np.array_equal(long[TILE_ROWS : TILE_ROWS + 10], short)


def test_gaussian_entry_statistics():
    E = _tm("gaussian", 40, 3000, seed=1).dense().ravel()  # 120,000 entries
    # standard errors: mean 1/sqrt(N) = 0.0029, variance sqrt(2/N) = 0.0041; tolerances ~7 sigma
    assert abs(E.mean()) < 0.02
    assert abs(E.var() - 1.0) < 0.03
    # a normal tail, not a bounded one: about 0.27 % beyond 3 sigma (324 expected)
    frac3 = np.mean(np.abs(E) > 3)
    assert 0.0015 < frac3 < 0.004
    assert len(np.unique(E)) == E.size


def test_rademacher_entries_are_signs():
    E = _tm("rademacher", 40, 3000, seed=1).dense()
    assert set(np.unique(E)) == {-1.0, 1.0}
    assert abs(E.mean()) < 0.02  # standard error 0.0029


@pytest.mark.parametrize(("s", "d"), [(40, 3000), (20, 500), (5, 300), (24, TILE_COLS + 100)])
def test_sparse_columns_hold_zeta_distinct_signs(s, d):
    Phi = _tm("sparse", s, d, seed=2)
    zeta = min(8, s)
    assert Phi.zeta == zeta
    M = Phi.dense()
    assert set(np.unique(M)) <= {-1.0, 0.0, 1.0}
    # exactly zeta nonzeros per column; a repeated row would have summed to 0 or +-2
    np.testing.assert_array_equal((M != 0).sum(axis=0), np.full(d, zeta))
    # both signs occur, about equally
    nz = M[M != 0]
    assert abs(nz.mean()) < 0.1
    # rows are spread over all of 0..s-1
    assert (M != 0).any(axis=1).all()


def test_ssrft_rows_are_orthonormal():
    for s, d in ((40, 300), (64, 64), (7, 1001)):
        Phi = _tm("ssrft", s, d, seed=4).dense()
        np.testing.assert_allclose(Phi @ Phi.T, np.eye(s), atol=1e-10)
        # and they mix all coordinates, unlike a plain coordinate selection
        assert (np.abs(Phi) > 0).mean() > 0.9


def test_ssrft_needs_s_at_most_d():
    _tm("ssrft", 50, 50)
    with pytest.raises(ValueError, match="s <= D"):
        _tm("ssrft", 51, 50)


def test_bad_arguments():
    with pytest.raises(ValueError) as e:
        hessian.sketching_matrix("cauchy", 4, 10, 0)
    for noise in hessian.NOISES:
        assert noise in str(e.value)
    for noise in hessian.NOISES:
        with pytest.raises(ValueError, match="non-negative"):
            hessian.sketching_matrix(noise, 4, 10, -1)
        with pytest.raises(ValueError, match="non-negative"):
            hessian.sketching_matrix(noise, 4, 10, 0, -2)
        with pytest.raises(ValueError):
            hessian.sketching_matrix(noise, 0, 10, 0)
        Phi = hessian.sketching_matrix(noise, 4, 10, 0)
        for lo, hi in ((0, 5), (-1, 2), (3, 2), (5, 5)):
            with pytest.raises(IndexError):
                Phi.rows(lo, hi)
        with pytest.raises(IndexError):
            Phi.block(-1, 2)
        with pytest.raises(IndexError):
            Phi.block(2, 2)
