"""A model's parameters and floating buffers as flat vectors, and back.

Parameters are flattened in ``model.parameters()`` order (the order of every mask index and of
every eigenvector's rows). Floating buffers (BatchNorm running statistics) travel with them: the
eval-mode curvature depends on them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor


def flat_params(params: Sequence[Tensor] | Tensor) -> Tensor:
    """Concatenate parameter tensors (in order) into one detached 1-D tensor."""
    if isinstance(params, Tensor):
        return params.detach().reshape(-1)
    return torch.cat([p.detach().reshape(-1) for p in params])


def load_flat_params(model: torch.nn.Module, flat) -> None:
    """Copy a flat parameter vector into ``model`` (``model.parameters()`` order)."""
    flat = torch.as_tensor(np.asarray(flat))
    D = sum(p.numel() for p in model.parameters())
    if flat.ndim != 1 or flat.numel() != D:
        raise ValueError(f"expected {D} parameters, got shape {tuple(flat.shape)}")
    with torch.no_grad():
        torch.nn.utils.vector_to_parameters(
            flat.to(next(model.parameters()).dtype), model.parameters()
        )


def float_buffers(model: torch.nn.Module) -> list[torch.Tensor]:
    """The model's floating-point buffers, in ``model.buffers()`` order."""
    return [b for b in model.buffers() if torch.is_floating_point(b)]


def flat_buffers(model: torch.nn.Module) -> np.ndarray:
    """The model's floating buffers (BatchNorm running statistics) as one float64 vector."""
    bufs = float_buffers(model)
    if not bufs:
        return np.zeros(0)
    return torch.cat([b.detach().reshape(-1).double() for b in bufs]).cpu().numpy()


def load_flat_buffers(model: torch.nn.Module, flat) -> None:
    """Copy a vector from ``flat_buffers`` back into ``model``."""
    flat = np.asarray(flat, dtype=np.float64)
    bufs = float_buffers(model)
    n = sum(b.numel() for b in bufs)
    if flat.ndim != 1 or flat.size != n:
        raise ValueError(f"expected {n} buffer values, got shape {flat.shape}")
    with torch.no_grad():
        i = 0
        for b in bufs:
            b.copy_(torch.from_numpy(flat[i : i + b.numel()]).view_as(b).to(b.dtype))
            i += b.numel()
