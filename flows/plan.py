"""A run, validated once: its configuration and the typed request of every stage.

    plan = Plan.of("configs/tiny.yaml")        # or a dict, a RunConfig, None: the defaults
    plan.train     hessian.training.TrainRequest
    plan.sketch    hessian.out_of_core.SketchRequest  (.operator: hessian.operators.OperatorSpec)
    plan.analysis  hessian.study.AnalysisRequest
    plan.exact     hessian.solvers.ExactRequest       (the same operator, in float64)
    plan.accurate  hessian.out_of_core.AccurateRequest (sketch.mode: accurate), else None

The CLI (or a deployment's flow run) builds the plan from the configuration; the flows hand it
to each other and its requests to the tasks, which hand them to the library unchanged. Nothing
downstream validates the configuration again or patches a request.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from hessian.operators import OperatorSpec
from hessian.out_of_core import AccurateRequest, SketchRequest
from hessian.solvers import ExactRequest
from hessian.study import AnalysisRequest
from hessian.training import TrainRequest
from hessian_sketch.flows.config import RunConfig
from hessian_sketch.flows.layout import Layout
from hessian_sketch.flows.loading import resolve


@dataclass(frozen=True)
class Plan:
    """The validated configuration of a run and the request of each stage, built from it."""

    config: RunConfig
    train: TrainRequest
    sketch: SketchRequest
    analysis: AnalysisRequest
    exact: ExactRequest
    accurate: AccurateRequest | None = None

    @classmethod
    def of(cls, config: Plan | RunConfig | dict | str | Path | None = None, overrides=()) -> Plan:
        """The plan of ``config``: a Plan is returned as it is (unless ``overrides`` are given);
        anything else is validated (once) and turned into requests.

        Raises:
            ConfigError: an unknown or invalid field, named in the message.
        """
        if isinstance(config, Plan):
            if not overrides:
                return config
            config = config.config
        return cls.from_config(resolve(config, overrides))

    @classmethod
    def from_config(cls, cfg: RunConfig) -> Plan:
        """The requests of a validated, resolved configuration."""
        t, sk, a = cfg.train, cfg.sketch, cfg.analysis
        operator = OperatorSpec(
            cfg.problem, data=cfg.data, n_hessian=cfg.n_hessian, kind=sk.kind, dtype=sk.dtype,
            batch_size=sk.batch_size, vectors_per_pass=sk.vectors_per_pass,
            threads=cfg.dask.threads, seed=t.seed, n_train=t.n_train, device=sk.device,
            tf32=sk.tf32,
        )  # fmt: skip
        train = TrainRequest(
            cfg.problem, steps=t.steps, record_steps=t.record_steps, lr=t.lr,
            batch_size=t.batch_size, seed=t.seed, data=cfg.data, n_train=t.n_train,
            n_hessian=cfg.n_hessian, state_dicts=tuple((cfg.checkpoint or {}).items()),
        )  # fmt: skip
        sketch = SketchRequest(
            operator, k=sk.k, s=sk.s, oversample=sk.oversample, seed=sk.seed, noise=sk.noise,
            dtype=sk.dtype, chunk_rows=sk.chunk_rows, vectors_per_block=sk.vectors_per_block,
            n_workers=cfg.dask.n_workers, threads=cfg.dask.threads, probes=sk.probes,
            tol=sk.tol, subspace_tol=sk.subspace_tol,
        )  # fmt: skip
        accurate = None
        if sk.mode == "accurate":
            accurate = AccurateRequest(
                operator, k=sk.k, tol=sk.tol, subspace_tol=sk.subspace_tol, block=sk.block,
                n_max=sk.n_max, seed=sk.seed, max_products=sk.max_products, dtype=sk.dtype,
                chunk_rows=sk.chunk_rows, n_workers=cfg.dask.n_workers, threads=cfg.dask.threads,
            )  # fmt: skip
        return cls(
            config=cfg,
            train=train,
            sketch=sketch,
            analysis=AnalysisRequest(draws=a.random_draws, seed=a.seed, metric_ks=a.metric_ks),
            exact=ExactRequest(replace(operator, dtype="float64"), k=sk.k),
            accurate=accurate,
        )

    @property
    def layout(self) -> Layout:
        """Where the run's files live."""
        return Layout.of(self.config.run_dir)
