"""Curvature operators: the loss Hessian and the GGN over a fixed data subset, never formed.

    H = HessianOperator(model, (X, y))      # op @ V for V of shape (D,) or (D, m)
    spec = OperatorSpec("wide_mlp")         # what any worker needs to rebuild an operator
    op = spec.build(params)

``CountingOperator`` is the solvers' view of any operator (ours, a dense array, a scipy
``LinearOperator``): products of float numpy blocks, counted.
"""

from hessian.exceptions import NondeterministicOperatorError
from hessian.operators.base import CurvatureOperator, OperatorStats
from hessian.operators.counting import CountingOperator
from hessian.operators.ggn import GGNOperator
from hessian.operators.hessian import HessianOperator
from hessian.operators.params import (
    flat_buffers,
    flat_params,
    float_buffers,
    load_flat_buffers,
    load_flat_params,
)
from hessian.operators.spec import OPERATORS, OperatorSpec, fingerprint

__all__ = [
    "OPERATORS",
    "CountingOperator",
    "CurvatureOperator",
    "GGNOperator",
    "HessianOperator",
    "NondeterministicOperatorError",
    "OperatorSpec",
    "OperatorStats",
    "fingerprint",
    "flat_buffers",
    "flat_params",
    "float_buffers",
    "load_flat_buffers",
    "load_flat_params",
]
