"""Training: plain SGD with snapshots at recorded steps, and the checkpoints of a run.

``sgd`` and ``evaluate`` (``loop``); ``train_recorded`` and the checkpoint files
(``checkpoints``): one atomic ``.npz`` per recorded step, resumable, refused for another run;
``train(TrainRequest(...), directory)`` (``runs``): the same for a run described by its request,
trained by SGD or read from ``state_dict`` files of a model trained elsewhere.
"""

from hessian.exceptions import CheckpointMismatchError, TrainingDivergedError
from hessian.training import checkpoints, runs
from hessian.training.checkpoints import Checkpoint, run_key, train_recorded
from hessian.training.loop import evaluate, sgd
from hessian.training.runs import TrainRequest, load_state_dict, read_state_dict, train

__all__ = [
    "Checkpoint",
    "CheckpointMismatchError",
    "TrainRequest",
    "TrainingDivergedError",
    "checkpoints",
    "evaluate",
    "load_state_dict",
    "read_state_dict",
    "run_key",
    "runs",
    "sgd",
    "train",
    "train_recorded",
]
