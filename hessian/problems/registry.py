"""The paper's test problems: settings, model builders and a ``load`` that assembles a Problem.

Settings follow Fernandez et al. (2025) as recomputed from their public logs (docs/method.md §5);
``wide_mlp`` (D > 10M) and ``mlp_1m`` (D ~ 1M) are ours, cheap models for work at scale.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from hessian.exceptions import DataError

from . import models
from .data import (
    Data,
    class_balanced_subset,
    digits_16x16,
    digits_resampled,
    read_cifar,
    read_mnist_idx,
    read_npz,
    synthetic,
)

__all__ = [
    "PROBLEMS", "Problem", "ProblemSettings", "build_model", "check_data", "load", "names",
]  # fmt: skip

_PAPER_STEPS = (0, 2000, 4000, 6000, 8000)
_DIGIT_PROBLEMS = ("mnist_mini", "mnist_tiny")


@dataclass(frozen=True, kw_only=True)
class ProblemSettings:
    """One problem's settings as in the paper's runs (plain SGD, constant learning rate).

    Attributes:
        name: Registry name.
        D: Exact number of parameters of the model.
        lr: SGD learning rate.
        batch_size: Training mini-batch size.
        n_hessian: Size of the class-balanced subset defining the Hessian.
        record_steps: Training steps at which the Hessian is sketched.
        k: Number of eigenpairs wanted.
        s: Number of inner sketch measurements (HVPs).
        seed: Seed for initialisation (and derived data seeds).
        input_shape: Shape of one input (C, H, W).
        num_classes: Number of classes.
        default_data: Data source used when ``load`` gets ``data=None``.
    """

    name: str
    D: int
    lr: float
    batch_size: int
    n_hessian: int
    record_steps: tuple[int, ...]
    k: int
    s: int
    seed: int = 12345
    input_shape: tuple[int, ...]
    num_classes: int
    default_data: str = "synthetic"


PROBLEMS: dict[str, ProblemSettings] = {
    s.name: s
    for s in (
        ProblemSettings(
            name="mnist_mini",
            D=7_030,
            lr=0.3,
            batch_size=500,
            n_hessian=500,
            record_steps=tuple(range(0, 1001, 100)),
            k=355,
            s=710,
            input_shape=(1, 16, 16),
            num_classes=10,
            default_data="digits",
        ),
        ProblemSettings(
            name="cifar10_3c3d",
            D=895_210,
            lr=0.02261,
            batch_size=128,
            n_hessian=500,
            record_steps=_PAPER_STEPS,
            k=1000,
            s=2000,
            input_shape=(3, 32, 32),
            num_classes=10,
        ),
        ProblemSettings(
            name="cifar100_allcnnc",
            D=1_387_108,
            lr=0.16579,
            batch_size=256,
            n_hessian=1000,
            record_steps=_PAPER_STEPS,
            k=1000,
            s=2000,
            input_shape=(3, 32, 32),
            num_classes=100,
        ),
        ProblemSettings(
            name="imagenet_resnet18",
            D=11_689_512,
            lr=0.1,
            batch_size=150,
            n_hessian=5000,
            record_steps=_PAPER_STEPS,
            k=1500,
            s=3000,
            input_shape=(3, 224, 224),
            num_classes=1000,
        ),
        ProblemSettings(
            name="mnist_tiny",
            D=2_146,
            lr=0.3,
            batch_size=500,
            n_hessian=500,
            record_steps=tuple(range(0, 1001, 100)),
            k=100,
            s=200,
            input_shape=(1, 16, 16),
            num_classes=10,
            default_data="digits",
        ),
        ProblemSettings(
            name="wide_mlp",
            D=10_510_346,
            lr=0.01,
            batch_size=128,
            n_hessian=500,
            record_steps=(0, 100, 200),
            k=1000,
            s=2000,
            input_shape=(3, 32, 32),
            num_classes=10,
        ),
        ProblemSettings(
            name="mlp_1m",
            D=1_015_210,
            lr=0.01,
            batch_size=128,
            n_hessian=500,
            record_steps=(0, 100, 200),
            k=500,
            s=1000,
            input_shape=(3, 32, 32),
            num_classes=10,
        ),
    )
}

_BUILDERS: dict[str, Callable[..., nn.Module]] = {
    "mnist_mini": models.mnist_mini,
    "cifar10_3c3d": models.cifar10_3c3d,
    "cifar100_allcnnc": models.cifar100_allcnnc,
    "imagenet_resnet18": models.imagenet_resnet18,
    "mnist_tiny": models.mnist_tiny,
    "wide_mlp": models.wide_mlp,
    "mlp_1m": models.mlp_1m,
}


def names() -> list[str]:
    """Names of the built-in problems, in the paper's order (``hessian.problems.names()`` adds
    the registered ones)."""
    return list(PROBLEMS)


def _settings(name: str) -> ProblemSettings:
    try:
        return PROBLEMS[name]
    except KeyError:
        raise ValueError(f"unknown problem {name!r}; known: {', '.join(PROBLEMS)}") from None


def build_model(name: str, seed: int = 12345) -> nn.Module:
    """Build a problem's model, initialised from ``seed`` (global RNG untouched), in eval mode."""
    s = _settings(name)
    return _BUILDERS[name](num_classes=s.num_classes, seed=seed).eval()


