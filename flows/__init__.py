"""Prefect flows: train -> sketch (per recorded step) -> analyze -> track; and the CLI.

    from flows import pipeline
    summary = pipeline({"problem": "mnist_mini"})   # or a path to a YAML/TOML config

Importing this package sets quiet, offline-safe defaults for Prefect, MLflow and Dask (only
where the environment does not set them already): see ``flows._env``.
"""

from flows import _env  # noqa: F401  (must run before prefect is imported)
from flows.analyze import analyze
from flows.config import ConfigError, RunConfig, load_config
from flows.exact import exact
from flows.pipeline import pipeline
from flows.sketch import sketch
from flows.train import train

__all__ = [
    "ConfigError",
    "RunConfig",
    "analyze",
    "exact",
    "load_config",
    "pipeline",
    "sketch",
    "train",
]
