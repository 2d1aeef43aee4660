"""Folding a pass over row chunks."""

import pytest

from hessian.out_of_core.row_chunks import fold, sum_parts


@pytest.mark.parametrize("scheduler", ["threads", "sync"])
def test_fold_sums_every_chunk(scheduler):
    chunks = [(a, a + 10) for a in range(0, 100, 10)]
    out = fold(chunks, lambda ab: (ab[1] - ab[0], ab[0]), sum_parts, scheduler, 2)
    assert out == (100, sum(range(0, 100, 10)))
