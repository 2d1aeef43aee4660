"""The ``pipeline`` flow: train, sketch every recorded step, analyse, and track it in MLflow.

Everything complete is reused: checkpoints, solved sketch stores (no HVP is repeated), and the
cached analysis tasks; each invocation is one MLflow run with a nested run per recorded step.
"""

from __future__ import annotations

import time

from prefect import flow, get_run_logger

from hessian_sketch.flows import report
from hessian_sketch.flows import tracking as track
from hessian_sketch.flows.analyze import analyze
from hessian_sketch.flows.common import git_commit, prepare, redact, versions
from hessian_sketch.flows.plan import Plan
from hessian_sketch.flows.sketch import dask_scheduler, sketch
from hessian_sketch.flows.train import train
from hessian_sketch.tasks import tracking


@flow(name="pipeline")
def pipeline(config: Plan | dict | str | None = None, overrides: list[str] | None = None) -> dict:
    """Run the whole study of a configuration; returns the summary (also in summary.json).

    ``config``: a path or a dict (as deployments pass it), or a ``Plan``: it is validated once
    here, and the plan is handed to the stage flows as it is."""
    plan = Plan.of(config, overrides or [])
    cfg = plan.config
    lay = prepare(plan)
    log = get_run_logger()
    t0 = time.perf_counter()
    uri = track.tracking_uri(cfg)
    provenance = {"git_commit": git_commit(), "versions": versions()}
    run = tracking.open_run(
        uri, cfg.tracking.experiment or f"hessian-{cfg.problem}",
        run_name=f"{cfg.name}", artifact_location=track.artifact_location(uri, cfg),
        params=track.params(cfg, provenance),
        tags={"problem": cfg.problem, "run_dir": str(lay.root), "kind": "pipeline"},
    )  # fmt: skip
    log.info(f"MLflow run {run['run_id']} in {redact(uri)}")
    try:
        t = time.perf_counter()
        cks = train(plan)
        t_train = time.perf_counter() - t
        outcomes = []
        t = time.perf_counter()
        with dask_scheduler(plan) as address:
            for step in plan.train.record_steps:
                outcomes.append(sketch(plan, step, checkpoint=cks[step], scheduler=address))
        t_sketch = time.perf_counter() - t
        mlflow_info = {"tracking_uri": redact(uri)} | run
        summary = analyze(plan, sketches=outcomes, checkpoints=cks, extra={"mlflow": mlflow_info})
        summary["timings"] |= {
            "train": t_train,
            "sketch": t_sketch,
            "total": time.perf_counter() - t0,
        }
        summary["cached_tasks"] += [c for o in outcomes for c in o.get("cached", [])]
        summary["work"] = {
            "trained_steps": sorted(s for s, c in cks.items() if c["trained"]),
            "measured_steps": [o["step"] for o in outcomes if not o["reused"]],
            "hvps": int(sum(o["hvps"] for o in outcomes)),
        }
        summary = report.write_summary(lay.summary, summary)
        _log(uri, run, summary, cfg, lay)
        tracking.close_run(uri, run["run_id"], "FINISHED")
    except BaseException:
        try:
            tracking.close_run(uri, run["run_id"], "FAILED")
        finally:
            raise
    log.info(f"done in {summary['timings']['total']:.1f} s; outputs in {lay.root}")
    return summary


def _log(uri, run, summary, cfg, lay) -> None:
    """Nested runs per step, then the parent's metrics and artifacts."""
    plots = {p.rsplit("/", 1)[-1]: p for p in summary["plots"]}
    for rec in summary["steps"]:
        child = tracking.open_run(
            uri, cfg.tracking.experiment or f"hessian-{cfg.problem}",
            run_name=f"{cfg.name} step {rec['step']}", artifact_location=None,
            params={"step": rec["step"], "fingerprint": rec["sketch"]["fingerprint"],
                    "solution_id": rec["sketch"]["solution_id"]},
            tags={"problem": cfg.problem, "kind": "step"}, parent_run_id=run["run_id"],
        )  # fmt: skip
        name = f"overlap_vs_k_step_{rec['step']:06d}.png"
        status = "FAILED"
        try:
            tracking.log(
                uri, child["run_id"], metrics=track.step_metrics(rec),
                artifacts=[plots[name]] if name in plots else [], artifact_dir="plots",
                documents={"step.json": rec},
            )  # fmt: skip
            status = "FINISHED"
        finally:
            tracking.close_run(uri, child["run_id"], status)
    tracking.log(
        uri, run["run_id"], metrics=track.pipeline_metrics(summary),
        artifacts=list(summary["plots"]), artifact_dir="plots",
    )  # fmt: skip
    tracking.log(uri, run["run_id"], artifacts=[str(lay.summary), str(lay.config)])
