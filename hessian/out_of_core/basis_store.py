"""The accurate solver's store: a Zarr (v3) group holding the Krylov basis on disk.

Layout (b = the block, n_max = basis columns before a restart):

    basis     (D, n_max + b)  Q and the next block X, chunks (chunk_rows, b), CRC32C
    products  (D, b)          W = H X of the current step, written by the product jobs
    checks    (D, c), checked (D, c)  the verification sample V_s and H V_s
    staging   (chunk_rows, n_max + b)  one rotated row chunk in flight during a restart
    params    (D,), buffers   the operator's parameters (workers rebuild it from them)
    jobs      (n_jobs,)       which product jobs of the current step are written
    rotated   (n_row_chunks,) which row chunks a restart has rotated
    state.npz (a file)        the small matrices of the relation, written atomically per step
    eigenvalues (k,), transform (n, k): the solution; eigenvectors V = basis[:, :n] @ transform

Every float array carries a CRC32C codec; a chunk that fails it raises on read. The state file
is written atomically (rename) after the step's columns are on disk, so a killed run resumes at
the last whole step (its product jobs that were written are kept). The solution read API is the
sketch store's (``eigenvalues``, ``transform``, ``read_outer``, ``row_chunks``, ``solution_id``),
so every streamed pass reads either store.
"""

from __future__ import annotations

import hashlib
import math
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import zarr
from zarr.codecs import Crc32cCodec

from hessian._files import atomic_savez
from hessian._version import __version__
from hessian.defaults import CHUNK_ROWS
from hessian.exceptions import StoreMismatchError
from hessian.out_of_core.chunk_files import ChunkFiles

FORMAT = "accurate-1"


@dataclass(frozen=True)
class AccurateSettings:
    """What defines an accurate solve besides the operator (a store refuses others)."""

    D: int
    k: int
    block: int
    n_max: int
    keep: int
    tol: float
    subspace_tol: float
    seed: int = 0
    dtype: str = "float32"
    chunk_rows: int = CHUNK_ROWS
    vectors_per_job: int = 0
    verify: int = 64
    warm_start: str = ""

    def __post_init__(self):
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {self.dtype!r}")
        if not 1 <= self.k <= self.D:
            raise ValueError(f"k must be in 1..D = {self.D}, got {self.k}")

    @property
    def columns(self) -> int:
        return self.n_max + self.block

    @property
    def job_width(self) -> int:
        return self.vectors_per_job or self.block

    @property
    def n_jobs(self) -> int:
        return math.ceil(self.block / self.job_width)

    @property
    def nbytes(self) -> int:
        """The store's size when full (``space.check_space`` compares it with the free disk)."""
        return self.bytes_on_disk()

    def bytes_on_disk(self) -> int:
        """The store's size when full: basis, products, checks, staging (and the params)."""
        item = np.dtype(self.dtype).itemsize
        cols = self.columns + self.block + 2 * self.verify
        rows = min(self.chunk_rows, self.D)
        return int(self.D * cols * item + rows * self.columns * item + 8 * self.D)


