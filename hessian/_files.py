"""Files the library writes whole: written to a temporary name beside the target, flushed to
disk, then renamed, so that a killed run never leaves a half-written file that looks complete."""

from __future__ import annotations

import hashlib
import json
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


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temporary file, fsync, rename); returns the path.

    A reader sees the old file or the new one, never a truncated one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """``atomic_write_bytes`` of UTF-8 text."""
    return atomic_write_bytes(path, text.encode("utf-8"))


# --- content fingerprints ----------------------------------------------------------------------
_HASHES: dict[str, tuple[int, int, str]] = {}


def _hash_cache_file() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "hessian-sketch" / "sha256.json"


def _load_hash_cache() -> None:
    if _HASHES:
        return
    try:
        data = json.loads(_hash_cache_file().read_text())
        _HASHES.update({k: tuple(v) for k, v in data.items()})
    except (OSError, ValueError, TypeError):
        pass


def _save_hash_cache() -> None:
    try:
        atomic_write_text(_hash_cache_file(), json.dumps(_HASHES))
    except OSError:
        pass  # a read-only home: the hashes are recomputed next time


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's content, hashed once: cached (in memory and in
    ``~/.cache/hessian-sketch/sha256.json``) under its path, size and modification time, so a file
    replaced or edited in place is hashed again."""
    path = Path(path).resolve()
    st = path.stat()
    key = str(path)
    _load_hash_cache()
    hit = _HASHES.get(key)
    if hit is not None and hit[0] == st.st_size and hit[1] == st.st_mtime_ns:
        return hit[2]
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    _HASHES[key] = (st.st_size, st.st_mtime_ns, h.hexdigest())
    _save_hash_cache()
    return h.hexdigest()


def content_sha256(path: str | Path) -> str:
    """``file_sha256`` of a file; of a directory, a hash of its files' relative names and content
    hashes (hidden files left out)."""
    path = Path(path)
    if path.is_file():
        return file_sha256(path)
    h = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        rel = f.relative_to(path)
        if any(part.startswith(".") for part in rel.parts):
            continue
        h.update(f"{rel.as_posix()}\0{file_sha256(f)}\n".encode())
    return h.hexdigest()
