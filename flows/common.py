"""Helpers shared by the flows: configuration from any form, the operator spec, provenance."""

from __future__ import annotations

import copy
import platform
import subprocess
from pathlib import Path

import yaml
from pydantic import ValidationError

from flows.config import ConfigError, RunConfig, format_errors, load_config, set_dotted
from flows.layout import Layout
from tasks.tracking import redact, unreachable  # noqa: F401  (re-exported)


def resolve(config: dict | str | Path | RunConfig | None, overrides=()) -> RunConfig:
    """A resolved ``RunConfig`` from a dict, a file path, a RunConfig or None (the defaults);
    ``overrides`` (``section.field=value``) apply on top."""
    if isinstance(config, RunConfig):
        config = config.model_dump(mode="json")
    if not isinstance(config, dict):
        return load_config(config, list(overrides))
    tree = copy.deepcopy(config)
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"override {item!r}: expected section.field=value")
        set_dotted(tree, key.strip(), yaml.safe_load(value))
    try:
        return RunConfig.model_validate(tree).resolve()
    except ValidationError as e:
        raise ConfigError(format_errors(e, "config")) from None


def op_dict(cfg: RunConfig) -> dict:
    """The ``hessian.operators.OperatorSpec`` fields of a run (workers rebuild the operator)."""
    return {
        "problem": cfg.problem,
        "data": cfg.data,
        "n_hessian": cfg.n_hessian,
        "kind": cfg.sketch.kind,
        "dtype": cfg.sketch.dtype,
        "batch_size": cfg.sketch.batch_size,
        "block_size": cfg.sketch.block_size,
        "threads": cfg.dask.threads,
        "seed": cfg.train.seed,
        "n_train": cfg.train.n_train,
    }


def checkpoint_id(ck: dict) -> dict:
    """What identifies a checkpoint for the caches (not whether it was trained this run)."""
    return {"step": ck["step"], "path": ck["path"], "sha256": ck["sha256"]}


def cached(task, lay: Layout):
    """The task with its cached results kept in the run directory (``cache/``)."""
    return task.with_options(result_storage=lay.cache)


def prepare(cfg: RunConfig) -> Layout:
    lay = Layout.of(cfg.run_dir)
    lay.root.mkdir(parents=True, exist_ok=True)
    lay.config.write_text(cfg.to_yaml())
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
