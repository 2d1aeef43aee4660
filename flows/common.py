"""Helpers shared by the flows: the run directory, the task caches, provenance."""

from __future__ import annotations

import platform
import shutil
import subprocess
from pathlib import Path

from hessian._files import atomic_write_text
from hessian_sketch.flows import preflight
from hessian_sketch.flows.layout import Layout
from hessian_sketch.flows.plan import Plan
from hessian_sketch.tasks.uris import redact, unreachable  # noqa: F401  (re-exported)


def checkpoint_id(ck: dict) -> dict:
    """What identifies a checkpoint for the caches (not whether it was trained this run)."""
    return {"step": ck["step"], "path": ck["path"], "sha256": ck["sha256"]}


def cached(task, lay: Layout):
    """The task with its cached results kept in the run directory (``cache/``)."""
    return task.with_options(result_storage=lay.cache)


def prepare(plan: Plan, *, sketches: bool = True) -> Layout:
    """The run directory of an accepted run (``preflight.check``; refused: nothing is written),
    made, with the resolved configuration written in it (atomically) and the sketch stores
    made from stale checkpoints removed (they are measured again)."""
    accepted = preflight.check(plan, sketches=sketches)
    lay = plan.layout
    lay.root.mkdir(parents=True, exist_ok=True)
    text = plan.config.to_yaml()
    if not lay.config.is_file() or lay.config.read_text() != text:
        atomic_write_text(lay.config, text)
    for t in accepted.stale_steps:
        for path in (lay.sketch(t), lay.sketch(t).with_name(lay.sketch(t).name + ".locks")):
            if path.exists():
                shutil.rmtree(path)
    accepted.stale_steps = []  # removed once
    return lay


def git_commit() -> str:
    root = Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True, text=True, timeout=10, check=True,
        )  # fmt: skip
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=10,
        ).stdout.strip()  # fmt: skip
        return out.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for pkg in ("hessian-sketch", "torch", "numpy", "scipy", "zarr", "dask", "prefect", "mlflow"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "not installed"
    return out
