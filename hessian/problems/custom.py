"""Bring your own problem: any torch model, loss and data, through the whole pipeline.

A *factory* is a module-level function that returns a ``UserProblem``; it is named by an import
path, ``"package.module:factory"`` (the form of ``problem:`` in a run configuration), or
registered under a name with ``register``. Every process that needs the problem (a Dask worker
rebuilding the operator, the training run, the analysis) imports the factory by the same path,
so it must be importable there (the current directory is tried too, as uvicorn and gunicorn do).

The contract (``docs/architecture.md``, "Bring your own problem"):

    def factory(seed: int = 0, data: str | None = None) -> UserProblem:
        return UserProblem(
            model=Net(),                    # initialised from the global RNG, seeded by the caller
            train_data=(X, y),              # tensors, or a torch Dataset of (x, y) pairs
            loss=F.cross_entropy,           # batch-MEAN loss(logits, y); default cross-entropy
            hessian_data=None,              # the fixed Hessian data; None: the class-balanced
                                            # subset of train_data, drawn as for the paper's
            settings={"lr": 0.1, "k": 20},  # optional paper-style settings (``SETTINGS``)
        )

The factory is called with the keywords it declares among ``seed`` and ``data`` (the run's
``train.seed`` and ``data``), inside ``torch.manual_seed(seed)`` on a forked RNG: a model built
from torch's default initialisation is the same in every process. It must return the same data
and the same model structure every time; the operator's fingerprint (parameters, data, loss,
kind) lets a sketch store refuse anything else.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from hessian.exceptions import ProblemError

from . import registry
from .data import Data, class_balanced_subset
from .models import seeded
from .registry import Problem, ProblemSettings

__all__ = [
    "SETTINGS",
    "UserProblem",
    "check_data",
    "factory_path",
    "is_import_path",
    "load",
    "names",
    "path_of",
    "register",
    "registered",
    "settings",
    "unregister",
]

#: the optional settings a factory may give, and their defaults when it does not
SETTINGS: dict[str, Any] = {
    "lr": 0.1,
    "batch_size": 128,
    "n_hessian": 500,
    "record_steps": (0, 100, 200),
    "k": 20,
    "s": None,  # 2k
    "seed": 12345,
}


@dataclass(kw_only=True)
class UserProblem:
    """What a problem factory returns: what a built-in problem provides.

    Attributes:
        model: the network (any ``nn.Module``; eval mode is used for the curvature).
        train_data: ``(X, y)`` tensors, or a torch ``Dataset`` of ``(x, y)`` pairs (read once
            into tensors).
        loss: batch-mean loss ``loss(outputs, y)``; default mean cross-entropy.
        hessian_data: the fixed data that define the Hessian (tensors or a ``Dataset``); None:
            the class-balanced subset of ``train_data`` (the ``n_hessian // num_classes``
            lowest-index samples of every class, as for the paper's problems).
        num_classes: classes of integer labels (default: the largest label + 1).
        settings: optional paper-style settings, keys of ``SETTINGS`` (lr, batch_size,
            n_hessian, record_steps, k, s, seed); the rest take ``SETTINGS``' defaults.
    """

    model: nn.Module
    train_data: Data | Dataset
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None
    hessian_data: Data | Dataset | None = None
    num_classes: int | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)


#: name -> factory (a callable, or an import path) registered in this process
_REGISTERED: dict[str, Callable[..., UserProblem] | str] = {}


def is_import_path(name: str) -> bool:
    """Whether ``name`` has the form ``"package.module:factory"``."""
    mod, sep, attr = str(name).partition(":")
    return bool(sep and mod and attr) and all(p.isidentifier() for p in mod.split("."))


def factory_path(factory) -> str | None:
    """The import path ``"module:qualname"`` that gives back ``factory`` (None: there is none,
    e.g. a lambda, a local function, or one defined in ``__main__``)."""
    if isinstance(factory, str):
        return factory if is_import_path(factory) else None
    mod, qual = getattr(factory, "__module__", None), getattr(factory, "__qualname__", "")
    if not mod or mod == "__main__" or "<" in qual:
        return None
    path = f"{mod}:{qual}"
    try:
        return path if _import(path) is factory else None
    except ProblemError:
        return None


def register(name: str, factory: Callable[..., UserProblem] | str) -> None:
    """Make ``name`` a problem (``load(name)``, ``problem: name`` in a configuration run from
    Python) built by ``factory``: a callable or an import path ``"package.module:factory"``.

    Workers in other processes rebuild the problem from the factory's import path, which the
    operator spec records: register a module-level function (or give its path).

    Raises:
        ValueError: ``name`` is a built-in problem, or an import path.
    """
    if name in registry.PROBLEMS or is_import_path(name) or not name:
        raise ValueError(f"cannot register {name!r}: it is a built-in problem or an import path")
    if not (callable(factory) or is_import_path(factory)):
        raise ValueError(f"factory of {name!r} must be a callable or 'package.module:factory'")
    _REGISTERED[name] = factory


def unregister(name: str) -> None:
    """Forget a registered problem (no error if it is not registered)."""
    _REGISTERED.pop(name, None)


def registered(name: str) -> bool:
    """Whether ``name`` is registered in this process."""
    return name in _REGISTERED


def path_of(name: str) -> str | None:
    """The import path by which other processes rebuild problem ``name``: the path itself, a
    registered factory's path; None for a built-in problem or a factory without one."""
    if is_import_path(name):
        return name
    return factory_path(_REGISTERED[name]) if name in _REGISTERED else None


def names() -> list[str]:
    """The built-in problems, in the paper's order, then the registered ones."""
    return [*registry.PROBLEMS, *_REGISTERED]


def _import(path: str):
    mod, _, attr = path.partition(":")
    try:
        module = importlib.import_module(mod)
    except ModuleNotFoundError as e:
        if os.getcwd() in sys.path or e.name is None or not mod.startswith(e.name):
            raise ProblemError(f"problem {path!r}: cannot import {mod!r} ({e})") from None
        sys.path.insert(0, os.getcwd())  # "pkg.mod" in the working directory (as uvicorn does)
        return _import(path)
    except Exception as e:  # the module itself raised while importing
        raise ProblemError(f"problem {path!r}: importing {mod!r} raised {_what(e)}") from None
    obj = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ProblemError(f"problem {path!r}: module {mod!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    return obj


def _what(e: BaseException) -> str:
    return f"{type(e).__name__}: {e}" if str(e) else type(e).__name__


def _factory(name: str) -> tuple[Callable[..., UserProblem], str]:
    f = _REGISTERED.get(name, name)
    if isinstance(f, str):
        if not is_import_path(f):
            known = ", ".join(names())
            raise ProblemError(
                f"unknown problem {name!r}; known: {known}; or an import path "
                "'package.module:factory'"
            )
        path, f = f, _import(f)
    else:
        path = factory_path(f) or name
    if not callable(f):
        raise ProblemError(f"problem {path!r}: {type(f).__name__} object is not callable")
    return f, path


def _call(f, path: str, seed: int, data) -> UserProblem:
    try:
        accepted = inspect.signature(f).parameters
    except (TypeError, ValueError):
        accepted = {}
    var_kw = any(p.kind is p.VAR_KEYWORD for p in accepted.values())
    kwargs = {k: v for k, v in (("seed", seed), ("data", data)) if var_kw or k in accepted}
    try:
        with seeded(seed):
            out = f(**kwargs)
    except Exception as e:
        raise ProblemError(f"problem {path!r}: the factory raised {_what(e)}") from e
    if isinstance(out, Mapping):
        unknown = set(out) - {f.name for f in fields(UserProblem)}
        if unknown:
            raise ProblemError(f"problem {path!r}: the factory returned unknown keys {unknown}")
        try:
            out = UserProblem(**out)
        except TypeError as e:
            raise ProblemError(f"problem {path!r}: the factory's result: {e}") from None
    if not isinstance(out, UserProblem):
        raise ProblemError(
            f"problem {path!r}: the factory returned {type(out).__name__}, not a "
            "hessian.problems.UserProblem (or a dict of its fields)"
        )
    if not isinstance(out.model, nn.Module) or not any(True for _ in out.model.parameters()):
        raise ProblemError(f"problem {path!r}: model must be an nn.Module with parameters")
    unknown = set(out.settings) - set(SETTINGS)
    if unknown:
        raise ProblemError(
            f"problem {path!r}: unknown settings {sorted(unknown)}; known: {list(SETTINGS)}"
        )
    return out


def _tensors(data, what: str, path: str) -> Data:
    """(X, y) tensors from tensors or a Dataset of (x, y) pairs."""
    if isinstance(data, tuple | list) and len(data) == 2:
        x, y = (torch.as_tensor(t) for t in data)
    elif isinstance(data, Dataset):
        try:
            items = [data[i] for i in range(len(data))]
            x = torch.stack([torch.as_tensor(a) for a, _ in items])
            y = torch.stack([torch.as_tensor(b) for _, b in items])
        except Exception as e:
            raise ProblemError(f"problem {path!r}: reading {what} (a Dataset): {_what(e)}") from e
    else:
        raise ProblemError(f"problem {path!r}: {what} must be (X, y) tensors or a torch Dataset")
    if len(x) != len(y) or len(x) == 0:
        raise ProblemError(f"problem {path!r}: {what} has {len(x)} inputs and {len(y)} targets")
    return x, y


def _labels(data, n: int | None) -> torch.Tensor | None:
    """Integer labels of a Dataset without reading its inputs, where it says them (targets)."""
    t = getattr(data, "targets", None)
    return None if t is None else torch.as_tensor(t)[:n]


def _user_settings(name: str, up: UserProblem, x, y, n_classes: int) -> ProblemSettings:
    s = {**SETTINGS, **dict(up.settings)}
    k = int(s["k"])
    return ProblemSettings(
        name=name, D=sum(p.numel() for p in up.model.parameters()), lr=float(s["lr"]),
        batch_size=int(s["batch_size"]), n_hessian=int(s["n_hessian"]),
        record_steps=tuple(int(t) for t in s["record_steps"]), k=k,
        s=int(s["s"] or 2 * k), seed=int(s["seed"]), input_shape=tuple(x.shape[1:]),
        num_classes=n_classes, default_data="factory",
    )  # fmt: skip


def load(
    name: str,
    data=None,
    *,
    n_hessian: int | None = None,
    n_train: int | None = None,
    seed: int | None = None,
    dtype: torch.dtype = torch.float32,
) -> Problem:
    """Assemble any problem: a built-in one (``hessian.problems.registry.load``), a registered
    one, or ``"package.module:factory"``. Arguments as for the built-in problems; for a user
    problem ``data`` and ``seed`` go to the factory, ``n_train`` keeps the first samples and
    ``n_hessian`` sizes the class-balanced subset (when the factory gives no Hessian data).

    Raises:
        ProblemError: the path does not import, the factory raises or does not return a
            ``UserProblem``, or its data do not fit the contract (one message naming the path).
    """
    if name in registry.PROBLEMS:
        return registry.load(
            name, data, n_hessian=n_hessian, n_train=n_train, seed=seed, dtype=dtype
        )
    if not dtype.is_floating_point:
        raise ValueError(f"dtype must be floating point, got {dtype}")
    f, path = _factory(name)
    up = _call(f, path, SETTINGS["seed"] if seed is None else int(seed), data)
    if seed is None and int(up.settings.get("seed", SETTINGS["seed"])) != SETTINGS["seed"]:
        up = _call(f, path, int(up.settings["seed"]), data)  # its own default seed
    x, y = _tensors(up.train_data, "train_data", path)
    if n_train is not None:
        if n_train > len(y):
            raise ValueError(f"n_train={n_train} exceeds the {len(y)} samples of {path}")
        x, y = x[:n_train], y[:n_train]
    integer = not torch.is_floating_point(y)
    n_classes = up.num_classes or (int(y.max()) + 1 if integer and y.ndim == 1 else 1)
    settings = _user_settings(name, up, x, y, n_classes)
    idx = None
    if up.hessian_data is not None:
        hx, hy = _tensors(up.hessian_data, "hessian_data", path)
    else:
        if not integer or y.ndim != 1:
            raise ProblemError(
                f"problem {path!r}: the Hessian subset is drawn by class from integer labels; "
                "give hessian_data for other targets"
            )
        n_h = settings.n_hessian if n_hessian is None else int(n_hessian)
        try:
            idx = class_balanced_subset(y, n_h, n_classes)
        except ValueError as e:
            raise ProblemError(f"problem {path!r}: the Hessian subset: {e}") from None
        hx, hy = x[idx], y[idx]
    cast = lambda t: t.to(dtype).contiguous() if torch.is_floating_point(t) else t  # noqa: E731
    return Problem(
        name=name, settings=settings, model=up.model.to(dtype).eval(),
        train_data=(cast(x), y), hessian_data=(cast(hx), hy), hessian_indices=idx,
        data_source=f"factory {path}" + ("" if data is None else f" ({data})"),
        loss=up.loss or F.cross_entropy,
    )  # fmt: skip


def check_data(
    name: str,
    data=None,
    *,
    n_hessian: int | None = None,
    n_train: int | None = None,
) -> tuple[str, int]:
    """``hessian.problems.registry.check_data`` for any problem: a user problem is built (its
    factory called, its data checked as ``load`` checks them) before anything is trained.

    Returns:
        (source, n): ``Problem.data_source`` and the number of training samples.
    """
    if name in registry.PROBLEMS:
        return registry.check_data(name, data, n_hessian=n_hessian, n_train=n_train)
    p = load(name, data, n_hessian=n_hessian, n_train=n_train)
    return p.data_source, len(p.train_data[1])


def settings(name: str) -> ProblemSettings:
    """A problem's settings (built-in: the paper's; a user problem: its factory's, with the
    defaults of ``SETTINGS``); a user problem is built once to know D and its data's shape."""
    if name in registry.PROBLEMS:
        return registry.PROBLEMS[name]
    key = (name, id(_REGISTERED.get(name)))
    if key not in _SETTINGS:
        _SETTINGS[key] = load(name).settings
    return _SETTINGS[key]


#: a user problem's settings by (name, id of its registered factory), built once per process
_SETTINGS: dict[tuple[str, int], ProblemSettings] = {}