class BasisStore(ChunkFiles):
    """The accurate solver's Zarr group (``open_or_create`` to solve, ``open`` to read); its
    row-chunk reads and writes are ``ChunkFiles``'."""

    def __init__(self, url: str, group: zarr.Group):
        self.url = url
        self.group = group
        self.path = Path(url)
        self.settings = AccurateSettings(**group.attrs["settings"])
        self._arrays: dict[str, zarr.Array] = {}
        self._buffers: dict[tuple, np.ndarray] = {}  # column_blocks' chunk buffers, per thread
        self._dirs: set[Path] = set()  # chunk directories the direct writer made

    @classmethod
    def open(cls, url: str, mode: str = "r") -> BasisStore:
        if "://" in url and not url.startswith("file://"):
            raise ValueError(f"the accurate solver's store must be a local path, got {url}")
        url = url.removeprefix("file://")
        if not (Path(url) / "zarr.json").exists():
            raise FileNotFoundError(f"no accurate-solver store at {url}")
        group = zarr.open_group(url, mode=mode)
        if group.attrs.get("format") != FORMAT:
            raise StoreMismatchError(f"{url} is not an accurate-solver store")
        return cls(url, group)

    @classmethod
    def open_or_create(cls, url: str, settings: AccurateSettings, fingerprint: str, spec: str,
                       params, buffers=None) -> BasisStore:  # fmt: skip
        """Resume the store at ``url`` if it matches; else lay it out anew.

        Raises:
            StoreMismatchError: it exists with other settings or for another operator.
        """
        url = url.removeprefix("file://")
        path = Path(url)
        if (path / "zarr.json").exists():
            store = cls.open(url, mode="r+")
            mine, theirs = asdict(store.settings), asdict(settings)
            diff = {k: (mine[k], theirs[k]) for k in mine if mine[k] != theirs[k]}
            if store.group.attrs.get("fingerprint") != fingerprint:
                diff["operator fingerprint"] = (store.group.attrs.get("fingerprint"), fingerprint)
            if diff:
                lines = ", ".join(
                    f"{k}: store has {a!r}, asked {b!r}" for k, (a, b) in diff.items()
                )
                raise StoreMismatchError(
                    f"the accurate-solver store at {url} was made with other settings or another "
                    f"operator ({lines}); use a new store, or delete this one to start over"
                )
            return store
        path.parent.mkdir(parents=True, exist_ok=True)
        st = settings
        group = zarr.open_group(url, mode="w")
        rows = min(st.chunk_rows, st.D)
        crc = [Crc32cCodec()]

        def arr(name, shape, chunks, dtype=st.dtype, fill=np.nan):
            group.create_array(name, shape=shape, chunks=chunks, dtype=dtype, compressors=crc,
                               fill_value=fill)  # fmt: skip

        arr("basis", (st.D, st.columns), (rows, st.block))
        arr("products", (st.D, st.block), (rows, st.job_width))
        arr("checks", (st.D, st.verify or 1), (rows, st.verify or 1))
        arr("checked", (st.D, st.verify or 1), (rows, st.job_width))
        arr("staging", (rows, st.columns), (rows, st.block))
        arr("params", (st.D,), (rows,), dtype="float64")
        arr("jobs", (st.n_jobs,), (1,), dtype="int64", fill=-1)
        arr("check_jobs", (math.ceil((st.verify or 1) / st.job_width),), (1,), "int64", -1)
        arr("rotated", (math.ceil(st.D / rows),), (1,), dtype="int64", fill=-1)
        group["params"][:] = np.asarray(params, dtype=np.float64)
        if buffers is not None and np.size(buffers):
            b = np.asarray(buffers, dtype=np.float64)
            group.create_array("buffers", shape=b.shape, chunks=b.shape, dtype="float64",
                               compressors=crc)  # fmt: skip
            group["buffers"][:] = b
        group.attrs.update({
            "settings": asdict(settings), "fingerprint": fingerprint, "spec": spec,
            "format": FORMAT, "library_version": __version__, "created": time.time(),
            "solved": False,
        })  # fmt: skip
        return cls(url, group)

    # --- the operator's inputs ------------------------------------------------------------
    def params(self) -> np.ndarray:
        return self.group["params"][:]

    def buffers(self) -> np.ndarray | None:
        return self.group["buffers"][:] if "buffers" in self.group else None

    # --- the relation's small matrices ----------------------------------------------------
    @property
    def state_path(self) -> Path:
        return self.path / "state.npz"

    def save_state(self, **arrays) -> None:
        atomic_savez(self.state_path, **arrays)

    def load_state(self) -> dict | None:
        if not self.state_path.exists():
            return None
        with np.load(self.state_path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}

    # --- the solution ---------------------------------------------------------------------
    def write_solution(self, eigenvalues, transform, info: dict, certificate) -> None:
        self.group.attrs["solved"] = False
        arrays = {"eigenvalues": eigenvalues, "transform": transform} | {
            f"certificate_{k}": v for k, v in certificate.arrays().items()
        }
        for name, a in arrays.items():
            a = np.asarray(a)
            self.group.create_array(name, shape=a.shape, chunks=a.shape, dtype=a.dtype,
                                    compressors=[Crc32cCodec()], overwrite=True)  # fmt: skip
            self.group[name][...] = a
        h = hashlib.sha256(np.ascontiguousarray(eigenvalues, dtype=np.float64).tobytes())
        h.update(np.ascontiguousarray(transform, dtype=np.float64).tobytes())
        self.group.attrs.update({"solved": True, "solve": info, "columns_used": transform.shape[0],
                                 "certificate": certificate.summary(),
                                 "solution_id": h.hexdigest()[:16]})  # fmt: skip

    @property
    def solved(self) -> bool:
        return bool(self.group.attrs.get("solved"))

    def _need_solution(self):
        if not self.solved:
            raise RuntimeError(f"the accurate solve at {self.url} has not finished")

    @property
    def solution_id(self) -> str:
        self._need_solution()
        return str(self.group.attrs["solution_id"])

    @property
    def solve_info(self) -> dict:
        self._need_solution()
        return dict(self.group.attrs["solve"])

    def eigenvalues(self) -> np.ndarray:
        self._need_solution()
        return self.group["eigenvalues"][:]

    def transform(self) -> np.ndarray:
        self._need_solution()
        return self.group["transform"][:]

    def certificate(self):
        from hessian.solvers.certificates import Certificate

        self._need_solution()
        names = ("checked", "residuals", "overlap_bound", "eigenvalue_bounds", "theta")
        arrays = {n: self.group[f"certificate_{n}"][:] for n in names}
        return Certificate.from_record(dict(self.group.attrs["certificate"]), arrays)

    def read_outer(self, a: int, b: int) -> np.ndarray:
        """Rows a..b-1 of the basis columns the solution is expressed in (float64)."""
        n = int(self.group.attrs["columns_used"])
        return self.read("basis", a, b, slice(0, n))

    def eigenvectors(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        stop = self.settings.D if stop is None else stop
        return self.read_outer(start, stop) @ self.transform()

    def delete(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)

    def __repr__(self) -> str:
        return f"BasisStore({self.url!r}, solved={self.solved})"
