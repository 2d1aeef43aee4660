"""MLflow tracking through ``MlflowClient`` (explicit run ids: safe from any thread or process).

Metrics are logged in batches (one request per 1,000 values: ~7-10 ms per single metric locally
and ~50 ms through a server, docs/stack.md). A server that cannot be reached gives one
clear error naming the tracking URI.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from prefect import task

from hessian.exceptions import TrackingUnavailableError

BATCH = 1000

#: the experiment tag that marks a model-training experiment (MLflow reads it where the UI's
#: GenAI / Model training switch is turned off)
EXPERIMENT_KIND = ("mlflow.experimentKind", "custom_model_development")
#: the page-address parameter that opens MLflow 3.17's UI on its model-training view (runs and
#: their metric charts): the UI takes its view from this parameter, else from the browser's last
#: choice, else GenAI, whatever the experiment's tag says (docs/stack.md)
TRAINING_VIEW = ("workflowType", "machine_learning")


def ui_route(experiment_id: str, run_id: str | None = None) -> str:
    """The MLflow UI's address (after the server's) of an experiment's runs, or of one run's
    metric charts, on the model-training view:
    ``#/experiments/1/runs/<id>/model-metrics?workflowType=machine_learning``."""
    key, value = TRAINING_VIEW
    page = f"/experiments/{experiment_id}" + (f"/runs/{run_id}/model-metrics" if run_id else "")
    return f"#{page}?{key}={value}"


def ui_link(server: str, experiment_id: str, run_id: str | None = None) -> str:
    """The full address of ``ui_route`` on the UI served at ``server`` (credentials left out)."""
    scheme, sep, rest = server.partition("://")
    base = f"{scheme}{sep}{rest.rpartition('@')[2]}" if sep else server
    return f"{base.rstrip('/')}/{ui_route(experiment_id, run_id)}"


def redact(uri: str | None) -> str | None:
    """A URI with any password replaced by *** (``scheme://user:secret@host`` ->
    ``scheme://user:***@host``): what may be logged or recorded."""
    if not uri or "@" not in uri or "://" not in uri:
        return uri
    scheme, rest = uri.split("://", 1)
    cred, at, host = rest.rpartition("@")
    if ":" in cred:
        cred = cred.split(":", 1)[0] + ":***"
    return f"{scheme}://{cred}{at}{host}"


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


def unreachable(what: str, url: str, timeout: float = 5.0) -> str | None:
    """None if the server at ``url`` answers, else one line saying which and where.

    ``what``: "prefect" (GET {url}/health), "mlflow" (GET {url}/health) or "dask"
    (a TCP connection to the scheduler address)."""
    import socket
    import urllib.error
    import urllib.parse
    import urllib.request

    try:
        if what == "dask":
            if url == "inprocess":
                return None
            p = urllib.parse.urlparse(url)
            with socket.create_connection((p.hostname, p.port or 8786), timeout=timeout):
                return None
        with urllib.request.urlopen(url.rstrip("/") + "/health", timeout=timeout) as r:
            r.read()
        return None
    except urllib.error.HTTPError as e:
        if e.code in (401, 403):  # it answers; the credentials are the client's business
            return None
        reason = f"HTTP {e.code}"
    except (OSError, ValueError) as e:
        reason = str(getattr(e, "reason", e))
    names = {"prefect": "Prefect server", "mlflow": "MLflow tracking server",
             "dask": "Dask scheduler"}  # fmt: skip
    return f"the {names[what]} at {redact(url)} is not reachable ({reason})"


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


def default_uri(run_dir: str | Path) -> str:
    """sqlite in the run directory (MLflow's file store is deprecated: docs/stack.md)."""
    return f"sqlite:///{Path(run_dir).resolve() / 'mlflow.db'}"
