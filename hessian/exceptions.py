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
    "DeviceError",
    "DeviceMemoryError",
    "InsecureBindError",
    "NondeterministicOperatorError",
    "ProblemError",
    "StateDictError",
    "StoreMismatchError",
    "TrackingUnavailableError",
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


# --- running it: configuration, tracking, servers ---------------------------------------------
class ConfigError(ValueError):
    """A run configuration that cannot run; the message names the field."""


class TrackingUnavailableError(RuntimeError):
    """The MLflow tracking store or server cannot be reached."""


class InsecureBindError(ValueError):
    """A server would listen beyond this machine without protection."""
