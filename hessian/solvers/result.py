"""What every eigensolver returns: eigenpairs ordered by |lambda| descending.

The Hessian is indefinite and its top-k by magnitude mixes both signs (docs/method.md),
so every result, sketched, accurate or exact, is put in |lambda| order by ``order_by_magnitude``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class EigenResult:
    """Top-k eigenpairs of a symmetric operator, ordered by |eigenvalue| descending.

    Attributes:
        eigenvalues: (k,) float64.
        eigenvectors: (D, k) with orthonormal columns.
        n_hvp: operator-vector products used.
        n_passes: passes over the data (operator calls of one block each), when known.
        method: the algorithm that produced it.
        info: settings and diagnostics.
        certificate: what the pairs are worth (``hessian.solvers.certificates.Certificate``):
            residuals, certified rank; None where none was computed.
    """

    eigenvalues: np.ndarray
    eigenvectors: np.ndarray
    n_hvp: int = 0
    n_passes: int = 0
    method: str = ""
    info: dict = field(default_factory=dict)
    certificate: object | None = None

    @property
    def k(self) -> int:
        return len(self.eigenvalues)

    def truncate(self, k: int) -> EigenResult:
        """The top-k pairs of this result."""
        return EigenResult(
            self.eigenvalues[:k],
            self.eigenvectors[:, :k],
            self.n_hvp,
            self.n_passes,
            self.method,
            dict(self.info),
            self.certificate,
        )


def order_by_magnitude(eigenvalues: np.ndarray, eigenvectors: np.ndarray | None = None):
    """Sort eigenpairs by |lambda| descending (ties: larger lambda first, for determinism)."""
    order = np.lexsort((-eigenvalues, -np.abs(eigenvalues)))
    if eigenvectors is None:
        return eigenvalues[order]
    return eigenvalues[order], eigenvectors[:, order]
