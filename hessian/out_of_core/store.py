"""The sketch store: one Zarr (v3) group per sketch, at a local path or any fsspec URL.

Layout (r = k + oversample outer columns, s inner measurements, b = ``vectors_per_block`` test
vectors per measurement block):

    outer      (D, r)   the outer sketch Y = H Phi_R[:r]^T, chunks (chunk_rows, b)
    inner      (s, s)   the inner sketch Z = Phi_L H Phi_R^T, chunks (s, b)
    params     (D,)     the parameters the operator was built at (workers rebuild it from these)
    done       (n_blocks,)  1 once a block's data is fully written; chunks of 1 (one writer each)
    finished_at (n_blocks,) when each block was written (unix seconds)
    eigenvalues (k,), transform (r, k): the solution; eigenvectors are V = Y @ transform, formed a
               row chunk at a time when read, so the store needs ~1.0x the outer sketch on disk.

Every array carries a CRC32C checksum per chunk and float arrays fill missing chunks with NaN,
so a flipped bit or a deleted chunk is detected wherever it is read. Damaged measurement
blocks are measured again; a damaged or missing solution (``CorruptSolutionError``; also checked
against its SHA-256 ``solution_id``) is solved again from the intact sketches.

Measurement block j owns inner columns [j b, (j+1) b) and outer columns in the same range (if
< r), so every chunk has exactly one writer: safe under concurrent writers without locks or
sharding (sharding loses data under concurrent writes: docs/stack.md). Float data is
uncompressed but guarded by a CRC32C codec, so a corrupted or truncated chunk fails to read and a
missing one reads as NaN (the fill value): both are detected, and the block is measured again.
Attributes record the settings, the operator's fingerprint and spec, and the library version;
opening a store with other settings or another operator is refused (``StoreMismatchError``).
"""

from __future__ import annotations

import fcntl
import math
import os
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import zarr
from zarr.codecs import Crc32cCodec

from hessian._version import __version__
from hessian.exceptions import CorruptBlockError, CorruptSolutionError, StoreMismatchError
from hessian.out_of_core.settings import SketchSettings
from hessian.out_of_core.solution import StoredSolution

__all__ = [
    "CorruptBlockError",
    "CorruptSolutionError",
    "SketchSettings",
    "SketchStore",
    "StoreMismatchError",
]

FORMAT_VERSION = 1


def _local_path(url: str) -> Path | None:
    if url.startswith("file://"):
        return Path(url[len("file://") :])
    return None if "://" in url else Path(url)


