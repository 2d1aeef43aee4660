"""Passes over row ranges on threads: the split, the order of the results, errors."""

import itertools
import time

import numpy as np
import pytest

from hessian.solvers.row_passes import RowPasses, row_parts, tiles


@pytest.mark.parametrize("D", [1, 2, 7, 7030, 65536, 65537, 1_015_210])
def test_row_parts_cover_the_rows_evenly(D):
    parts = row_parts(D)
    assert parts[0][0] == 0 and parts[-1][1] == D
    assert all(c == a2 for (_, c), (a2, _) in itertools.pairwise(parts))
    sizes = [c - a for a, c in parts]
    assert max(sizes) <= 1 << 16 and max(sizes) - min(sizes) <= 1
    assert len(parts) % 2 == 0 or D == 1
    assert [t for a, c in parts[:1] for t in tiles(a, c, 100)][-1][1] == parts[0][1]


def test_results_come_in_the_ranges_order_whatever_finishes_first():
    ranges = [(0, 3), (3, 5), (5, 9), (9, 10)]
    pool = RowPasses(ranges, threads=2)

    def part(a, c, scale):
        time.sleep(0.02 * (10 - c) / 10)  # the later ranges finish first
        return (np.arange(a, c).sum() * scale, c - a)

    assert pool.map(part, 1.0) == [part(a, c, 1.0) for a, c in ranges]
    assert pool.sum(part, 2.0) == (90.0, 10)
    pool.close()
    assert pool._pool is None and RowPasses(ranges, threads=8).threads == 4


def test_an_error_in_a_range_reaches_the_caller():
    pool = RowPasses([(0, 1), (1, 2)], threads=2)

    def part(a, c):
        if a == 1:
            raise FloatingPointError(f"rows {a}..{c}")
        return (a,)

    with pytest.raises(FloatingPointError, match=r"rows 1\.\.2"):
        pool.map(part)
    pool.close()
