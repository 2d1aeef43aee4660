"""The cache policy of the expensive tasks: their inputs and their code."""

from __future__ import annotations

import hashlib
from pathlib import Path

from prefect.cache_policies import INPUTS, TASK_SOURCE

import hessian
from hessian._files import file_sha256  # noqa: F401  (hashed once, cached by size and mtime)

CACHED = INPUTS + TASK_SOURCE


def _library_version() -> str:
    """The library's version and a hash of its sources: a fix in ``hessian`` invalidates the
    cached results (TASK_SOURCE covers only the task bodies)."""
    h = hashlib.sha256(hessian.__version__.encode())
    for path in sorted(Path(hessian.__file__).parent.rglob("*.py")):
        h.update(path.read_bytes())
    return f"{hessian.__version__}+{h.hexdigest()[:12]}"


LIBRARY_VERSION = _library_version()
