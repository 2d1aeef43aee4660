"""What defines a sketch: sizes, blocks and chunks, checked when made."""

import pytest

from hessian.out_of_core import SketchSettings


def test_blocks_and_their_ranges():
    st = SketchSettings(D=1000, k=10, s=25, oversample=3, vectors_per_block=8)
    assert (st.r, st.n_blocks) == (13, 4)
    assert [st.block_range(j) for j in range(4)] == [(0, 8), (8, 16), (16, 24), (24, 25)]


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"k": 0}, "k must be in"),
        ({"oversample": -1}, "oversample"),
        ({"s": 5}, "s must satisfy"),
        ({"vectors_per_block": 0}, "vectors_per_block"),
        ({"dtype": "float16"}, "dtype"),
        ({"D": 200_000, "chunk_rows": 70_000}, "multiple of 65536"),
    ],
)
def test_bad_settings_are_refused(kw, message):
    with pytest.raises(ValueError, match=message):
        SketchSettings(**({"D": 1000, "k": 10, "s": 20} | kw))