@dataclass
class Problem:
    """A model, its data and the fixed class-balanced subset on which the Hessian is defined.

    Attributes:
        name: Registry name.
        settings: The paper's settings for this problem.
        model: The network, in eval mode, cast to the requested dtype.
        train_data: ``(X, y)`` for training.
        hessian_data: ``(X, y)``, the class-balanced subset of ``train_data`` (docs/method.md §1).
        hessian_indices: Indices of ``hessian_data`` in ``train_data`` (sorted).
        data_source: ``"digits"``, ``"synthetic"``, ``"tensors"``, the path read, or the
            factory of a user problem (``hessian.problems.custom``).
        loss: the batch-mean loss ``loss(logits, y)``; mean cross-entropy (no weight decay term)
            for the paper's problems.
    """

    name: str
    settings: ProblemSettings
    model: nn.Module
    train_data: Data
    hessian_data: Data
    hessian_indices: torch.Tensor | None = None
    data_source: str = field(default="")
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = F.cross_entropy

    @property
    def D(self) -> int:
        """Number of parameters."""
        return sum(p.numel() for p in self.model.parameters())

    @property
    def params(self) -> list[nn.Parameter]:
        """``list(model.parameters())``, the order used for flattening."""
        return list(self.model.parameters())

    @property
    def named_params(self) -> dict[str, nn.Parameter]:
        """``dict(model.named_parameters())``."""
        return dict(self.model.named_parameters())

    def flat_params(self) -> torch.Tensor:
        """Parameters as one detached 1-D tensor in ``model.parameters()`` order."""
        return torch.cat([p.detach().reshape(-1) for p in self.model.parameters()])


def _data_seed(seed: int) -> int:
    """A data seed independent of the model-initialisation stream ``torch.manual_seed(seed)``."""
    return int(np.random.SeedSequence([seed, 1]).generate_state(1)[0])


def _read_path(settings: ProblemSettings, path: Path) -> Data:
    if not path.exists():
        raise FileNotFoundError(f"no such file or directory: {path}")
    if path.suffix == ".npz":
        return read_npz(path, settings.input_shape, settings.num_classes)
    if settings.name in _DIGIT_PROBLEMS:
        return read_mnist_idx(path)
    if settings.input_shape == (3, 32, 32) and settings.num_classes in (10, 100):
        return read_cifar(path, settings.num_classes)
    raise ValueError(f"{settings.name}: only .npz files are supported as data, got {path}")


def _data(
    settings: ProblemSettings, data, n_hessian: int, n_train: int | None, seed: int
) -> tuple[torch.Tensor, torch.Tensor, str, torch.Tensor]:
    """The training data of a problem, checked: (x, y, source, Hessian subset indices)."""
    name = settings.name
    if isinstance(data, tuple):
        x, y = data
        source = "tensors"
    elif data == "synthetic":
        n = n_hessian if n_train is None else n_train
        if n < n_hessian:
            raise ValueError(f"n_train={n} is smaller than n_hessian={n_hessian}")
        x, y = synthetic(settings.input_shape, settings.num_classes, n, _data_seed(seed))
        source = "synthetic"
    elif data == "digits":
        if settings.num_classes != 10 or len(settings.input_shape) != 3:
            raise ValueError(
                f"'digits' data (10 classes of images) do not fit {name} "
                f"({settings.num_classes} classes, input {settings.input_shape})"
            )
        if name in _DIGIT_PROBLEMS:
            x, y = digits_16x16()
        else:  # the digits resampled to the problem's input shape (e.g. 3 x 32 x 32)
            x, y = digits_resampled(settings.input_shape)
        source = "digits"
    else:
        path = Path(data)
        x, y = _read_path(settings, path)
        source = str(path)

    if source != "synthetic" and n_train is not None:
        if n_train > len(y):
            raise ValueError(f"n_train={n_train} exceeds the {len(y)} samples of {source}")
        x, y = x[:n_train], y[:n_train]
    if tuple(x.shape[1:]) != settings.input_shape or y.shape != (x.shape[0],):
        raise ValueError(
            f"{name}: data have shapes {tuple(x.shape)}, {tuple(y.shape)}; "
            f"expected (N, {', '.join(map(str, settings.input_shape))}) and (N,)"
        )
    if len(y) and (int(y.min()) < 0 or int(y.max()) >= settings.num_classes):
        raise ValueError(f"{name}: labels outside 0..{settings.num_classes - 1}")
    if x.is_floating_point() and not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name}: the inputs hold non-finite values (NaN or inf)")
    try:
        idx = class_balanced_subset(y, n_hessian, settings.num_classes)
    except ValueError as e:
        raise ValueError(
            f"too few samples for the Hessian subset of n_hessian = {n_hessian} "
            f"({n_hessian // settings.num_classes} per class): {e}"
        ) from None
    return x, y, source, idx


