"""``hessian deploy ...``: start the servers, the worker, and register the deployments."""

from __future__ import annotations

import os
from typing import Annotated

import typer
from rich.console import Console

from hessian_sketch.deploy import servers

app = typer.Typer(
    no_args_is_help=True,
    help="Run it for real: Prefect server and worker, deployments, MLflow server, Dask cluster.",
)
err = Console(stderr=True)
out = Console()

Host = Annotated[str, typer.Option(help="address to bind (127.0.0.1: this machine only)")]
Insecure = Annotated[
    bool, typer.Option(help="allow a non-loopback address without protection (trusted networks)")
]


def _exec(cmd: servers.ServerCommand) -> None:
    out.print(f"starting {cmd.name}: {cmd.url}")
    os.execvpe(cmd.argv[0], cmd.argv, os.environ | cmd.env)


def _guard(fn):
    try:
        return fn()
    except servers.InsecureBindError as e:
        err.print(f"[red]error:[/] {e}")
        raise typer.Exit(2) from None


@app.command("prefect-server")
def prefect_server(host: Host = "127.0.0.1", port: int = 4200, insecure: Insecure = False):
    """The Prefect server (UI and API); clients use PREFECT_API_URL=http://HOST:PORT/api."""
    _exec(_guard(lambda: servers.prefect_server(host, port, insecure=insecure)))


@app.command("mlflow-server")
def mlflow_server(
    host: Host = "127.0.0.1",
    port: int = 5000,
    backend_store_uri: Annotated[
        str, typer.Option(help="sqlite:///path or any SQLAlchemy URL (postgresql://...)")
    ] = "sqlite:///mlflow-server/mlflow.db",
    artifacts_destination: Annotated[
        str, typer.Option(help="a directory or an object store URI (s3://bucket/path)")
    ] = "mlflow-server/artifacts",
    basic_auth: Annotated[bool, typer.Option(help="MLflow's basic-auth app")] = False,
    insecure: Insecure = False,
):
    """The MLflow tracking server and UI; clients use MLFLOW_TRACKING_URI=http://HOST:PORT."""
    cmd = _guard(
        lambda: servers.mlflow_server(
            host,
            port,
            backend_store_uri=backend_store_uri,
            artifacts_destination=artifacts_destination,
            basic_auth=basic_auth,
            insecure=insecure,
        )
    )
    out.print(
        f"model-training view: {cmd.url}/#/experiments?workflowType=machine_learning",
        soft_wrap=True,
    )
    _exec(cmd)


TlsCa = Annotated[str | None, typer.Option("--tls-ca-file")]
TlsCert = Annotated[str | None, typer.Option("--tls-cert")]
TlsKey = Annotated[str | None, typer.Option("--tls-key")]


@app.command("dask-scheduler")
def dask_scheduler(
    host: Host = "127.0.0.1",
    port: int = 8786,
    tls_ca_file: TlsCa = None,
    tls_cert: TlsCert = None,
    tls_key: TlsKey = None,
    insecure: Insecure = False,
):
    """A Dask scheduler; flows use it with dask.address or HESSIAN_DASK_ADDRESS=tcp://HOST:PORT."""
    _exec(
        _guard(
            lambda: servers.dask_scheduler(
                host,
                port,
                tls_ca=tls_ca_file,
                tls_cert=tls_cert,
                tls_key=tls_key,
                insecure=insecure,
            )
        )
    )


@app.command("dask-worker")
def dask_worker(
    address: Annotated[str, typer.Argument(help="the scheduler, tcp://HOST:PORT")],
    n_workers: int = 1,
    threads: Annotated[int | None, typer.Option(help="torch threads per worker")] = None,
    host: Host = "127.0.0.1",
    tls_ca_file: TlsCa = None,
    tls_cert: TlsCert = None,
    tls_key: TlsKey = None,
):
    """Dask worker processes set up for HVPs (one task at a time, torch threads per worker)."""
    _exec(
        servers.dask_worker(
            address,
            n_workers=n_workers,
            threads=threads,
            host=host,
            tls_ca=tls_ca_file,
            tls_cert=tls_cert,
            tls_key=tls_key,
        )
    )


@app.command()
def worker(pool: str = "hessian"):
    """A Prefect worker on the process pool (created if missing). Stop it with Ctrl-C."""
    from hessian_sketch.deploy.deployments import ensure_pool

    ensure_pool(pool)
    _exec(servers.prefect_worker(pool))


@app.command()
def register(
    config: Annotated[str | None, typer.Argument(help="run configuration (default study)")] = None,
    pool: str = "hessian",
    cron: Annotated[str | None, typer.Option(help='rerun schedule, e.g. "0 3 * * *"')] = None,
    interval: Annotated[float | None, typer.Option(help="rerun every N seconds")] = None,
    step: Annotated[int, typer.Option(help="the sketch deployment's default step")] = 0,
    concurrency: Annotated[
        int | None, typer.Option(help="flow runs at a time on a new pool (default: no limit)")
    ] = None,
):
    """Register the `pipeline` and `sketch` deployments (with a schedule) on PREFECT_API_URL."""
    from hessian_sketch.deploy.deployments import register as reg

    if not os.environ.get("PREFECT_API_URL"):
        err.print(
            "[red]error:[/] PREFECT_API_URL is not set: deployments live on a Prefect server "
            "(start one with `hessian deploy prefect-server`)"
        )
        raise typer.Exit(2)
    ids = reg(
        pool=pool, config=config, cron=cron, interval=interval, step=step, concurrency=concurrency
    )
    for name, dep_id in ids.items():
        out.print(f"deployment {name}/{name}: {dep_id}")
    out.print("run one now: prefect deployment run pipeline/pipeline")
    out.print(f"start a worker: hessian deploy worker --pool {pool}")
