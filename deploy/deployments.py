"""The deployments: ``pipeline`` and ``sketch`` on a process work pool, with schedules.

    register(pool="hessian", cron="0 3 * * *", config="configs/mnist_mini.yaml")

The flow code is this environment's installed package (the entrypoints are module paths,
``hessian_sketch.flows.pipeline.pipeline``), so a fresh clone (an editable install) and an
installed wheel deploy the same way; a worker must run with the same environment, on this machine
or one with the same packages. Flow runs work in the directory ``register`` was called from
(``from_source`` on that path): relative run directories in a configuration land there. The
configuration travels as a parameter (a path, made absolute, or the config as a dict); the run
directory in it decides where results go, and a rerun of the same configuration reuses
everything complete.
"""

from __future__ import annotations

from pathlib import Path

ENTRYPOINTS = {
    "pipeline": "hessian_sketch.flows.pipeline.pipeline",
    "sketch": "hessian_sketch.flows.sketch.sketch",
}


def ensure_pool(name: str, concurrency: int | None = None) -> None:
    """Create the process work pool ``name`` if the server has none of that name; at most
    ``concurrency`` flow runs at a time (None: no limit)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists

    with get_client(sync_client=True) as client:
        try:
            client.create_work_pool(
                WorkPoolCreate(name=name, type="process", concurrency_limit=concurrency)
            )
        except ObjectAlreadyExists:
            pass


def register(
    *,
    pool: str = "hessian",
    config: str | dict | None = None,
    cron: str | None = None,
    interval: float | None = None,
    step: int = 0,
    flows=("pipeline", "sketch"),
    suffix: str = "",
    concurrency: int | None = None,
) -> dict[str, str]:
    """Register the deployments on the current PREFECT_API_URL; returns name -> deployment id.

    Args:
        config: the run configuration for both (path or dict; None: the default study).
        cron / interval: the rerun schedule (a cron string, or seconds); None: on demand only.
        step: the recorded step the ``sketch`` deployment sketches by default.
        suffix: appended to the deployment names (e.g. "-nightly").
        concurrency: flow runs at a time on a new pool (None: no limit).
    """
    from prefect import flow as prefect_flow

    ensure_pool(pool, concurrency)
    if isinstance(config, str) and not Path(config).is_absolute():
        config = str((Path.cwd() / config).resolve())
    ids = {}
    for name in flows:
        params = {"config": config}
        if name == "sketch":
            params["step"] = step
        loaded = prefect_flow.from_source(source=str(Path.cwd()), entrypoint=ENTRYPOINTS[name])
        kw = {}
        if cron:
            kw["cron"] = cron
        elif interval:
            kw["interval"] = interval
        ids[name] = str(
            loaded.deploy(
                name=f"{name}{suffix}",
                work_pool_name=pool,
                parameters=params,
                build=False,
                push=False,
                print_next_steps=False,
                ignore_warnings=True,
                **kw,
            )
        )
    return ids
