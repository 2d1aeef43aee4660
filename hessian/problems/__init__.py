"""Test problems of Fernandez et al. (2025): models, data and the paper's settings.

Example:
    >>> from hessian.problems import load
    >>> prob = load("mnist_mini")  # bundled digits resampled to 16x16, D = 7,030
    >>> X, y = prob.hessian_data  # 500 samples, the 50 lowest-index ones of each class
    >>> loss = prob.loss(prob.model(X), y)
"""

from .data import (
    class_balanced_subset,
    digits_16x16,
    read_cifar,
    read_mnist_idx,
    read_npz,
    synthetic,
)
from .models import num_params
from .registry import PROBLEMS, Problem, ProblemSettings, build_model, check_data, load, names

__all__ = [
    "PROBLEMS",
    "Problem",
    "ProblemSettings",
    "build_model",
    "check_data",
    "class_balanced_subset",
    "digits_16x16",
    "load",
    "names",
    "num_params",
    "read_cifar",
    "read_mnist_idx",
    "read_npz",
    "synthetic",
]
