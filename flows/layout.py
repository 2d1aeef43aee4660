"""Where a run's files live: one directory per run (``runs/<name>`` by default).

config.yaml                 the resolved configuration
checkpoints/step_*.npz      parameters (and train loss/accuracy) at each recorded step
sketches/step_*.zarr        one sketch store per step (measurements, solution, certificate)
accurate/step_*.zarr        the accurate solver's basis, certified solution (sketch.mode: accurate)
exact/step_*.npz            dense exact eigenpairs (small problems)
plots/*.png                 figures
cache/                      Prefect results of the cached tasks
summary.json                everything a reader needs, per step
mlflow.db, mlartifacts/     the default MLflow store
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Layout:
    root: Path

    @classmethod
    def of(cls, run_dir: str | Path) -> Layout:
        return cls(Path(run_dir).resolve())

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    def sketch(self, step: int) -> Path:
        return self.root / "sketches" / f"step_{step:06d}.zarr"

    def accurate(self, step: int) -> Path:
        return self.root / "accurate" / f"step_{step:06d}.zarr"

    def exact(self, step: int) -> Path:
        return self.root / "exact" / f"step_{step:06d}.npz"

    @property
    def plots(self) -> Path:
        return self.root / "plots"

    @property
    def cache(self) -> Path:
        return self.root / "cache"

    @property
    def summary(self) -> Path:
        return self.root / "summary.json"

    @property
    def config(self) -> Path:
        return self.root / "config.yaml"

    @property
    def mlartifacts(self) -> Path:
        return self.root / "mlartifacts"
