"""Row-chunk reads and writes of the accurate solver's store, whole chunks as their files.

A chunk of an array laid out as ``BasisStore.open_or_create`` makes it (no compression: the
little-endian values, then their CRC32C) is read from and written to its file directly, the
checksum checked on every read and written on every write (through a temporary file and a
rename: a killed writer leaves the old chunk or the new one). Anything not chunk-aligned goes
through zarr. Why: zarr's read of a row chunk across the basis' column chunks cost 3-4x the
bytes' own read and checksum here, its writes of (chunk_rows x b) chunks ran at a fifth of the
direct ones, and the passes read the whole basis twice per step.
"""

from __future__ import annotations

import os
import threading

import google_crc32c
import numpy as np
import zarr
from zarr.codecs import Crc32cCodec

from hessian.exceptions import CorruptBlockError

_rename = os.replace  # every chunk file's rename into place (fault tests interrupt it)


class ChunkFiles:
    """The reads and writes of a store with ``url``, ``path``, ``group``, ``settings`` (its D),
    ``_arrays`` (opened arrays by name), ``_buffers`` (reused chunk buffers) and ``_dirs`` (the
    chunk directories made)."""

    def row_chunks(self):
        rows = self.group["basis"].chunks[0]
        D = self.settings.D
        return [(a, min(D, a + rows)) for a in range(0, D, rows)]

    def read(self, name: str, a: int, b: int, cols=slice(None), out=None) -> np.ndarray:
        """Rows a..b-1 of array ``name`` (columns ``cols``) in float64, or into ``out`` (an
        array of that shape, any float dtype and layout); CorruptBlockError when a chunk fails
        its checksum or was never written. Whole chunks are read from their files directly
        (``_direct``)."""
        direct = self._direct(name, a, b, cols, out)
        if direct is not None:
            return direct
        try:
            X = self.group[name][a:b, cols]
        except ValueError as e:
            raise CorruptBlockError([], f"{self.url}/{name} rows {a}..{b}: {e}") from e
        if not np.isfinite(X).all():
            raise CorruptBlockError([], f"{self.url}/{name} rows {a}..{b} are missing or damaged")
        if out is not None:
            out[...] = X
            return out
        return X.astype(np.float64, copy=False)

    def column_blocks(self, name: str, a: int, b: int, c1: int) -> list[tuple[int, np.ndarray]]:
        """Rows a..b-1, columns 0..c1-1 of array ``name`` as (first column, block) pairs in the
        stored dtype, one per column chunk, each checked against its CRC32C (its values are
        not checked for NaN: the caller checks what it forms from them, ``check_finite``); the
        blocks are valid until the thread's next call (they live in its reused buffers). Not
        chunk-aligned: one float64 block, read by ``read``.

        Why: the accurate solver's passes read the whole basis twice per step; each chunk is
        read into a reused buffer and converted from there while it is in cache (into the
        solver's reused float64 row buffer, ``StoredBasis.rows``), with no fresh allocation
        (measured: a fresh 65,536 x 232 float64 row block costs 1.8x a reused one to fill)."""
        arr = self._aligned(name, a, b, slice(0, c1))
        if arr is None:
            return [(0, self.read(name, a, b, slice(0, c1)))]
        (rc, cc) = arr.chunks
        i, rows = a // rc, b - a
        if rows > rc:
            raise ValueError(f"column_blocks reads one row chunk ({rc} rows), got rows {a}..{b}")
        blocks = []
        for j in range(-(-c1 // cc)):
            block = self._chunk(name, arr, i, j, self._buffer(name, j, arr), finite=False)
            blocks.append((j * cc, block[:rows, : c1 - j * cc]))
        return blocks

    def check_finite(self, name: str, c1: int) -> None:
        """Read every row chunk of columns 0..c1-1 of ``name`` with all checks: raises
        CorruptBlockError naming the first chunk that holds a NaN or an infinity."""
        for a, b in self.row_chunks():
            self.read(name, a, b, slice(0, c1))

    def _buffer(self, name: str, j: int, arr: zarr.Array) -> np.ndarray:
        rc, cc = arr.chunks
        size = rc * cc * np.dtype(arr.dtype).itemsize + 4
        key = (name, j, threading.get_ident())  # one set per thread: the passes run on several
        buf = self._buffers.get(key)
        if buf is None or len(buf) != size:
            buf = self._buffers[key] = np.empty(size, dtype=np.uint8)
        return buf

    def _chunk(self, name: str, arr: zarr.Array, i: int, j: int, buf=None,
               finite: bool = True) -> np.ndarray:  # fmt: skip
        """Chunk (i, j) of a chunk-aligned array (``_aligned``) from its file, as a (rc x cc)
        array of the stored dtype; its CRC32C and (``finite``) the finiteness of the part
        inside the array are checked (CorruptBlockError names the chunk)."""
        (rc, cc), (D, C) = arr.chunks, arr.shape
        dtype = np.dtype(arr.dtype).newbyteorder("<")
        path = self.path / name / arr.metadata.chunk_key_encoding.encode_chunk_key((i, j))
        where = f"{self.url}/{name} rows {i * rc}..{min(D, (i + 1) * rc)}: chunk {i},{j}"
        size = rc * cc * dtype.itemsize + 4
        try:
            with open(path, "rb", buffering=0) as f:
                if buf is None:
                    buf = np.empty(size, dtype=np.uint8)
                got = f.readinto(buf)
                extra = f.read(1)
        except FileNotFoundError:
            raise CorruptBlockError([], f"{where} was never written") from None
        body = buf[: size - 4]
        crc = np.uint32(google_crc32c.value(body)).tobytes()
        if got != size or extra or crc != buf[size - 4 : size].tobytes():
            raise CorruptBlockError([], f"{where} fails its checksum")
        block = body.view(dtype).reshape(rc, cc)
        if finite and not np.isfinite(block[: D - i * rc, : C - j * cc]).all():  # in cache
            raise CorruptBlockError([], f"{where} holds missing values")
        return block

    def _direct(self, name: str, a: int, b: int, cols, out=None) -> np.ndarray | None:
        """The read of ``read`` from the chunk files themselves, checksum checked, for chunk-
        aligned rows and columns of a local array laid out as ``open_or_create`` makes it
        (little-endian values, then the CRC32C); None otherwise (zarr reads it).

        Why: zarr's read of a row chunk across the basis' column chunks (one per block) costs
        3-4x the bytes' own read and checksum here (measured: 3.0 s against 0.8 s per pass over a
        2M x 240 float32 basis, 2 cores), and the passes read the whole basis twice per step.
        """
        arr = self._aligned(name, a, b, cols)
        if arr is None:
            return None
        (rc, cc), C = arr.chunks, arr.shape[1]
        c0, c1, _ = cols.indices(C)
        if out is None:  # column-major: 2x faster per-chunk copies
            out = np.empty((b - a, c1 - c0), order="F")
        for i in range(a // rc, -(-b // rc)):
            r0 = i * rc - a
            for j in range(c0 // cc, -(-c1 // cc)):
                block = self._chunk(name, arr, i, j)[: min(rc, b - a - r0), : c1 - j * cc]
                out[r0 : r0 + len(block), j * cc - c0 : j * cc - c0 + block.shape[1]] = block
        return out

    def _aligned(self, name: str, a: int, b: int, cols) -> zarr.Array | None:
        """The array when rows a..b and ``cols`` cover whole chunks of a local array laid out
        as ``open_or_create`` makes it (little-endian values, then the CRC32C), else None."""
        arr = self._arrays.get(name)
        if arr is None:  # opening an array reads its metadata: once per store object
            arr = self._arrays[name] = self.group[name]
        (rc, cc), (D, C) = arr.chunks, arr.shape
        c0, c1, step = cols.indices(C) if isinstance(cols, slice) else (0, 0, 0)
        codecs = arr.metadata.codecs
        if (step != 1 or c1 <= c0 or a % rc or (b % rc and b != D) or c0 % cc
                or (c1 % cc and c1 != C) or len(codecs) != 2
                or not isinstance(codecs[1], Crc32cCodec)
                or getattr(codecs[0], "endian", None) is None
                or codecs[0].endian.value != "little" or "://" in self.url):  # fmt: skip
            return None
        return arr

    def write(self, name: str, a: int, b: int, c0: int, X: np.ndarray) -> None:
        """Rows a..b-1, columns c0.. of array ``name`` <- X (cast to the array's dtype). Whole
        chunks are written as their files directly, each through a temporary file and a rename
        (a killed writer leaves the old chunk or the new one, never half of one); zarr's write
        of the basis' (chunk_rows x b) chunks ran at ~140 MB/s here, a fifth of this."""
        cols = slice(c0, c0 + X.shape[1])
        arr = self._aligned(name, a, b, cols)
        if arr is None:
            self.group[name][a:b, cols] = X.astype(self.group[name].dtype, copy=False)
            return
        (rc, cc), C = arr.chunks, arr.shape[1]
        dtype = np.dtype(arr.dtype).newbyteorder("<")
        encode = arr.metadata.chunk_key_encoding.encode_chunk_key
        chunk = np.empty((rc, cc), dtype=dtype)
        for i in range(a // rc, -(-b // rc)):
            r0 = i * rc - a
            rows = min(rc, b - a - r0)
            for j in range(c0 // cc, -(-(c0 + X.shape[1]) // cc)):
                width = min(cc, C - j * cc)
                if rows < rc or width < cc:  # beyond the array's edge: the fill, as zarr pads
                    chunk[...] = np.nan
                chunk[:rows, :width] = X[r0 : r0 + rows, j * cc - c0 : j * cc - c0 + width]
                path = self.path / name / encode((i, j))
                if path.parent not in self._dirs:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    self._dirs.add(path.parent)
                tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
                with open(tmp, "wb") as f:  # the chunk's own buffer: no copy of it
                    f.write(chunk.data)
                    f.write(np.uint32(google_crc32c.value(chunk)).tobytes())
                _rename(tmp, path)

    def move_row_chunk(self, src: str, dst: str, a: int, b: int, c1: int) -> bool:
        """Rows 0..b-a-1, columns 0..c1-1 of ``src`` (one row chunk) become rows a..b-1 of
        ``dst`` by renaming their chunk files (arrays of one chunk shape and dtype, laid out as
        ``open_or_create`` makes them: a chunk's file holds its values and their CRC32C, and
        does not depend on where the chunk sits). Each rename is atomic; a file not in ``src``
        was moved before (a resumed move) and is skipped. False, moving nothing, where the
        arrays are not laid out so (the caller copies).

        Why: a restart's rotated row chunk is staged before it replaces the basis' (a killed
        restart finishes from the staged copy); renaming the staged files instead of writing
        the chunk a second time halves a restart's writes."""
        d_arr = self._aligned(dst, a, b, slice(0, c1))
        rc = d_arr.chunks[0] if d_arr is not None else 0
        s_arr = self._aligned(src, 0, rc, slice(0, c1)) if rc >= b - a else None
        if s_arr is None or s_arr.chunks != d_arr.chunks or s_arr.dtype != d_arr.dtype:
            return False
        i = a // rc
        cc = s_arr.chunks[1]
        s_key = s_arr.metadata.chunk_key_encoding.encode_chunk_key
        d_key = d_arr.metadata.chunk_key_encoding.encode_chunk_key
        for j in range(-(-c1 // cc)):
            source = self.path / src / s_key((0, j))
            if source.exists():
                _rename(source, self.path / dst / d_key((i, j)))
        return True
