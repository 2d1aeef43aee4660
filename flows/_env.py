"""Environment defaults for running offline with nothing started by hand (docs/stack.md).

- Prefect: analytics off (offline it logs DNS errors and "database is locked" tracebacks), a
  120 s start-up timeout for the temporary server (the default 20 s tips over under load).
- MLflow: no telemetry. Dask: warnings only from distributed (~130 INFO lines per cluster).
Every value can be overridden by setting the variable before running.
"""

import os

for key, value in {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DASK_LOGGING__DISTRIBUTED": "warning",
}.items():
    os.environ.setdefault(key, value)
