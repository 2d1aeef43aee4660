"""Commands (argv and environment) that start each server, with loopback and auth defaults.

Secrets never appear on a command line or in a log: Prefect's auth string, MLflow's admin password
and database passwords come from the environment (or a file the user controls).
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path

from hessian.exceptions import InsecureBindError
from hessian.out_of_core.cluster import threads_per_worker

LOOPBACK = ("127.0.0.1", "localhost", "::1")
WILDCARD = ("0.0.0.0", "::")


@dataclass
class ServerCommand:
    """What to run: argv, extra environment, and where it will answer."""

    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    url: str = ""
    health: str = ""


def _exe(name: str) -> str:
    """A console script of this environment (next to the interpreter), else from PATH."""
    local = Path(sys.executable).parent / name
    return str(local) if local.exists() else (shutil.which(name) or name)


def _check_exposure(what: str, host: str, protected: bool, how: str, insecure: bool) -> None:
    if host in LOOPBACK or protected or insecure:
        return
    raise InsecureBindError(
        f"{what} would listen on {host}, reachable from other machines, without protection. "
        f"{how} Or pass --insecure on a network you trust."
    )


def ui_api_url(host: str, port: int) -> str:
    """The API address the Prefect UI (in a browser) is told to use: ``PREFECT_UI_API_URL`` if
    set (a server behind a proxy or another public name), else this server's host and port (a
    wildcard bind is reached at this machine's name)."""
    explicit = os.environ.get("PREFECT_UI_API_URL") or os.environ.get("PREFECT_SERVER_UI_API_URL")
    if explicit:
        return explicit
    name = socket.gethostname() if host in WILDCARD else host
    name = f"[{name}]" if ":" in name else name
    return f"http://{name}:{port}/api"


def prefect_server(host: str = "127.0.0.1", port: int = 4200, *, insecure: bool = False):
    """``prefect server start``: analytics off; API auth from PREFECT_SERVER_API_AUTH_STRING.

    The UI asks its ``/ui-settings`` where the API is; Prefect answers PREFECT_UI_API_URL, whose
    default ignores ``--port`` (it is PREFECT_API_URL, else port 4200), so the command sets it to
    this server's own address (``ui_api_url``) along with PREFECT_SERVER_API_HOST/PORT.
    """
    protected = bool(os.environ.get("PREFECT_SERVER_API_AUTH_STRING"))
    _check_exposure(
        "the Prefect server", host, protected,
        "Set PREFECT_SERVER_API_AUTH_STRING='user:password' for the server (clients set the same "
        "value in PREFECT_API_AUTH_STRING) and put TLS in front of it.", insecure,
    )  # fmt: skip
    return ServerCommand(
        "prefect server",
        [
            _exe("prefect"),
            "server",
            "start",
            "--host",
            host,
            "--port",
            str(port),
            "--analytics-off",
        ],
        {
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_SERVER_API_HOST": host,
            "PREFECT_SERVER_API_PORT": str(port),
            "PREFECT_UI_API_URL": ui_api_url(host, port),
        },
        url=f"http://{host}:{port}/api",
        health=f"http://{host}:{port}/api/health",
    )


