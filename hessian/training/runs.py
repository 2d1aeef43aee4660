"""A training run described by its request: plain SGD from the problem's seeded initialisation,
or a model trained elsewhere brought in as ``state_dict`` files, written as the same checkpoints
(``hessian.training.checkpoints``) so every later stage is unchanged.

    cks = train(TrainRequest("mnist_mini", steps=1000, record_steps=(0, 1000), lr=0.3,
                             batch_size=500, seed=12345), "runs/x/checkpoints")
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from hessian import problems
from hessian._files import content_sha256
from hessian.exceptions import StateDictError
from hessian.operators.params import flat_buffers
from hessian.training import loop
from hessian.training.checkpoints import (
    Checkpoint,
    existing,
    load,
    run_key,
    save,
    train_recorded,
)


@dataclass(frozen=True)
class TrainRequest:
    """What a training run is: the problem and its data, and plain SGD's settings.

    Attributes:
        problem, data, n_train, n_hessian: as in ``hessian.problems.load``.
        steps: SGD updates; ``record_steps``: the steps checkpointed (0..steps).
        lr, batch_size, seed: the run (the seed also initialises the model).
        state_dicts: ``(step, path)`` pairs of ``state_dict`` files of a model trained
            elsewhere: their parameters are the checkpoints of those steps, and nothing is
            trained (empty: SGD).
    """

    problem: str
    steps: int
    record_steps: tuple[int, ...]
    lr: float
    batch_size: int
    seed: int
    data: str | None = None
    n_train: int | None = None
    n_hessian: int | None = None
    state_dicts: tuple[tuple[int, str], ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "record_steps", tuple(int(t) for t in self.record_steps))
        pairs = tuple(sorted((int(t), str(p)) for t, p in dict(self.state_dicts).items()))
        object.__setattr__(self, "state_dicts", pairs)

    def load_problem(self) -> problems.Problem:
        """The problem at its seeded initialisation."""
        return problems.load(
            self.problem, self.data, n_train=self.n_train, n_hessian=self.n_hessian,
            seed=self.seed,
        )  # fmt: skip

    def key_settings(self, source: str, n: int, D: int) -> dict:
        """What the run key hashes: the settings, and the content of a data file or directory
        (its SHA-256, hashed once per size and mtime), so a file replaced in place makes the
        checkpoints stale."""
        out = {"problem": self.problem, "data": source, "n": int(n), "D": int(D),
               "lr": self.lr, "batch_size": self.batch_size, "seed": self.seed}  # fmt: skip
        if source not in ("digits", "synthetic", "tensors") and Path(source).exists():
            out["data_sha256"] = content_sha256(source)
        return out

    def key(self, source: str, n: int, D: int) -> str:
        """The key of this run's checkpoints, from its data source, number of training samples
        and D (``Problem.data_source``, ``len(train_data[1])``, ``Problem.D``)."""
        if self.state_dicts:  # the files themselves define the run
            return run_key(
                problem=self.problem, data=source, D=int(D),
                state_dicts=[(t, content_sha256(p)) for t, p in self.state_dicts],
            )  # fmt: skip
        return run_key(**self.key_settings(source, n, D))

    def legacy(self, source: str, n: int, D: int) -> str | None:
        """The key versions before content fingerprints gave this run (None: there was none)."""
        if self.state_dicts:
            return None
        settings = self.key_settings(source, n, D)
        settings.pop("data_sha256", None)
        return run_key(**settings)

    def run_key(self, problem: problems.Problem) -> str:
        """The key of this run's checkpoints (``problem``: as ``load_problem`` gives it)."""
        return self.key(*_described(problem))

    def legacy_key(self, problem: problems.Problem) -> str | None:
        """The key versions before content fingerprints gave this run."""
        return self.legacy(*_described(problem))


def _described(problem: problems.Problem) -> tuple[str, int, int]:
    return problem.data_source, len(problem.train_data[1]), problem.D


