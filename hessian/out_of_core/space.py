"""Disk space, checked before a sketch or an accurate solve starts: what its stores need (their
settings' ``nbytes``: ``SketchSettings``, ``AccurateSettings``; a store already there needs only
what it lacks) against what is free on their filesystems."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from hessian.defaults import SPACE_MARGIN
from hessian.exceptions import InsufficientSpaceError
from hessian.out_of_core.store import _local_path

__all__ = ["check_space"]


def _existing_parent(path: Path) -> Path:
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_space(needs: list[tuple[str, object]]) -> None:
    """Refuse, before anything is written, stores that would not fit on their filesystems:
    ``needs`` is (url, settings with ``nbytes``) per store; a local store already there needs only
    what it lacks (nothing, when it is complete). Remote stores are not checked.

    Raises:
        InsufficientSpaceError: naming the bytes needed and the bytes free.
    """
    by_fs: dict[int, list] = {}
    for url, st in needs:
        path = _local_path(url)
        if path is None:
            continue
        need = st.nbytes
        if path.exists():
            need = max(0, need - _du(path))
        base = _existing_parent(path)
        by_fs.setdefault(os.stat(base).st_dev, []).append((base, need, url))
    for items in by_fs.values():
        need = sum(n for _, n, _ in items)
        if not need:
            continue
        base = items[0][0]
        free = shutil.disk_usage(base).free
        if need + SPACE_MARGIN > free:
            big = max(items, key=lambda item: item[1])
            what = items[0][2] if len(items) == 1 else (
                f"{len(items)} stores (the largest: {big[2]}, {_size(big[1])})")  # fmt: skip
            raise InsufficientSpaceError(
                f"not enough disk space for {what}: needs {_size(need)} ({need:,} bytes), "
                f"{_size(free)} ({free:,} bytes) free on the filesystem of {base}; free space, "
                "or choose a smaller sketch (sketch.k, sketch.s; sketch.n_max in accurate mode) or "
                "another run_dir"
            )


def _du(path: Path) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.stat(os.path.join(root, f)).st_size
            except OSError:
                pass
    return total


def _size(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"
