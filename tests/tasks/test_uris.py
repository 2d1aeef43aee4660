"""The addresses of the tracking store and the servers (no Prefect, no MLflow)."""

import subprocess
import sys

from hessian_sketch.tasks import uris


def test_links_open_the_training_view():
    """MLflow 3.17's UI takes its view from the address, not from the experiment's tag."""
    assert uris.TRAINING_VIEW == ("workflowType", "machine_learning")
    assert uris.ui_route("3", "abc") == (
        "#/experiments/3/runs/abc/model-metrics?workflowType=machine_learning"
    )
    assert uris.ui_link("http://u:pw@127.0.0.1:5000/", "3") == (
        "http://127.0.0.1:5000/#/experiments/3?workflowType=machine_learning"
    )


def test_the_command_checks_its_servers_without_importing_prefect_or_mlflow():
    """What the ``hessian`` process runs before it hands the run to its child: the config, the
    preflight's tracking check and the reachability of the servers."""
    code = (
        "import sys\n"
        "from hessian_sketch.flows import preflight, tracking\n"
        "from hessian_sketch.tasks import uris\n"
        "assert uris.unreachable('dask', 'tcp://127.0.0.1:9') is not None\n"
        "print(sorted(m for m in ('prefect', 'mlflow', 'distributed') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout
