"""Files the library writes whole: written to a temporary name beside the target, flushed to
disk, then renamed, so that a killed run never leaves a half-written file that looks complete."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def atomic_savez(path: str | Path, **arrays) -> Path:
    """``np.savez(path, **arrays)`` atomically (parent directories are made); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path
