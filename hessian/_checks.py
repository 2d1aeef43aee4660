"""Input conversion and validation shared by the library (clear errors that name the argument)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np


def to_numpy(x: Any) -> np.ndarray:
    """A numpy array, torch tensor or array-like as numpy (no copy where possible)."""
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # torch.Tensor, without importing torch
        t = x.detach().cpu()
        if str(t.dtype) == "torch.bfloat16":  # numpy has no bfloat16
            t = t.float()
        return np.asarray(t)
    return np.asarray(x)


def check_int(k: Any, lo: int, hi: int, name: str = "k") -> int:
    """``k`` as an int in lo..hi, else ValueError naming it."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {k!r}")
    if not lo <= int(k) <= hi:
        raise ValueError(f"{name} must be in {lo}..{hi}, got {name}={k}")
    return int(k)


def check_k(k: Any, D: int, name: str = "k") -> int:
    """A number of eigenpairs or mask entries: an integer in 1..D."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {k!r}")
    if not 1 <= int(k) <= D:
        raise ValueError(f"{name} must be in 1..D, got {name}={k} with D={D}")
    return int(k)


def as_eigenvectors(eigenvectors: Any, name: str = "eigenvectors") -> np.ndarray:
    """A (D, k) floating-point array with k <= D."""
    V = to_numpy(eigenvectors)
    if V.ndim != 2:
        raise ValueError(f"{name} must be a 2-D (D, k) array, got shape {V.shape}")
    if V.shape[0] < 1 or V.shape[1] < 1:
        raise ValueError(f"{name} must be non-empty, got shape {V.shape}")
    if V.shape[1] > V.shape[0]:
        raise ValueError(f"{name} has more columns than rows: shape {V.shape}")
    if not np.issubdtype(V.dtype, np.floating):
        raise ValueError(f"{name} must be floating point, got dtype {V.dtype}")
    return V


def memory_budget(memory: int | None) -> int:
    """Bytes a solver may hold: ``memory`` if given, else 80 % of the memory available now."""
    import psutil

    from hessian.defaults import MEMORY_FRACTION

    return int(memory) if memory else int(MEMORY_FRACTION * psutil.virtual_memory().available)


def renamed(
    value: Any, old_value: Any, *, new: str, old: str, default: Any = None, stacklevel: int = 3
) -> Any:
    """The value of a renamed argument: ``value`` (given as ``new``), or ``old_value`` given
    under its old name ``old`` (a DeprecationWarning says the new name). Both: TypeError."""
    if old_value is None:
        return value
    if value is not None and value != default and value != old_value:
        raise TypeError(f"{old} is the old name of {new}: give one of them")
    warnings.warn(f"{old} is now called {new}", DeprecationWarning, stacklevel=stacklevel)
    return old_value


def as_request(cls: type, request: Any, settings: dict) -> Any:
    """A stage's request: ``request`` itself, or one built from its fields given as keywords."""
    if request is None:
        return cls(**settings)
    if not isinstance(request, cls):
        raise TypeError(f"expected a {cls.__name__}, got {type(request).__name__}")
    if settings:
        raise TypeError(
            f"give a {cls.__name__} or its fields as keywords, not both: {sorted(settings)}"
        )
    return request