def mlflow_server(
    host: str = "127.0.0.1",
    port: int = 5000,
    *,
    backend_store_uri: str = "sqlite:///mlflow-server/mlflow.db",
    artifacts_destination: str = "mlflow-server/artifacts",
    workers: int = 1,
    basic_auth: bool = False,
    insecure: bool = False,
):
    """``mlflow server`` with proxied artifacts (clients need no access to the artifact store).

    ``basic_auth``: MLflow's basic-auth app (users in its own database; the first admin's password
    from MLFLOW_AUTH_CONFIG_PATH's file, see deploy/README.md).
    """
    _check_exposure(
        "the MLflow server", host, basic_auth,
        "Pass --basic-auth (MLflow's basic-auth app; set the admin password in the auth config "
        "file) and put TLS in front of it.", insecure,
    )  # fmt: skip
    if backend_store_uri.startswith("sqlite:///"):
        db = Path(backend_store_uri.removeprefix("sqlite:///"))
        db.parent.mkdir(parents=True, exist_ok=True)
    if "://" not in artifacts_destination:
        Path(artifacts_destination).mkdir(parents=True, exist_ok=True)
    argv = [
        _exe("mlflow"), "server", "--host", host, "--port", str(port),
        "--backend-store-uri", backend_store_uri,
        "--artifacts-destination", artifacts_destination, "--serve-artifacts",
        "--workers", str(workers),
    ]  # fmt: skip
    if host not in LOOPBACK:
        argv += ["--allowed-hosts", "*"]  # MLflow answers only localhost names by default
    if basic_auth:
        argv += ["--app-name", "basic-auth"]
    return ServerCommand(
        "mlflow server", argv, {"MLFLOW_DISABLE_TELEMETRY": "true"},
        url=f"http://{host}:{port}", health=f"http://{host}:{port}/health",
    )  # fmt: skip


def dask_scheduler(
    host: str = "127.0.0.1",
    port: int = 8786,
    *,
    tls_ca: str | None = None,
    tls_cert: str | None = None,
    tls_key: str | None = None,
    insecure: bool = False,
):
    """``dask scheduler`` (no dashboard); TLS when certificate files are given."""
    tls = bool(tls_ca and tls_cert and tls_key)
    _check_exposure(
        "the Dask scheduler", host, tls,
        "Pass --tls-ca-file, --tls-cert and --tls-key (Dask then speaks tls://) so that only "
        "holders of a certificate signed by your CA can connect.", insecure,
    )  # fmt: skip
    proto = "tls" if tls else "tcp"
    argv = [_exe("dask"), "scheduler", "--host", host, "--port", str(port),
            "--no-dashboard", "--protocol", proto]  # fmt: skip
    if tls:
        argv += ["--tls-ca-file", tls_ca, "--tls-cert", tls_cert, "--tls-key", tls_key]
    return ServerCommand(
        "dask scheduler", argv, {"DASK_LOGGING__DISTRIBUTED": "warning"},
        url=f"{proto}://{host}:{port}",
    )  # fmt: skip


def dask_worker(
    address: str,
    *,
    n_workers: int = 1,
    threads: int | None = None,
    host: str = "127.0.0.1",
    tls_ca: str | None = None,
    tls_cert: str | None = None,
    tls_key: str | None = None,
):
    """``dask worker`` processes for measurement blocks: one task at a time each, with
    ``threads`` torch/MKL/OpenMP threads (Dask's default of 1 halves the HVP speed)."""
    n = threads_per_worker(n_workers, threads)
    argv = [_exe("dask"), "worker", address, "--nworkers", str(n_workers), "--nthreads", "1",
            "--host", host, "--no-dashboard"]  # fmt: skip
    if tls_ca and tls_cert and tls_key:
        argv += ["--tls-ca-file", tls_ca, "--tls-cert", tls_cert, "--tls-key", tls_key]
    env = {
        "OMP_NUM_THREADS": str(n),
        "MKL_NUM_THREADS": str(n),
        "OPENBLAS_NUM_THREADS": "1",
        "DASK_DISTRIBUTED__NANNY__PRE_SPAWN_ENVIRON__OMP_NUM_THREADS": str(n),
        "DASK_DISTRIBUTED__NANNY__PRE_SPAWN_ENVIRON__MKL_NUM_THREADS": str(n),
        "DASK_LOGGING__DISTRIBUTED": "warning",
    }
    return ServerCommand("dask worker", argv, env, url=address)


def prefect_worker(pool: str = "hessian"):
    """``prefect worker start`` on a process pool (stop it with SIGINT: it ignores SIGTERM)."""
    return ServerCommand("prefect worker", [_exe("prefect"), "worker", "start", "--pool", pool])
