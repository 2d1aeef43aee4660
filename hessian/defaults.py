"""Every default of the library, defined once: the library's signatures, the run configuration
and the flows all take them from here.

Sizes of a sketch (Fernandez et al. 2025 used s = 2k and no oversampling):

    s = sketch_size(k) = 2 k                                    inner measurements (HVPs)
    p = oversampling(k, s) = min(k // 4, s - k), at least 0     extra outer columns, no extra HVP
"""

from __future__ import annotations

#: test vectors multiplied in one pass over the data (``vectors_per_pass`` of an operator)
VECTORS_PER_PASS = 32

#: at most this many test vectors per operator call in the in-memory solvers (by default)
MAX_VECTORS_PER_CALL = 256

#: rows of D per tile of the sketching matrices, and per row chunk of a sketch store (a chunk
#: must meet whole tiles, so a store's ``chunk_rows`` is a multiple of it)
TILE = 1 << 16
CHUNK_ROWS = TILE

#: largest D whose dense float64 reference is formed (a D x D matrix: 12.8 GB at 40,000)
MAX_DENSE_D = 40_000

#: largest D for which a run computes the exact reference by default (``exact.enabled: auto``)
MAX_AUTO_EXACT_D = 20_000

#: Gaussian probes of the a-posteriori error estimate, and its eps (n = 30, eps = 0.5: the
#: estimate is within a factor 0.5..1.5 except with probability 0.055 + 0.242)
APOSTERIORI_PROBES = 30
APOSTERIORI_EPS = 0.5

#: Rademacher probes of Hutchinson's diagonal estimate
HUTCHINSON_PROBES = 100

#: random masks drawn per analysed step (their mean estimates the chance level k / D)
RANDOM_DRAWS = 100

#: the k at which the Grassmannian metrics are reported (those below k, and k itself)
METRIC_KS = (10, 50, 100, 200, 500, 1000)

#: share of the memory available now that a solver may hold, when not told
MEMORY_FRACTION = 0.8

#: SGD is stopped as diverged when a batch loss exceeds this many times the loss at its first
#: step (at least 1): cross-entropy starts near ln(classes), so only a blow-up gets there
DIVERGENCE_FACTOR = 100.0

#: free space kept on a store's filesystem beyond what a sketch needs (bytes)
SPACE_MARGIN = 64 << 20


def sketch_size(k: int) -> int:
    """The default number of inner measurements s for k eigenpairs: 2k (the paper's)."""
    return 2 * int(k)


def oversampling(k: int, s: int) -> int:
    """The default number of extra outer columns p: min(k // 4, s - k), at least 0.

    The outer columns are recycled inner measurements, so p costs no products; on mnist_mini at
    k = 355, s = 710 it lifts the subspace overlap with the exact eigenspace from 0.76 (p = 0,
    the paper's setting) to 0.80.
    """
    return max(0, min(int(k) // 4, int(s) - int(k)))
