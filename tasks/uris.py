"""Addresses of the tracking store and the servers: the default store, redaction, the UI's
links, a reachability check. Plain strings and sockets: no Prefect, no MLflow imported, so the
``hessian`` command can check a run's servers before it imports either."""

from __future__ import annotations

from pathlib import Path

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


def default_uri(run_dir: str | Path) -> str:
    """sqlite in the run directory (MLflow's file store is deprecated: docs/stack.md)."""
    return f"sqlite:///{Path(run_dir).resolve() / 'mlflow.db'}"