def check_data(
    name: str,
    data: str | os.PathLike[str] | None = None,
    *,
    n_hessian: int | None = None,
    n_train: int | None = None,
) -> tuple[str, int]:
    """Check a problem's data before anything is trained: a data file (or the bundled digits)
    is read and checked as ``load`` would use it (shapes, dtypes, finite values, label range,
    enough samples of every class for the Hessian subset); generated data need no reading.

    Returns:
        (source, n): the data source as ``Problem.data_source`` names it, and the number of
        training samples.

    Raises:
        FileNotFoundError: ``data`` is a path that does not exist.
        DataError: anything else wrong with the data, the file named in the message.
    """
    settings = _settings(name)
    data = settings.default_data if data is None else data
    n_h = settings.n_hessian if n_hessian is None else n_hessian
    if data == "synthetic":
        n = n_h if n_train is None else n_train
        if n < n_h:
            raise DataError(f"n_train={n} is smaller than n_hessian={n_h}")
        return "synthetic", n
    try:
        _, y, source, _ = _data(settings, data, n_h, n_train, settings.seed)
    except (FileNotFoundError, DataError):
        raise
    except ValueError as e:
        msg = str(e)
        raise DataError(msg if str(data) in msg else f"{data}: {msg}") from None
    return source, len(y)


def load(
    name: str,
    data: str | os.PathLike[str] | Data | None = None,
    *,
    n_hessian: int | None = None,
    n_train: int | None = None,
    seed: int | None = None,
    dtype: torch.dtype = torch.float32,
) -> Problem:
    """Assemble a problem: model, training data and the Hessian's class-balanced subset.

    Args:
        name: One of ``names()``.
        data: ``None`` for the default source (bundled digits for ``mnist_mini``, synthetic
            otherwise); ``"digits"`` (any 10-class image problem: resampled to its input
            shape); ``"synthetic"``; a path (MNIST IDX file
            or directory for ``mnist_mini``, CIFAR pickle directory for the 32x32 problems, an
            ``.npz`` with arrays ``x`` and ``y`` for any problem); or an ``(X, y)`` tuple.
        n_hessian: Size of the Hessian subset (default ``settings.n_hessian``).
        n_train: Synthetic: number of samples (default ``n_hessian``). Real data: keep the first
            ``n_train`` samples (default all).
        seed: Model-initialisation seed (default ``settings.seed``); synthetic data use a seed
            derived from it.
        dtype: Floating dtype of model and inputs.

    Raises:
        ValueError: Unknown problem (lists the known ones), bad data or sizes.
        FileNotFoundError: ``data`` is a path that does not exist.
    """
    settings = _settings(name)
    if not dtype.is_floating_point:
        raise ValueError(f"dtype must be floating point, got {dtype}")
    seed = settings.seed if seed is None else seed
    n_hessian = settings.n_hessian if n_hessian is None else n_hessian
    if data is None:
        data = settings.default_data

    x, y, source, idx = _data(settings, data, n_hessian, n_train, seed)
    x, y = x.to(dtype).contiguous(), y.to(torch.int64)
    model = build_model(name, seed).to(dtype)
    return Problem(
        name=name,
        settings=settings,
        model=model,
        train_data=(x, y),
        hessian_data=(x[idx], y[idx]),
        hessian_indices=idx,
        data_source=source,
    )
