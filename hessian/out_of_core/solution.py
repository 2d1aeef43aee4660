"""The solution a sketch store keeps: eigenvalues (k,) and the (r, k) transform with V = Y @ T.

Both arrays carry a CRC32C checksum and NaN as the fill of a missing chunk, and their SHA-256 is
recorded as the ``solution_id``; every read verifies the checksum, ``verify_solution`` all of
it. A damaged solution raises ``CorruptSolutionError`` and is solved again from the sketches
(``hessian.out_of_core.repair_solution``, or ``sketch`` on a rerun).
"""

from __future__ import annotations

import hashlib

import numpy as np
from zarr.codecs import Crc32cCodec

from hessian.exceptions import CorruptSolutionError

__all__ = ["StoredSolution", "solution_hash"]


class StoredSolution:
    """The solution's part of ``SketchStore`` (``self.group``, ``self.url``, ``self.settings``)."""

    def write_solution(self, eigenvalues: np.ndarray, transform: np.ndarray, info: dict) -> None:
        """Eigenvalues (k,) and the (r, k) transform with V = Y @ transform, each with a CRC32C
        checksum (and NaN for a missing chunk), and their SHA-256 (``solution_id``).

        ``solved`` is cleared first, so a write cut short never looks like a solution."""
        self.group.attrs["solved"] = False
        for name, arr in (("eigenvalues", eigenvalues), ("transform", transform)):
            self.group.create_array(
                name, shape=arr.shape, chunks=arr.shape, dtype="float64", overwrite=True,
                compressors=[Crc32cCodec()], fill_value=np.nan,
            )  # fmt: skip
            self.group[name][...] = arr
        sid = solution_hash(eigenvalues, transform)
        self.group.attrs.update({"solved": True, "solve": info, "solution_id": sid})

    def write_certificate(self, certificate) -> None:
        """Store the solution's certificate (``hessian.out_of_core.certify``): its record in the
        attributes, its arrays checksummed; tied to the solution it certifies."""
        self._need_solution()
        for name, a in certificate.arrays().items():
            self.group.create_array(
                f"certificate_{name}", shape=a.shape, chunks=a.shape, dtype=a.dtype,
                compressors=[Crc32cCodec()], overwrite=True,
            )  # fmt: skip
            self.group[f"certificate_{name}"][...] = a
        self.group.attrs["certificate"] = certificate.summary() | {"solution": self.solution_id}

    def certificate(self):
        """The stored certificate of the current solution; None where there is none, or where
        it is of another solution or fails its checksum (it is then computed again)."""
        from hessian.solvers.certificates import Certificate

        rec = self.group.attrs.get("certificate")
        if not self.solved or not rec or rec.get("solution") != self.solution_id:
            return None
        names = ("checked", "residuals", "overlap_bound", "eigenvalue_bounds", "theta")
        try:
            arrays = {n: self.group[f"certificate_{n}"][:] for n in names}
        except (ValueError, KeyError):
            return None
        return Certificate.from_record(rec, arrays)

    @property
    def solved(self) -> bool:
        return bool(self.group.attrs.get("solved"))

    @property
    def solution_id(self) -> str:
        """A hash of the stored eigenvalues and transform: changes whenever the solution does."""
        self._need_solution()
        sid = self.group.attrs.get("solution_id")
        if sid is None:  # solved by an earlier version: hash it now
            sid = solution_hash(self.eigenvalues(), self.transform())
        return str(sid)

    @property
    def solve_info(self) -> dict:
        self._need_solution()
        return dict(self.group.attrs["solve"])

    def eigenvalues(self) -> np.ndarray:
        """The stored eigenvalues; ``CorruptSolutionError`` when they fail their checksum."""
        return self._solution_array("eigenvalues")

    def transform(self) -> np.ndarray:
        """The stored (r, k) transform; ``CorruptSolutionError`` when it fails its checksum."""
        return self._solution_array("transform")

    def eigenvectors(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Rows start..stop-1 of the eigenvectors V = Y @ transform (float64)."""
        stop = self.settings.D if stop is None else stop
        return self.read_outer(start, stop) @ self.transform()

    def _solution_array(self, name: str) -> np.ndarray:
        self._need_solution()
        if name not in self.group:
            raise CorruptSolutionError(f"the solution's {name} are missing from {self.url}")
        try:
            x = self.group[name][:]
        except ValueError as e:
            raise CorruptSolutionError(
                f"the solution's {name} in {self.url} fail their checksum"
            ) from e
        if not np.isfinite(x).all():
            raise CorruptSolutionError(f"the solution's {name} in {self.url} are missing")
        return x

    def verify_solution(self) -> None:
        """Check the stored solution: both arrays read back (checksums), are complete and hash
        to the recorded ``solution_id``; one written without checksums (an earlier version) is
        not trusted either.

        Raises:
            CorruptSolutionError: what is wrong, in one line.
        """
        lam, T = self.eigenvalues(), self.transform()
        for name in ("eigenvalues", "transform"):
            if not any(isinstance(c, Crc32cCodec) for c in self.group[name].compressors):
                raise CorruptSolutionError(
                    f"the solution in {self.url} was written without checksums"
                )
        st = self.settings
        if T.ndim != 2 or T.shape[0] != st.r or lam.shape != (T.shape[1],):
            raise CorruptSolutionError(f"the solution in {self.url} has the wrong shape")
        sid = self.group.attrs.get("solution_id")
        if sid is not None and solution_hash(lam, T) != sid:
            raise CorruptSolutionError(
                f"the solution in {self.url} does not match its recorded hash"
            )

    def _need_solution(self):
        if not self.solved:
            raise RuntimeError(f"the sketch at {self.url} has not been solved yet")


def solution_hash(eigenvalues, transform) -> str:
    h = hashlib.sha256(np.ascontiguousarray(eigenvalues, dtype=np.float64).tobytes())
    h.update(np.ascontiguousarray(transform, dtype=np.float64).tobytes())
    return h.hexdigest()[:16]
