"""The study: parameter masks against Hessian eigenspaces, as in Fernandez et al. (2025).

``masks`` (magnitude, random, best, by score), ``metrics`` (overlap for every k, chance,
principal angles, Grassmannian metrics, IoU), ``diagonal`` (operator diagonals for diagonal-score
masks), ``analysis`` (one recorded step against its eigenspace, and across steps) and ``plots``
(the figures; imported on its own, it loads matplotlib).
"""

from hessian.study import analysis, diagonal, masks, metrics
from hessian.study.analysis import AnalysisRequest
from hessian.study.diagonal import exact_diagonal, hutchinson_diagonal
from hessian.study.metrics import chance, overlap

__all__ = [
    "AnalysisRequest",
    "analysis",
    "chance",
    "diagonal",
    "exact_diagonal",
    "hutchinson_diagonal",
    "masks",
    "metrics",
    "overlap",
]
