"""Every exception the project raises for a known failure, in one place.

Each is also importable where it is raised (``hessian.NondeterministicOperatorError``,
``hessian.out_of_core.StoreMismatchError``, ``hessian_sketch.flows.ConfigError``, ...); the
command line turns them into one line and an exit code (2: input, 3: a server is down).
"""

from __future__ import annotations

__all__ = [
    "CheckpointMismatchError",
    "ConfigError",
    "CorruptBlockError",
    "CorruptSolutionError",
    "DataError",
    "DeviceError",
    "DeviceMemoryError",
    "InsecureBindError",
    "InsufficientSpaceError",
    "NondeterministicOperatorError",
    "ProblemError",
    "StateDictError",
    "StoreMismatchError",
    "TrackingUnavailableError",
    "TrainingDivergedError",
]


# --- the library ---------------------------------------------------------------------------
class NondeterministicOperatorError(ValueError):
    """Two applications of a curvature operator to the same vector gave different results."""


class StoreMismatchError(ValueError):
    """The sketch store holds a sketch of another operator or with other settings."""


class CorruptBlockError(RuntimeError):
    """Stored data (measurement blocks, an accurate solver's basis) that cannot be read back
    intact: a chunk failed its checksum or was never written."""

    def __init__(self, blocks, message: str | None = None):
        self.blocks = sorted(int(b) for b in blocks)
        super().__init__(message or f"measurement blocks {self.blocks} are corrupted or missing")


class CorruptSolutionError(RuntimeError):
    """A sketch store's solution (eigenvalues, transform) fails its checksum or is missing; it is
    solved again from the measured sketches."""


class CheckpointMismatchError(ValueError):
    """The checkpoint directory belongs to another training run."""


class ProblemError(ValueError):
    """A user problem that cannot be built: its import path does not import, its factory raises
    or does not return a ``UserProblem``; the message names the path (and the worker)."""


class StateDictError(ValueError):
    """A user's ``state_dict`` file that does not fit the problem's model (names or shapes)."""


class DeviceError(ValueError):
    """A device that this machine does not have (``cuda`` without CUDA, ``cuda:3`` of two)."""


class DeviceMemoryError(MemoryError):
    """A block of products that does not fit in the device's memory; the message names the
    block size (vectors per pass) and the data batch size, the two knobs of peak memory."""


class DataError(ValueError):
    """A data file that cannot define the problem (unreadable, wrong shapes or dtypes, non-finite
    values, labels out of range, too few samples per class); the message names the file."""


class TrainingDivergedError(FloatingPointError):
    """SGD produced a non-finite or exploding loss; the checkpoints before it are kept."""


class InsufficientSpaceError(OSError):
    """The filesystem of a store has less free space than the work needs (both named)."""


# --- running it: configuration, tracking, servers ---------------------------------------------
class ConfigError(ValueError):
    """A run configuration that cannot run; the message names the field."""


class TrackingUnavailableError(RuntimeError):
    """The MLflow tracking store or server cannot be reached."""


class InsecureBindError(ValueError):
    """A server would listen beyond this machine without protection."""


#: the failures that are the input's fault (the command line's exit code 2): retrying them
#: fails the same way
INPUT_ERRORS = (
    ConfigError, DataError, StoreMismatchError, CheckpointMismatchError, InsufficientSpaceError,
    TrainingDivergedError, NondeterministicOperatorError, CorruptBlockError,
    CorruptSolutionError, FileNotFoundError, NotADirectoryError, IsADirectoryError,
    PermissionError, ProblemError, StateDictError, DeviceError, DeviceMemoryError,
)  # fmt: skip
