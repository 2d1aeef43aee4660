"""Whole chunks of the accurate solver's store read and written as their files: bitwise what
zarr reads and writes, every chunk's checksum checked, other selections through zarr."""

import numpy as np
import pytest

from hessian.out_of_core.basis_store import AccurateSettings, BasisStore

ST = AccurateSettings(D=1000, k=5, block=4, n_max=24, keep=10, tol=1e-2, subspace_tol=1e-2,
                      dtype="float64", chunk_rows=65536, verify=4)  # fmt: skip


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_direct_chunk_reads_equal_zarr_and_check_every_chunk(tmp_path, dtype):
    """``read`` and ``write`` take whole chunks from and to their files: bitwise what zarr
    reads and writes, a flipped byte or a chunk never written is a CorruptBlockError, other
    selections go through zarr."""
    from dataclasses import replace

    from hessian.exceptions import CorruptBlockError

    D = 65536 * 2 + 1000  # a short last row chunk (zarr stores it padded)
    st = BasisStore.open_or_create(str(tmp_path / "b.zarr"), replace(ST, D=D, dtype=dtype),
                                   "fp", "{}", np.zeros(D))  # fmt: skip
    X = np.random.default_rng(1).standard_normal((D, 28))
    st.write("basis", 0, D, 0, X[:, :16])  # whole chunks: their files written directly
    st.group["basis"][:, 16:20] = X[:, 16:20]  # zarr's own write
    np.testing.assert_array_equal(st.group["basis"][:, :20], X[:, :20].astype(dtype))
    st.write("basis", 5, 70, 2, X[5:70, 2:5])  # not whole chunks: zarr writes it
    np.testing.assert_array_equal(st.group["basis"][5:70, 2:5], X[5:70, 2:5].astype(dtype))
    assert not list((tmp_path / "b.zarr").rglob("*.tmp"))
    zarr_read = lambda a, b, c: st.group["basis"][a:b, c].astype(np.float64)  # noqa: E731
    for a, b in st.row_chunks():
        for cols in (slice(0, 8), slice(0, 20), slice(4, 12)):
            direct = st._direct("basis", a, b, cols)
            assert direct is not None and direct.dtype == np.float64
            np.testing.assert_array_equal(direct, zarr_read(a, b, cols))
            np.testing.assert_array_equal(st.read("basis", a, b, cols), direct)
        out = np.empty((8, b - a), dtype=np.float32).T  # the product jobs' transposed rows
        assert st.read("basis", a, b, slice(0, 8), out=out) is out
        np.testing.assert_array_equal(out, zarr_read(a, b, slice(0, 8)).astype(np.float32))
        blocks = st.column_blocks("basis", a, b, 20)  # the passes' chunk-at-a-time reads
        assert [j for j, _ in blocks] == [0, 4, 8, 12, 16]
        for j, block in blocks:
            assert block.dtype == dtype and block.shape == (b - a, 4)
            np.testing.assert_array_equal(block, zarr_read(a, b, slice(j, j + 4)))
    assert st._direct("basis", 10, 65536, slice(0, 8)) is None  # rows not aligned: zarr's read
    assert st._direct("basis", 0, 65536, slice(2, 8)) is None  # nor columns
    unaligned = st.read("basis", 10, 500, slice(2, 8))
    np.testing.assert_array_equal(unaligned, zarr_read(10, 500, slice(2, 8)))
    with pytest.raises(CorruptBlockError, match="never written"):
        st.read("basis", 0, 65536, slice(0, 24))  # columns 20..23: no chunk file yet
    chunk = tmp_path / "b.zarr" / "basis" / "c" / "1" / "2"
    data = bytearray(chunk.read_bytes())
    data[100] ^= 0x01
    chunk.write_bytes(bytes(data))
    with pytest.raises(CorruptBlockError, match=r"chunk 1,2 fails its checksum"):
        st.read("basis", 65536, 2 * 65536, slice(0, 20))
    with pytest.raises(CorruptBlockError, match=r"chunk 1,2 fails its checksum"):
        st.column_blocks("basis", 65536, 2 * 65536, 20)
    with pytest.raises(ValueError, match="one row chunk"):
        st.column_blocks("basis", 0, D, 8)
    [(j, whole)] = st.column_blocks("basis", 10, 500, 6)  # not aligned: one float64 block
    assert j == 0 and whole.dtype == np.float64
    np.testing.assert_array_equal(whole, zarr_read(10, 500, slice(0, 6)))
    st.read("basis", 0, 65536, slice(0, 20))  # the other row chunks still read
