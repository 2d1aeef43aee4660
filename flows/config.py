"""One validated configuration per run (YAML or TOML), with defaults per problem.

    problem: mnist_mini          # everything else is optional
    train: {record_steps: "0:1000:100"}
    sketch: {k: 355, s: 710, noise: sparse}
    exact: {steps: all}          # the dense reference at every step (small problems)

Unset fields take the problem's paper settings (``hessian.problems.PROBLEMS``); ``resolve()``
fills them in and checks the combination. A bad file gets one ``ConfigError`` naming the field.
A run validates its configuration once (``hessian_sketch.flows.loading``: ``load_config`` for a
file, ``resolve`` for any form); ``hessian_sketch.flows.plan.Plan`` then turns it into the typed
request of each stage.

Renamed fields keep working under their old names (``sections.RENAMED``): ``sketch.block_size``
is now ``sketch.vectors_per_pass`` (vectors per pass over the data); the store's job width has
its own name, ``sketch.vectors_per_block`` (default: ``vectors_per_pass``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field, field_validator, model_validator

from hessian import defaults, problems
from hessian.devices import DEVICES
from hessian.devices import check as check_device
from hessian.devices import resolve as resolve_device
from hessian.exceptions import ConfigError, DeviceError
from hessian.solvers.certificates import RESIDUAL_TOL, SUBSPACE_TOL
from hessian_sketch.flows.sections import Section, renamed_fields

#: the largest seed accepted (torch's generators take 64-bit seeds; numpy's any)
MAX_SEED = 2**63 - 1
#: tracking URI schemes MLflow can use here; anything else is refused before a run starts
TRACKING_SCHEMES = ("http", "https", "sqlite", "file", "postgresql", "mysql", "mssql",
                    "databricks")  # fmt: skip


class TrainConfig(Section):
    steps: int | None = Field(None, ge=0, description="SGD steps (default: last record step)")
    record_steps: list[int] | None = Field(
        None, description='steps to sketch: a list, or "start:stop:every" (stop included)'
    )
    lr: float | None = Field(None, gt=0, allow_inf_nan=False)
    batch_size: int | None = Field(None, ge=1)
    seed: int | None = Field(None, ge=0, le=MAX_SEED)
    n_train: int | None = Field(None, ge=1, description="use the first n training samples")

    @field_validator("record_steps", mode="before")
    @classmethod
    def _range(cls, v):
        if isinstance(v, str):
            try:
                a, b, c = (int(x) for x in v.split(":"))
            except ValueError:
                raise ValueError(f'expected "start:stop:every" with integers, got {v!r}') from None
            if c < 1 or b < a:
                raise ValueError(f"need every >= 1 and stop >= start, got {v!r}")
            return list(range(a, b + 1, c))
        return v

    @field_validator("record_steps")
    @classmethod
    def _steps(cls, v):
        if v is not None:
            if not v:
                raise ValueError("needs at least one step")
            if min(v) < 0:
                raise ValueError("steps must be >= 0")
            if len(set(v)) != len(v):
                raise ValueError("steps must not repeat")
            v = sorted(v)
        return v


class SketchConfig(Section):
    k: int | None = Field(None, ge=1, description="eigenpairs (default: the problem's)")
    s: int | None = Field(None, ge=1, description="HVPs, the inner sketch size (default 2k)")
    oversample: int | None = Field(
        None, ge=0, description="extra outer columns (default min(k // 4, s - k))"
    )
    noise: Literal["gaussian", "rademacher", "ssrft", "sparse"] = "sparse"
    seed: int = Field(0, ge=0, le=MAX_SEED)
    kind: Literal["hessian", "ggn"] = "hessian"
    vectors_per_pass: int = Field(
        defaults.VECTORS_PER_PASS, ge=1,
        description="vectors multiplied per pass over the data (formerly block_size)",
    )  # fmt: skip
    vectors_per_block: int | None = Field(
        None, ge=1, description="test vectors per measurement block: one Dask job each, and the "
        "column width of the store's chunks (default: vectors_per_pass)",
    )  # fmt: skip
    batch_size: int | None = Field(None, ge=1, description="samples per forward pass (all)")
    dtype: Literal["float32", "float64"] = "float32"
    device: str = Field(
        "auto", description=f"where the products run: {DEVICES} (auto: CUDA where torch sees it)"
    )
    tf32: bool = Field(False, description="allow TF32 in float32 products on CUDA")
    chunk_rows: int = Field(
        defaults.CHUNK_ROWS, ge=defaults.TILE, description=f"Zarr row chunk (n x {defaults.TILE:,})"
    )
    probes: int = Field(
        defaults.APOSTERIORI_PROBES, ge=2, description="probes of the a-posteriori error estimate"
    )
    mode: Literal["single-pass", "accurate"] = Field(
        "single-pass", description="single-pass: the sketch (2k products, certified on a sample); "
        "accurate: then thick-restart block Lanczos from it until the top-k are certified",
    )  # fmt: skip
    tol: float = Field(
        RESIDUAL_TOL, gt=0, lt=1, description="relative residual a certified eigenpair reaches"
    )
    subspace_tol: float = Field(
        SUBSPACE_TOL, gt=0, lt=1, description="1 - overlap bound a certified top-k subspace reaches"
    )
    block: int | None = Field(
        None,
        ge=1,
        description="accurate mode: products per Lanczos step (8 per 160 pairs, at most "
        "vectors_per_pass and 64)",
    )
    n_max: int | None = Field(
        None, ge=1, description="accurate mode: basis columns before a restart (max(2k+4b, k+8b))"
    )
    max_products: int | None = Field(
        None, ge=1, description="accurate mode: product budget (max(2000, 60k))"
    )

    @model_validator(mode="before")
    @classmethod
    def _old_names(cls, data):
        return renamed_fields(data, "sketch")

    @field_validator("device")
    @classmethod
    def _device(cls, v):
        return check_device(v)

    @field_validator("chunk_rows")
    @classmethod
    def _chunk(cls, v):
        if v % defaults.TILE:
            raise ValueError(f"must be a multiple of {defaults.TILE:,}")
        return v


class AnalysisConfig(Section):
    random_draws: int = Field(defaults.RANDOM_DRAWS, ge=1)
    seed: int = Field(0, ge=0, le=MAX_SEED)
    metric_ks: list[int] | None = Field(None, description="k for the Grassmannian metrics")
    table_ks: list[int] | None = Field(None, description="k shown in the final table")


class ExactConfig(Section):
    enabled: bool | Literal["auto"] = Field(
        "auto", description=f"dense exact reference (auto: D <= {defaults.MAX_AUTO_EXACT_D:,})"
    )
    steps: list[int] | Literal["all"] | None = Field(
        None, description='steps with a reference: a list, "all", or None: the first, middle and '
        "last recorded steps (a dense eigh of D = 7,030 takes ~40 s here)",
    )  # fmt: skip


class DaskConfig(Section):
    address: str | None = Field(
        None,
        description='scheduler address; "inprocess" for no cluster; default: '
        "$HESSIAN_DASK_ADDRESS, else a LocalCluster for the run",
    )
    n_workers: int = Field(1, ge=1)
    threads: int | None = Field(None, ge=1, description="torch threads per worker")


class TrackingConfig(Section):
    uri: str | None = Field(
        None, description="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else sqlite in "
        "the run directory)",
    )  # fmt: skip
    experiment: str | None = None

    @field_validator("uri")
    @classmethod
    def _scheme(cls, v):
        if v is not None:
            check_tracking_uri(v)
        return v


def check_tracking_uri(uri: str) -> None:
    """Refuse a tracking URI whose scheme MLflow cannot use (a local path is a file store)."""
    scheme, sep, _ = uri.partition("://")
    if not sep and ":" in uri and not uri.startswith(("sqlite:", "file:")):
        scheme, sep = uri.partition(":")[0], ":"
    if sep and scheme.split("+")[0].lower() not in TRACKING_SCHEMES:
        raise ValueError(
            f"unsupported tracking URI scheme {scheme!r}; use one of "
            f"{', '.join(s + '://' for s in TRACKING_SCHEMES)} or a local path"
        )


def _state_dicts(checkpoint: str | dict[int, str], record_steps) -> dict[int, str]:
    """``checkpoint`` as {step: existing file}: one file is the one record step, else step 0."""
    if isinstance(checkpoint, str):
        if record_steps is not None and len(record_steps) != 1:
            raise ConfigError(
                "checkpoint: one state_dict file is one step; give {step: file, ...} for the "
                f"record steps {record_steps}"
            )
        checkpoint = {(record_steps or [0])[0]: checkpoint}
    elif record_steps is not None and sorted(record_steps) != sorted(checkpoint):
        raise ConfigError(
            f"checkpoint: its steps {sorted(checkpoint)} differ from train.record_steps "
            f"{sorted(record_steps)}"
        )
    for step, path in checkpoint.items():
        if step < 0:
            raise ConfigError(f"checkpoint: step {step} must be >= 0")
        if not Path(path).is_file():
            raise ConfigError(f"checkpoint: no such state_dict file: {path}")
    return {int(t): str(Path(p).resolve()) for t, p in sorted(checkpoint.items())}


class RunConfig(Section):
    name: str | None = None
    problem: str = Field(
        "mnist_mini", description='a built-in or registered problem, or "package.module:factory"'
    )
    data: str | None = Field(None, description='None: the default; "synthetic"; a path')
    n_hessian: int | None = Field(None, ge=1)
    run_dir: str | None = Field(None, description="default runs/<name>")
    checkpoint: str | dict[int, str] | None = Field(
        None, description="a state_dict file of a model trained elsewhere (its step: the one "
        "record step, else 0), or {step: file}: their parameters instead of training",
    )  # fmt: skip
    train: TrainConfig = TrainConfig()
    sketch: SketchConfig = SketchConfig()
    analysis: AnalysisConfig = AnalysisConfig()
    exact: ExactConfig = ExactConfig()
    dask: DaskConfig = DaskConfig()
    tracking: TrackingConfig = TrackingConfig()

    @field_validator("name")
    @classmethod
    def _name(cls, v):
        """A run's name is a directory under ``runs/``: one plain path component."""
        if v is not None:
            bad = (
                not v.strip() or v.strip() in (".", "..") or v.startswith(".")
                or any(c in v for c in "/\\\0") or len(v) > 120
            )  # fmt: skip
            if bad:
                raise ValueError(
                    f"{v!r} is not a run name: use letters, digits, '-', '_' or '.' (no path "
                    "separators, not starting with '.'); run_dir chooses another directory"
                )
        return v

    @field_validator("problem")
    @classmethod
    def _problem(cls, v):
        if v not in problems.names() and not problems.is_import_path(v):
            raise ValueError(
                f"unknown problem {v!r}; known: {', '.join(problems.names())}; or an import "
                "path 'package.module:factory'"
            )
        if v not in problems.PROBLEMS:
            problems.settings(v)  # a user problem is built once here: a bad one stops the run
        return v

    # ------------------------------------------------------------------------------------
    def resolve(self) -> RunConfig:
        """A copy with every default filled in from the problem, checked as a whole."""
        ps = problems.settings(self.problem)
        c = self.model_copy(deep=True)
        c.name = c.name or c.problem
        c.run_dir = c.run_dir or str(Path("runs") / c.name)
        t = c.train
        if c.checkpoint is not None:
            c.checkpoint = _state_dicts(c.checkpoint, t.record_steps)
            t.record_steps = sorted(c.checkpoint)
        t.record_steps = t.record_steps or list(ps.record_steps)
        t.steps = max(t.record_steps) if t.steps is None else t.steps
        t.lr = t.lr or ps.lr
        t.batch_size = t.batch_size or ps.batch_size
        t.seed = ps.seed if t.seed is None else t.seed
        if max(t.record_steps) > t.steps:
            raise ConfigError(
                f"train.record_steps: step {max(t.record_steps)} is after train.steps = {t.steps}"
            )
        n_h = c.n_hessian or ps.n_hessian
        if n_h % ps.num_classes:
            raise ConfigError(
                f"n_hessian = {n_h} must be a multiple of the {ps.num_classes} classes "
                "(the Hessian subset is class-balanced)"
            )
        if t.n_train is not None and t.n_train < n_h:
            raise ConfigError(f"train.n_train = {t.n_train} is smaller than n_hessian = {n_h}")
        builtin = c.problem in problems.PROBLEMS  # a user problem's factory reads its data
        if builtin and c.data == "digits" and problems.PROBLEMS[c.problem].num_classes != 10:
            raise ConfigError(f"data: 'digits' (10 classes) do not fit {c.problem}")
        if builtin and c.data not in (None, "digits", "synthetic") and not Path(c.data).exists():
            raise ConfigError(f"data: no such file or directory: {c.data}")
        sk = c.sketch
        try:  # here, before anything is written: cuda on a machine without it stops the run
            resolve_device(sk.device)
        except DeviceError as e:
            raise ConfigError(f"sketch.device: {e}") from None
        sk.k = sk.k or min(ps.k, ps.D)
        sk.s = sk.s or min(defaults.sketch_size(sk.k), ps.D)
        sk.vectors_per_block = sk.vectors_per_block or sk.vectors_per_pass
        if sk.k > sk.s:
            raise ConfigError(f"sketch.k = {sk.k} must not exceed sketch.s = {sk.s}")
        if sk.s > ps.D:
            raise ConfigError(f"sketch.s = {sk.s} exceeds the number of parameters D = {ps.D:,}")
        if sk.oversample is not None and sk.k + sk.oversample > sk.s:
            raise ConfigError(
                f"sketch.oversample: k + oversample = {sk.k + sk.oversample} exceeds s = {sk.s}"
            )
        a = c.analysis
        for field in ("metric_ks", "table_ks"):
            ks = getattr(a, field)
            if ks is not None and (not ks or min(ks) < 1 or max(ks) > sk.k):
                raise ConfigError(f"analysis.{field}: values must lie in 1..sketch.k = {sk.k}")
        a.table_ks = a.table_ks or sorted({min(100, sk.k), sk.k})
        e = c.exact
        if e.enabled == "auto":
            e.enabled = ps.D <= defaults.MAX_AUTO_EXACT_D
        if e.enabled and ps.D > defaults.MAX_DENSE_D:
            raise ConfigError(f"exact.enabled: D = {ps.D:,} is too large for a dense reference")
        rec = t.record_steps
        if e.steps == "all":
            e.steps = list(rec)
        elif e.steps is None:
            e.steps = sorted({rec[0], rec[len(rec) // 2], rec[-1]})
        else:
            extra = sorted(set(e.steps) - set(rec))
            if extra:
                raise ConfigError(f"exact.steps: {extra} are not in train.record_steps")
            e.steps = sorted(e.steps)
        if c.dask.address is None:
            c.dask.address = os.environ.get("HESSIAN_DASK_ADDRESS") or None
        return c

    @property
    def D(self) -> int:
        return problems.settings(self.problem).D

    def exact_steps(self) -> list[int]:
        return list(self.exact.steps or []) if self.exact.enabled else []

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)
