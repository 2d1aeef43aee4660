"""Training checkpoints: the flat parameters at each recorded step, one ``.npz`` file per step.

A checkpoint also holds the model's floating buffers (BatchNorm running statistics, which the
eval-mode Hessian depends on), the training loss and accuracy at that step (over the whole training
set) and the ``run_key``: a hash of everything that defines the training run (problem, data,
learning rate, batch size, seed). Resuming into a directory written by another run is refused.
Files are written to a temporary name and renamed, so a killed run never leaves a half-written
checkpoint that looks complete.

    train_recorded(problem, "runs/x/checkpoints", steps=1000, record_steps=range(0, 1001, 100),
                   lr=0.3, batch_size=500, seed=12345, key=...)

trains only what is missing: it restarts from the latest checkpoint (plain SGD has no state but
the parameters and the batch order, which ``training.sgd`` replays from the seed).
``runs.train(TrainRequest(...), directory)`` does the same for a run described by its request:
it loads the problem and derives the run key itself.

A model trained elsewhere comes in as a ``state_dict`` file per step (``torch.save(
model.state_dict(), path)``): ``runs.from_state_dicts`` (or a ``TrainRequest`` with
``state_dicts``) writes the same checkpoints from them instead of training, so every later stage
is unchanged.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from hessian._files import atomic_savez
from hessian.exceptions import CheckpointMismatchError, TrainingDivergedError
from hessian.operators.params import flat_buffers, load_flat_buffers, load_flat_params
from hessian.training import loop


@dataclass(frozen=True)
class Checkpoint:
    step: int
    params: np.ndarray
    loss: float
    accuracy: float
    run_key: str
    path: Path
    buffers: np.ndarray  # floating model buffers (BatchNorm statistics); empty for most models
    settings: dict = field(default_factory=dict)  # what the run key hashes (empty: older files)


log = logging.getLogger(__name__)


def _checksum(step, params, buffers, loss, accuracy, key) -> str:
    h = hashlib.sha256(f"{int(step)}|{float(loss)!r}|{float(accuracy)!r}|{key}".encode())
    h.update(np.ascontiguousarray(params).tobytes())
    h.update(np.ascontiguousarray(buffers, dtype=np.float64).tobytes())
    return h.hexdigest()


def run_key(**settings) -> str:
    """A short stable hash of the settings that define a training run."""
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def path_for(directory: str | Path, step: int) -> Path:
    return Path(directory) / f"step_{int(step):06d}.npz"


def save(
    directory: str | Path, step: int, params, *, loss: float, accuracy: float, key: str,
    buffers=None, settings: dict | None = None,
) -> Path:  # fmt: skip
    """Write one checkpoint atomically (temporary file, then rename), with a SHA-256 of its
    content that ``load`` verifies; ``settings``: what the run key hashes (kept to say what
    changed when a later run's key differs)."""
    params = np.asarray(params)
    buffers = np.zeros(0) if buffers is None else np.asarray(buffers, dtype=np.float64)
    return atomic_savez(
        path_for(directory, step),
        params=params,
        step=step,
        loss=loss,
        accuracy=accuracy,
        run_key=np.array(key),
        buffers=buffers,
        settings=np.array(json.dumps(settings or {}, sort_keys=True, default=str)),
        checksum=np.array(_checksum(step, params, buffers, loss, accuracy, key)),
    )


def load(path: str | Path) -> Checkpoint:
    """Read a checkpoint and verify its checksum; a truncated, damaged or foreign file raises
    ``ValueError`` naming the path."""
    path = Path(path)
    try:
        with np.load(path) as z:
            ck = Checkpoint(
                int(z["step"]),
                np.array(z["params"]),
                float(z["loss"]),
                float(z["accuracy"]),
                str(z["run_key"]),
                path,
                np.array(z["buffers"]) if "buffers" in z else np.zeros(0),
                json.loads(str(z["settings"])) if "settings" in z else {},
            )
            stored = str(z["checksum"]) if "checksum" in z else None
    except FileNotFoundError:
        raise
    except Exception as e:
        reason = " ".join(str(e).split()) or type(e).__name__
        raise ValueError(f"{path} is not a readable checkpoint ({reason})") from e
    if stored is not None:
        mine = _checksum(ck.step, ck.params, ck.buffers, ck.loss, ck.accuracy, ck.run_key)
        if mine != stored:
            raise ValueError(f"{path} is damaged (its content does not match its checksum)")
    if not np.isfinite(ck.params).all():
        raise ValueError(f"{path} holds non-finite parameters")
    return ck


#: run-key settings that name inputs by content: a change there makes the checkpoints stale
#: (trained again), not foreign (refused)
CONTENT_KEYS = ("data_sha256",)


def _changed(old: dict, new: dict) -> dict:
    keys = set(old) | set(new)
    return {k: (old.get(k), new.get(k)) for k in sorted(keys) if old.get(k) != new.get(k)}


def existing(
    directory: str | Path,
    key: str,
    settings: dict | None = None,
    *,
    legacy_key: str | None = None,
    on_problem: Callable[[str], None] | None = None,
    drop_stale: bool = False,
) -> dict[int, Checkpoint]:
    """The intact checkpoints of run ``key`` in ``directory`` (step -> Checkpoint).

    Args:
        settings: what ``key`` hashes: a checkpoint whose recorded settings differ from these
            only in the content of an input (``CONTENT_KEYS``, e.g. a data file replaced in place)
            is stale: reported through ``on_problem`` and, with ``drop_stale``, deleted (it is
            trained again).
        legacy_key: the key older versions gave this run (before content fingerprints).
        on_problem: called with one line for every damaged or stale checkpoint.

    Raises ``CheckpointMismatchError`` if a checkpoint there belongs to another run. Damaged
    files are reported and left out (they are written again).
    """
    say = on_problem or log.warning
    out = {}
    stale: list[tuple[Path, dict]] = []
    for path in sorted(Path(directory).glob("step_*.npz")):
        try:
            ck = load(path)
        except ValueError as e:
            say(f"{e}: it is not used, and is trained again")
            continue
        diff = _verdict(path, ck.run_key, ck.settings, key, settings or {}, legacy_key)
        if diff:
            stale.append((path, diff))
            continue
        out[ck.step] = ck
    if stale:
        (_, diff) = stale[0]
        changes = ", ".join(
            f"{k} {str(a)[:12]}... -> {str(b)[:12]}..." for k, (a, b) in diff.items()
        )
        source = (settings or {}).get("data")
        say(
            f"the data {source} changed since the checkpoints in {directory} were written "
            f"({changes}): the {len(stale)} checkpoints "
            f"{sorted(int(p.stem.split('_')[1]) for p, _ in stale)} are stale and are trained "
            "again (and the sketches made from them measured again)"
        )
        if drop_stale:
            for p, _ in stale:
                p.unlink(missing_ok=True)
    return out


def check_directory(
    directory: str | Path, key: str, settings: dict, *, legacy_key: str | None = None
) -> list[int]:
    """Check, before training, that the checkpoints in ``directory`` belong to the run ``key``;
    only their headers are read (damaged files are left to ``existing``).

    Returns:
        the steps whose checkpoints are stale (an input's content changed: ``CONTENT_KEYS``).

    Raises:
        CheckpointMismatchError: a checkpoint of another run, what differs named.
    """
    stale = []
    for path in sorted(Path(directory).glob("step_*.npz")):
        try:
            with np.load(path) as z:
                their_key, step = str(z["run_key"]), int(z["step"])
                theirs = json.loads(str(z["settings"])) if "settings" in z else {}
        except Exception:
            continue
        if _verdict(path, their_key, theirs, key, settings, legacy_key):
            stale.append(step)
    return sorted(stale)


def _verdict(path, their_key, theirs, key, settings, legacy_key) -> dict:
    """{} for a checkpoint of this run; what changed for a stale one (an input's content);
    raises ``CheckpointMismatchError`` for one of another run."""
    if their_key == key or (legacy_key and their_key == legacy_key and not theirs):
        return {}
    diff = _changed(theirs, settings) if theirs else None
    if diff and set(diff) <= set(CONTENT_KEYS):
        return diff
    what = (
        "; ".join(f"{k}: {a!r} there, {b!r} now" for k, (a, b) in diff.items())
        if diff
        else f"run key {their_key}, this run {key}"
    )
    raise CheckpointMismatchError(
        f"{path} was written by another training run ({what}): use another run directory or "
        "delete the old checkpoints"
    )


def train_recorded(
    problem,
    directory: str | Path,
    *,
    steps: int,
    record_steps: Iterable[int],
    lr: float,
    batch_size: int,
    seed: int,
    key: str,
    on_record: Callable[[Checkpoint], None] | None = None,
    progress: bool = False,
    settings: dict | None = None,
    legacy_key: str | None = None,
    on_problem: Callable[[str], None] | None = None,
) -> dict[int, Checkpoint]:
    """Train ``problem`` with plain SGD, checkpointing every recorded step; resume what exists.

    Args:
        problem: a ``hessian.problems.Problem`` (its model is trained in place).
        directory: where the checkpoints live.
        key: the run key (``run_key(...)`` of the settings); foreign checkpoints are refused.
        on_record: called with each checkpoint written by this call (not the reused ones).
        progress: show a progress bar of the SGD steps (rich; plain lines when not a terminal).
        settings, legacy_key, on_problem: as in ``existing`` (stale checkpoints are trained
            again, damaged ones reported and written again).

    Returns:
        {step: Checkpoint} for every recorded step.

    Raises:
        TrainingDivergedError: the loss blew up at the step named; the checkpoints before it
            are kept (named in the message).
    """
    record = sorted(set(int(t) for t in record_steps))
    if not record:
        raise ValueError("record_steps is empty: nothing to train for")
    if record[0] < 0 or record[-1] > steps:
        raise ValueError(f"record steps must lie in 0..{steps}, got {record[0]}..{record[-1]}")
    have = existing(
        directory, key, settings, legacy_key=legacy_key, on_problem=on_problem, drop_stale=True
    )
    missing = [t for t in record if t not in have]
    if not missing:
        return {t: have[t] for t in record}
    # restart from the latest checkpoint before the first missing step (or from the start)
    earlier = [t for t in have if t < missing[0]]
    start = max(earlier) if earlier else 0
    if earlier:  # else: the problem's own seeded initialisation is step 0
        load_flat_params(problem.model, have[start].params)
        if have[start].buffers.size:
            load_flat_buffers(problem.model, have[start].buffers)

    def write(step: int, flat: torch.Tensor) -> None:
        if step in have:
            return
        loss, acc = loop.evaluate(problem.model, problem.train_data, loss=problem.loss)
        ck_path = save(
            directory, step, flat.detach().cpu().numpy(), loss=loss, accuracy=acc, key=key,
            buffers=flat_buffers(problem.model), settings=settings,
        )  # fmt: skip
        have[step] = load(ck_path)
        if on_record is not None:
            on_record(have[step])

    from rich.progress import Progress

    with Progress(disable=not progress, transient=False) as bar:
        task = bar.add_task("training", total=missing[-1], completed=start)
        try:
            loop.sgd(
                problem.model,
                problem.train_data,
                steps=missing[-1],
                lr=lr,
                batch_size=batch_size,
                seed=seed,
                record_steps=[t for t in record if start <= t <= missing[-1]],
                loss=problem.loss,
                on_record=write,
                start_step=start,
                on_step=lambda t: bar.update(task, completed=t),
            )
        except TrainingDivergedError as e:
            kept = sorted(have)
            where = (
                f"the checkpoints of steps {kept} are kept in {directory}" if kept
                else "no checkpoint was written"
            )  # fmt: skip
            raise TrainingDivergedError(f"{e}; {where}") from None
    return {t: have[t] for t in record}
