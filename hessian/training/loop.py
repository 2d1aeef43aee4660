"""Plain SGD with parameter snapshots at recorded steps (the paper's runs, docs/method.md §5).

Constant learning rate, no momentum, no weight decay; mini-batches drawn by a seeded permutation
per epoch, so a run is a pure function of (problem, lr, batch size, seed). Step t's snapshot is
the parameters BEFORE the t-th update (step 0 is the initialisation), as the masks and Hessians of
step t must see the same parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import Tensor

from hessian.defaults import DIVERGENCE_FACTOR
from hessian.exceptions import TrainingDivergedError
from hessian.operators.params import flat_params


def sgd(
    model: torch.nn.Module,
    data: tuple[Tensor, Tensor],
    *,
    steps: int,
    lr: float,
    batch_size: int,
    seed: int = 12345,
    record_steps: Iterable[int] = (),
    loss: Callable[[Tensor, Tensor], Tensor] | None = None,
    on_record: Callable[[int, Tensor], None] | None = None,
    start_step: int = 0,
    on_step: Callable[[int], None] | None = None,
    divergence_factor: float = DIVERGENCE_FACTOR,
) -> dict[int, Tensor]:
    """Train ``model`` in place with SGD for ``steps`` updates; snapshot at ``record_steps``.

    Args:
        model, data: the network and its training set (X, y).
        steps, lr, batch_size, seed: the run. Batches are consecutive slices of a per-epoch
            permutation drawn from ``torch.Generator().manual_seed(seed)``.
        record_steps: steps (0..steps) whose parameters are returned.
        loss: batch-mean loss (default cross-entropy).
        on_record: called as ``on_record(step, flat_params)`` at each recorded step, before the
            step's forward pass: the model is exactly that of the step (parameters, buffers).
        start_step: resume: ``model`` already holds the parameters of this step (e.g. from a
            checkpoint); the batch order of the earlier steps is replayed from ``seed`` without
            computing anything, so the run continues exactly as an uninterrupted one (plain SGD
            has no other state).
        on_step: called as ``on_step(step)`` after each update (progress reporting).
        divergence_factor: stop when a batch loss exceeds this many times the loss at
            ``start_step`` (at least 1); a non-finite loss always stops.

    Returns:
        {step: flat parameter vector (detached clone)} for the recorded steps.

    Raises:
        TrainingDivergedError: a non-finite or exploding loss, at the step named (the
            ``on_record`` calls before it have been made).
    """
    loss = loss or torch.nn.functional.cross_entropy
    record = sorted(set(int(t) for t in record_steps))
    if any(t < 0 or t > steps for t in record):
        raise ValueError(f"record steps {record} must lie in 0..{steps}")
    if not 0 <= start_step <= steps:
        raise ValueError(f"start_step must lie in 0..{steps}, got {start_step}")
    if lr <= 0 or batch_size < 1 or steps < 0:
        raise ValueError(
            f"need lr > 0, batch_size >= 1, steps >= 0; got {lr}, {batch_size}, {steps}"
        )
    X, y = data
    n = len(X)
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    out: dict[int, Tensor] = {}
    perm, pos = torch.randperm(n, generator=g), 0
    first = None  # (step, loss) of the first step computed: the scale of a blow-up
    was_training = model.training
    model.train()
    # dropout draws come from the global RNG: seed it per step (so a resumed run matches an
    # uninterrupted one) inside fork_rng, which restores the caller's RNG state afterwards
    with torch.random.fork_rng(devices=[]):
        for t in range(steps + 1):
            if pos + batch_size > n:  # new epoch: a fresh permutation, no partial batch
                perm, pos = torch.randperm(n, generator=g), 0
            idx = perm[pos : pos + min(batch_size, n)]
            pos += batch_size
            if t < start_step:
                continue
            torch.manual_seed((seed * 1_000_003 + t) % (1 << 62))
            if t in record:  # the model of step t: before its forward (BN statistics) and update
                out[t] = flat_params(model.parameters()).clone()
                if on_record is not None:
                    on_record(t, out[t])
            value = loss(model(X[idx]), y[idx])
            v = float(value.detach())
            if first is None:
                first = (t, v)
            if not torch.isfinite(value) or v > divergence_factor * max(first[1], 1.0):
                model.train(was_training)
                why = (
                    f"the loss is {v:.4g}"
                    if torch.isfinite(value)
                    else f"the loss is {v} (not finite)"
                )
                if torch.isfinite(value):
                    why += f", over {divergence_factor:g}x its {first[1]:.4g} at step {first[0]}"
                raise TrainingDivergedError(
                    f"training diverged at step {t}: {why}; lower the learning rate (lr = {lr:g})"
                )
            if t == steps:
                break
            opt.zero_grad()
            value.backward()
            opt.step()
            if on_step is not None:
                on_step(t + 1)
    model.train(was_training)
    return out


@torch.no_grad()
def evaluate(
    model: torch.nn.Module,
    data: tuple[Tensor, Tensor],
    *,
    loss: Callable[[Tensor, Tensor], Tensor] | None = None,
    batch_size: int = 4096,
) -> tuple[float, float]:
    """Mean loss and accuracy of ``model`` over all of ``data`` (eval mode, batched)."""
    loss = loss or torch.nn.functional.cross_entropy
    X, y = data
    if len(X) == 0:
        raise ValueError("cannot evaluate on an empty dataset")
    was_training = model.training
    model.eval()
    total, correct = 0.0, 0
    for i in range(0, len(X), batch_size):
        out = model(X[i : i + batch_size])
        total += float(loss(out, y[i : i + batch_size])) * len(out)
        correct += int((out.argmax(dim=1) == y[i : i + batch_size]).sum())
    model.train(was_training)
    return total / len(X), correct / len(X)