class SketchStore(StoredSolution):
    """A sketch's Zarr group. Create or resume with ``open_or_create``, read with ``open``."""

    def __init__(self, url: str, group: zarr.Group):
        self.url = url
        self.group = group
        self.settings = SketchSettings(**group.attrs["settings"])
        self.path = _local_path(url)
        self.repaired: list[str] = []  # what opening or reading found damaged and repaired

    # --- opening --------------------------------------------------------------------------
    @staticmethod
    def _zarr_target(url: str):
        path = _local_path(url)
        return str(path) if path is not None else url

    @classmethod
    def open(cls, url: str, mode: str = "r") -> SketchStore:
        """Open an existing store (``mode="r"`` or ``"r+"``)."""
        path = _local_path(url)
        if path is not None and not (path / "zarr.json").exists():
            raise FileNotFoundError(f"no sketch store at {url}")
        try:
            group = zarr.open_group(cls._zarr_target(url), mode=mode)
        except FileNotFoundError as e:
            raise FileNotFoundError(f"no sketch store at {url}") from e
        if "settings" not in group.attrs:
            raise StoreMismatchError(f"{url} is a Zarr group but not a sketch store")
        return cls(url, group)

    @classmethod
    def open_or_create(
        cls, url: str, settings: SketchSettings, fingerprint: str, spec: str = "", params=None,
        buffers=None,
    ) -> SketchStore:  # fmt: skip
        """Resume the store at ``url`` if it matches, else lay it out anew.

        Raises:
            StoreMismatchError: the store exists with other settings or another operator.
        """
        path = _local_path(url)
        exists = (path / "zarr.json").exists() if path is not None else _remote_exists(url)
        if exists:
            store = cls.open(url, mode="r+")
            store.check_matches(settings, fingerprint)
            store._repair_inputs(params, buffers)
            return store
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        group = zarr.open_group(cls._zarr_target(url), mode="w")
        st = settings
        f = st.dtype
        crc = [Crc32cCodec()]
        rows = min(st.chunk_rows, st.D)
        group.create_array(
            "outer", shape=(st.D, st.r), chunks=(rows, st.vectors_per_block), dtype=f,
            compressors=crc, fill_value=np.nan,
        )  # fmt: skip
        group.create_array(
            "inner", shape=(st.s, st.s), chunks=(st.s, st.vectors_per_block), dtype="float64",
            compressors=crc, fill_value=np.nan,
        )  # fmt: skip
        group.create_array(
            "params", shape=(st.D,), chunks=(rows,), dtype="float64", compressors=crc,
            fill_value=np.nan,
        )  # fmt: skip
        group.create_array(
            "done", shape=(st.n_blocks,), chunks=(1,), dtype="int8", fill_value=0,
            compressors=crc,
        )  # fmt: skip
        group.create_array(
            "finished_at", shape=(st.n_blocks,), chunks=(1,), dtype="float64", fill_value=np.nan,
            compressors=crc,
        )  # fmt: skip
        if params is not None:
            group["params"][:] = np.asarray(params, dtype=np.float64)
        if buffers is not None and np.size(buffers):
            b = np.asarray(buffers, dtype=np.float64)
            group.create_array(
                "buffers", shape=b.shape, chunks=b.shape, dtype="float64", compressors=crc,
                fill_value=np.nan,
            )  # fmt: skip
            group["buffers"][:] = b
        group.attrs.update(
            {
                "settings": asdict(settings),
                "fingerprint": fingerprint,
                "spec": spec,
                "format": FORMAT_VERSION,
                "library_version": __version__,
                "created": time.time(),
                "solved": False,
            }
        )
        return cls(url, group)

    def _repair_inputs(self, params, buffers) -> None:
        """Rewrite the stored parameters (or buffers) when they fail their checksum: they are
        the ones given, as the operator fingerprint (which hashes them) matched."""
        for name, value in (("params", params), ("buffers", buffers)):
            if value is None or name not in self.group:
                continue
            try:
                ok = np.isfinite(self.group[name][:]).all()
            except ValueError:
                ok = False
            if not ok:
                self.group[name][:] = np.asarray(value, dtype=np.float64)
                self.repaired.append(f"{name} (failed their checksum; rewritten)")

    def check_settings(self, settings: SketchSettings) -> None:
        """Refuse a store made with other settings (the operator is checked by
        ``check_matches``)."""
        self.refuse_differences(self._settings_diff(settings))

    def _settings_diff(self, settings: SketchSettings) -> dict:
        mine = asdict(self.settings)
        theirs = asdict(settings)
        return {k: (mine[k], theirs[k]) for k in mine if mine[k] != theirs[k]}

    def refuse_differences(self, diff: dict) -> None:
        """Raise ``StoreMismatchError`` naming each differing item (name -> (store's, asked))."""
        if diff:
            lines = ", ".join(f"{k}: store has {a!r}, asked {b!r}" for k, (a, b) in diff.items())
            raise StoreMismatchError(
                f"the sketch store at {self.url} was made with other settings or another "
                f"operator ({lines}); use a new store, or delete this one to start over"
            )

    def check_matches(self, settings: SketchSettings, fingerprint: str) -> None:
        """Refuse to resume into a store of another operator or with other settings."""
        diff = self._settings_diff(settings)
        if self.group.attrs.get("fingerprint") != fingerprint:
            diff["operator fingerprint"] = (self.group.attrs.get("fingerprint"), fingerprint)
        self.refuse_differences(diff)

    # --- blocks ---------------------------------------------------------------------------
    def done(self) -> np.ndarray:
        """Which blocks are done; a block whose record fails its checksum counts as not done
        (it is measured again)."""
        try:
            return self.group["done"][:].astype(bool)
        except ValueError:
            return np.array([self.is_done(j) for j in range(self.settings.n_blocks)], dtype=bool)

    def is_done(self, j: int) -> bool:
        try:
            return bool(self.group["done"][int(j)] == 1)
        except ValueError:
            return False

    def pending(self) -> list[int]:
        return [int(j) for j in np.flatnonzero(~self.done())]

    def finished_at(self) -> np.ndarray:
        try:
            return self.group["finished_at"][:]
        except ValueError:  # a damaged record: when is unknown
            return np.array([self._finished(j) for j in range(self.settings.n_blocks)])

    def _finished(self, j: int) -> float:
        try:
            return float(self.group["finished_at"][j])
        except ValueError:
            return float("nan")

    def write_block(self, j: int, Y_block: np.ndarray, Z_block: np.ndarray) -> None:
        """Write block j's outer columns and inner block, and only then mark it done."""
        st = self.settings
        c0, c1 = st.block_range(j)
        if Z_block.shape != (st.s, c1 - c0) or Y_block.shape != (st.D, c1 - c0):
            raise ValueError(f"block {j} has the wrong shape: {Y_block.shape}, {Z_block.shape}")
        if c0 < st.r:
            self.group["outer"][:, c0 : min(c1, st.r)] = Y_block[:, : min(c1, st.r) - c0]
        self.group["inner"][:, c0:c1] = Z_block
        self.group["finished_at"][j] = time.time()
        self.group["done"][j] = 1

    def mark_undone(self, blocks) -> None:
        """Mark blocks for measuring again; a stored solution no longer holds."""
        blocks = list(blocks)
        for j in blocks:
            self.group["done"][int(j)] = 0
        if blocks and self.solved:
            self.group.attrs["solved"] = False

    def verify(self, blocks=None) -> list[int]:
        """Blocks (default: all marked done) whose data does not read back intact.

        One read of the inner sketch and one streamed read of the outer sketch, a row chunk at a
        time; a chunk that fails its checksum is narrowed down to its blocks.
        """
        st = self.settings
        blocks = np.flatnonzero(self.done()) if blocks is None else np.asarray(blocks)
        wanted = set(int(j) for j in blocks)
        bad: set[int] = set()
        try:
            bad |= self._nonfinite_blocks(self.group["inner"][:])
        except ValueError:
            for j in wanted:
                c0, c1 = st.block_range(j)
                try:
                    bad |= {j} if not np.isfinite(self.group["inner"][:, c0:c1]).all() else set()
                except ValueError:
                    bad.add(j)
        for a, b in self.row_chunks():
            try:
                bad |= self._nonfinite_blocks(self.group["outer"][a:b])
            except ValueError:
                bad |= set(self._bad_outer_blocks(a, b))
        return sorted(bad & wanted)

    def _nonfinite_blocks(self, X: np.ndarray) -> set[int]:
        cols = np.flatnonzero(~np.isfinite(X).all(axis=0))
        return {int(c) // self.settings.vectors_per_block for c in cols}

    def try_claim(self, j: int):
        """Claim block j for measuring it; returns a handle for ``release``, or None when another
        process holds the claim. Local stores use an flock on ``<store>.locks/<j>.lock``, which
        vanishes with a killed process; remote stores have no locks (always claimed)."""
        if self.path is None:
            return -1
        lock_dir = self.path.with_name(self.path.name + ".locks")
        lock_dir.mkdir(exist_ok=True)
        fd = os.open(lock_dir / f"{j}.lock", os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        return fd

    @staticmethod
    def release(handle) -> None:
        if handle is not None and handle >= 0:
            fcntl.flock(handle, fcntl.LOCK_UN)
            os.close(handle)

    # --- reading --------------------------------------------------------------------------
    def row_chunks(self):
        """(start, stop) of the outer sketch's row chunks."""
        rows = self.group["outer"].chunks[0]
        return [(a, min(self.settings.D, a + rows)) for a in range(0, self.settings.D, rows)]

    def read_outer(self, start: int, stop: int) -> np.ndarray:
        """Rows start..stop-1 of the outer sketch in float64; raises CorruptBlockError."""
        try:
            Y = self.group["outer"][start:stop]
        except ValueError as e:
            raise CorruptBlockError(self._bad_outer_blocks(start, stop)) from e
        if not np.isfinite(Y).all():
            raise CorruptBlockError(self._nonfinite_blocks(Y))
        return Y.astype(np.float64)

    def _bad_outer_blocks(self, start: int, stop: int) -> list[int]:
        st = self.settings
        bad = []
        for j in range(math.ceil(st.r / st.vectors_per_block)):
            c0, c1 = st.block_range(j)
            try:
                self.group["outer"][start:stop, c0 : min(c1, st.r)]
            except ValueError:
                bad.append(j)
        return bad

    def read_inner(self) -> np.ndarray:
        try:
            Z = self.group["inner"][:]
        except ValueError as e:
            raise CorruptBlockError(self.verify()) from e
        if not np.isfinite(Z).all():
            raise CorruptBlockError(self._nonfinite_blocks(Z))
        return Z

    def params(self) -> np.ndarray:
        """The parameters the operator was built at; ``ValueError`` when they fail their checksum
        (``open_or_create`` with the parameters rewrites them)."""
        return self._input("params")

    def buffers(self) -> np.ndarray | None:
        """The model's floating buffers the operator was built with (None: it has none)."""
        return self._input("buffers") if "buffers" in self.group else None

    def _input(self, name: str) -> np.ndarray:
        try:
            x = self.group[name][:]
        except ValueError as e:
            raise ValueError(
                f"the {name} stored in {self.url} fail their checksum: rerun the sketch, which "
                "rewrites them from the checkpoint"
            ) from e
        if not np.isfinite(x).all():
            raise ValueError(f"the {name} stored in {self.url} are missing or not finite")
        return x

    def __repr__(self) -> str:
        n = int(self.done().sum())
        return (
            f"SketchStore({self.url!r}, {n}/{self.settings.n_blocks} blocks, solved={self.solved})"
        )


def _remote_exists(url: str) -> bool:
    try:
        zarr.open_group(url, mode="r")
        return True
    except (FileNotFoundError, KeyError, ValueError):
        return False
