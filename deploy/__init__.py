"""Running the flows for real: Prefect server, work pool and worker, deployments with schedules,
MLflow tracking server, Dask scheduler and workers (``hessian deploy ...``; guide in README.md).

Every server binds 127.0.0.1 unless asked otherwise; binding another address needs its
protection turned on (or an explicit ``--insecure``).
"""
