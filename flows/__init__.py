"""Prefect flows: train -> sketch (per recorded step) -> analyze -> track; and the CLI.

    from hessian_sketch.flows import pipeline
    summary = pipeline({"problem": "mnist_mini"})   # or a path to a YAML/TOML config

Importing this package sets quiet, offline-safe defaults for Prefect, MLflow and Dask (only
where the environment does not set them already): see ``hessian_sketch.flows._env``. The flows
are imported when first used, so that the command line refuses a bad configuration without
importing Prefect, Dask and MLflow first.
"""

import importlib
import sys
import types

from hessian_sketch.flows import _env  # noqa: F401  (must run before prefect is imported)

#: name -> the module defining it; the flows share their names with their modules
_WHERE = {
    "ConfigError": "config",
    "RunConfig": "config",
    "analyze": "analyze",
    "exact": "exact",
    "load_config": "loading",
    "pipeline": "pipeline",
    "sketch": "sketch",
    "train": "train",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(f"{__name__}.{_WHERE[name]}")
    return getattr(module, name)


class _Package(types.ModuleType):
    """Keeps ``hessian_sketch.flows.pipeline`` (and the other flows) the flow, not its module,
    when the module is imported: the import system sets the attribute after loading it."""

    def __setattr__(self, name, value):
        if isinstance(value, types.ModuleType) and _WHERE.get(name) == name:
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
