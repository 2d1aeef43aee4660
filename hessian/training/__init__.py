"""Training: plain SGD with snapshots at recorded steps, and the checkpoints of a run.

``sgd`` and ``evaluate`` (``loop``); ``train_recorded`` and the checkpoint files
(``checkpoints``): one atomic ``.npz`` per recorded step, resumable, refused for another run;
``train(TrainRequest(...), directory)``: the same for a run described by its request.
"""

from hessian.exceptions import CheckpointMismatchError, TrainingDivergedError
from hessian.training import checkpoints
from hessian.training.checkpoints import (
    Checkpoint,
    TrainRequest,
    run_key,
    train,
    train_recorded,
)
from hessian.training.loop import evaluate, sgd

__all__ = [
    "Checkpoint",
    "CheckpointMismatchError",
    "TrainRequest",
    "TrainingDivergedError",
    "checkpoints",
    "evaluate",
    "run_key",
    "sgd",
    "train",
    "train_recorded",
]
