"""Test problems of Fernandez et al. (2025): models, data and the paper's settings.

Example:
    >>> from hessian.problems import load
    >>> prob = load("mnist_mini")  # bundled digits resampled to 16x16, D = 7,030
    >>> X, y = prob.hessian_data  # 500 samples, the 50 lowest-index ones of each class
    >>> loss = prob.loss(prob.model(X), y)

Your own model and data: a factory returning a ``UserProblem``, named by its import path
(``load("mypkg.problems:factory")``) or registered (``register("mine", factory)``); see
``hessian.problems.custom``.
"""

from .custom import (
    SETTINGS,
    UserProblem,
    check_data,
    factory_path,
    is_import_path,
    load,
    names,
    path_of,
    register,
    registered,
    settings,
    unregister,
)
from .data import (
    class_balanced_subset,
    digits_16x16,
    read_cifar,
    read_mnist_idx,
    read_npz,
    synthetic,
)
from .models import num_params
from .registry import PROBLEMS, Problem, ProblemSettings, build_model

__all__ = [
    "PROBLEMS",
    "SETTINGS",
    "Problem",
    "ProblemSettings",
    "UserProblem",
    "build_model",
    "check_data",
    "class_balanced_subset",
    "digits_16x16",
    "factory_path",
    "is_import_path",
    "load",
    "names",
    "num_params",
    "path_of",
    "read_cifar",
    "read_mnist_idx",
    "read_npz",
    "register",
    "registered",
    "settings",
    "synthetic",
    "unregister",
]
