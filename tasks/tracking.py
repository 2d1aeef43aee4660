"""MLflow tracking through ``MlflowClient`` (explicit run ids: safe from any thread or process).

Metrics are logged in batches (one request per 1,000 values: ~7-10 ms per single metric locally
and ~50 ms through a server, docs/stack.md). A server that cannot be reached gives one
clear error naming the tracking URI.
"""

from __future__ import annotations

import json
import time

from prefect import task

from hessian.exceptions import TrackingUnavailableError
from hessian_sketch.tasks.uris import ui_route, unreachable

BATCH = 1000

#: the experiment tag that marks a model-training experiment (MLflow reads it where the UI's
#: GenAI / Model training switch is turned off)
EXPERIMENT_KIND = ("mlflow.experimentKind", "custom_model_development")


def _client(uri: str):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri)


def _reachable(uri: str) -> None:
    if not uri.startswith(("http://", "https://")):
        return
    problem = unreachable("mlflow", uri, timeout=10)
    if problem:
        raise TrackingUnavailableError(
            f"{problem}; start it (see deploy/) or set tracking.uri / MLFLOW_TRACKING_URI to "
            "another store"
        )


@task(name="mlflow-open-run")  # no retries: a retry after a create would leave a stray run
def open_run(
    uri: str,
    experiment: str,
    *,
    run_name: str,
    artifact_location: str | None,
    params: dict,
    tags: dict,
    parent_run_id: str | None = None,
) -> dict:
    """Create (or find) the experiment and start a run; returns its ids."""
    _reachable(uri)
    client = _client(uri)
    exp = client.get_experiment_by_name(experiment)
    kind_key, kind = EXPERIMENT_KIND
    if exp is None:
        exp_id = client.create_experiment(
            experiment, artifact_location=artifact_location, tags={kind_key: kind}
        )
    else:
        exp_id = exp.experiment_id
        if kind_key not in exp.tags:  # made before the tag was set, or by someone else
            client.set_experiment_tag(exp_id, kind_key, kind)
    tags = {k: str(v) for k, v in tags.items()}
    if parent_run_id:
        tags["mlflow.parentRunId"] = parent_run_id
    run = client.create_run(exp_id, run_name=run_name, tags=tags)
    log_values(uri, run.info.run_id, params=params)
    return {
        "run_id": run.info.run_id,
        "experiment_id": exp_id,
        "ui_route": ui_route(exp_id, run.info.run_id),
    }


def log_values(uri: str, run_id: str, *, params: dict | None = None, metrics=()) -> int:
    """Log params (dict) and metrics (iterable of (key, value, step)) in batches; the count."""
    from mlflow.entities import Metric, Param

    client = _client(uri)
    if params:
        items = [Param(k, str(v)[:6000]) for k, v in params.items()]
        for i in range(0, len(items), 100):
            client.log_batch(run_id, params=items[i : i + 100])
    now = int(time.time() * 1000)
    batch, n = [], 0
    for key, value, step in metrics:
        if value is None:
            continue
        batch.append(Metric(key, float(value), now, int(step)))
        if len(batch) == BATCH:
            client.log_batch(run_id, metrics=batch)
            n, batch = n + len(batch), []
    if batch:
        client.log_batch(run_id, metrics=batch)
        n += len(batch)
    return n


@task(name="mlflow-log", retries=2, retry_delay_seconds=3)
def log(
    uri: str,
    run_id: str,
    *,
    metrics: list = (),
    artifacts: list[str] = (),
    artifact_dir: str | None = None,
    documents: dict | None = None,
) -> int:
    """Log metrics, files and JSON documents (name -> object) to a run; the metric count."""
    _reachable(uri)
    n = log_values(uri, run_id, metrics=metrics)
    client = _client(uri)
    for f in artifacts:
        client.log_artifact(run_id, f, artifact_path=artifact_dir)
    for name, obj in (documents or {}).items():
        client.log_text(run_id, json.dumps(obj, indent=1), name)
    return n


@task(name="mlflow-close-run", retries=2, retry_delay_seconds=3)
def close_run(uri: str, run_id: str, status: str = "FINISHED") -> None:
    _client(uri).set_terminated(run_id, status=status)