def train(
    request: TrainRequest,
    directory: str | Path,
    *,
    on_record: Callable[[Checkpoint], None] | None = None,
    progress: bool = False,
    on_problem: Callable[[str], None] | None = None,
) -> dict[int, Checkpoint]:
    """``train_recorded`` for the run of ``request``: {step: Checkpoint} for every recorded step;
    ``on_record`` is called with each checkpoint this call writes, ``on_problem`` with a line
    for each damaged or stale checkpoint (trained again)."""
    problem = request.load_problem()
    if request.state_dicts:
        return from_state_dicts(
            problem, directory, dict(request.state_dicts), key=request.run_key(problem),
            on_record=on_record,
        )  # fmt: skip
    return train_recorded(
        problem, directory, steps=request.steps, record_steps=request.record_steps,
        lr=request.lr, batch_size=request.batch_size, seed=request.seed,
        key=request.run_key(problem), on_record=on_record, progress=progress,
        settings=request.key_settings(*_described(problem)),
        legacy_key=request.legacy_key(problem), on_problem=on_problem,
    )  # fmt: skip


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensors of a ``state_dict`` file (``torch.save(model.state_dict(), path)``; also a
    dict holding one under ``state_dict``, ``model_state_dict`` or ``model``; a ``module.``
    prefix of DistributedDataParallel is dropped). Read with ``weights_only=True``.

    Raises:
        FileNotFoundError: no such file. StateDictError: not a state_dict.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such state_dict file: {path}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise StateDictError(f"{path} is not a readable state_dict file: {e}") from None
    for key in ("state_dict", "model_state_dict", "model"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise StateDictError(f"{path} does not hold a state_dict (a dict of tensors)")
    if obj and all(k.startswith("module.") for k in obj):
        obj = {k.removeprefix("module."): v for k, v in obj.items()}
    return obj


def load_state_dict(model: torch.nn.Module, path: str | Path, *, what: str = "the model") -> None:
    """Copy the parameters and buffers of a ``state_dict`` file into ``model``.

    Raises:
        StateDictError: names and shapes that do not match the model, all in one message.
    """
    sd = read_state_dict(path)
    want = model.state_dict()
    missing = [k for k in want if k not in sd]
    unexpected = [k for k in sd if k not in want]
    shapes = [
        f"{k}: file {tuple(sd[k].shape)}, model {tuple(want[k].shape)}"
        for k in want
        if k in sd and sd[k].shape != want[k].shape
    ]
    if missing or unexpected or shapes:
        parts = [f"shapes differ ({'; '.join(shapes)})"] if shapes else []
        parts += [f"missing {missing}"] if missing else []
        parts += [f"unexpected {unexpected}"] if unexpected else []
        raise StateDictError(f"{path} does not fit {what}: {', '.join(parts)}")
    with torch.no_grad():
        model.load_state_dict({k: v.to(want[k].dtype) for k, v in sd.items()})


def from_state_dicts(
    problem,
    directory: str | Path,
    state_dicts: dict[int, str | Path],
    *,
    key: str,
    on_record: Callable[[Checkpoint], None] | None = None,
) -> dict[int, Checkpoint]:
    """Checkpoints of a model trained elsewhere: step -> ``state_dict`` file, each loaded into
    ``problem.model``, evaluated on the training data and written as the checkpoint of its step
    (existing ones of the same files are reused).

    Raises:
        StateDictError: a file whose names or shapes do not fit the problem's model.
    """
    have = existing(directory, key)
    for step, path in sorted(state_dicts.items()):
        if step in have:
            continue
        load_state_dict(problem.model, path, what=f"the model of problem {problem.name}")
        loss, acc = loop.evaluate(problem.model, problem.train_data, loss=problem.loss)
        ck_path = save(
            directory, step, torch.nn.utils.parameters_to_vector(problem.model.parameters())
            .detach().cpu().numpy(), loss=loss, accuracy=acc, key=key,
            buffers=flat_buffers(problem.model),
        )  # fmt: skip
        have[step] = load(ck_path)
        if on_record is not None:
            on_record(have[step])
    return {t: have[t] for t in sorted(state_dicts)}
