"""Prefect flows: train -> sketch (per recorded step) -> analyze -> track; and the CLI.

    from hessian_sketch.flows import pipeline
    summary = pipeline({"problem": "mnist_mini"})   # or a path to a YAML/TOML config

Importing this package sets quiet, offline-safe defaults for Prefect, MLflow and Dask (only
where the environment does not set them already): see ``hessian_sketch.flows._env``.
"""

from hessian_sketch.flows import _env  # noqa: F401  (must run before prefect is imported)
from hessian_sketch.flows.analyze import analyze
from hessian_sketch.flows.config import ConfigError, RunConfig
from hessian_sketch.flows.exact import exact
from hessian_sketch.flows.loading import load_config
from hessian_sketch.flows.pipeline import pipeline
from hessian_sketch.flows.sketch import sketch
from hessian_sketch.flows.train import train

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
