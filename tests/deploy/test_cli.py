"""``hessian deploy ...`` in process: what each command would start, and its refusals."""

import pytest
from typer.testing import CliRunner

from hessian_sketch.deploy import cli

runner = CliRunner()


@pytest.fixture
def started(monkeypatch):
    """The command each call would exec, instead of exec'ing it."""
    calls = []
    monkeypatch.setattr(cli.os, "execvpe", lambda file, argv, env: calls.append((argv, env)))
    return calls


def test_the_commands(started):
    r = runner.invoke(cli.app, ["--help"])
    assert r.exit_code == 0
    for name in ("prefect-server", "mlflow-server", "dask-scheduler", "dask-worker", "worker",
                 "register"):  # fmt: skip
        assert name in r.output


def test_prefect_server_tells_its_ui_its_own_port(started, monkeypatch):
    for key in ("PREFECT_UI_API_URL", "PREFECT_SERVER_UI_API_URL"):
        monkeypatch.delenv(key, raising=False)
    r = runner.invoke(cli.app, ["prefect-server", "--port", "4278"])
    assert r.exit_code == 0, r.output
    argv, env = started[0]
    assert argv[1:7] == ["server", "start", "--host", "127.0.0.1", "--port", "4278"]
    assert env["PREFECT_UI_API_URL"] == "http://127.0.0.1:4278/api"
    assert "http://127.0.0.1:4278/api" in r.output


def test_mlflow_server_prints_the_training_view(started, tmp_path):
    r = runner.invoke(cli.app, ["mlflow-server", "--port", "5077",
                                "--backend-store-uri", f"sqlite:///{tmp_path}/m.db"])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "http://127.0.0.1:5077/#/experiments?workflowType=machine_learning" in r.output
    assert "--port" in started[0][0] and "5077" in started[0][0]


def test_refusals(started, monkeypatch):
    monkeypatch.delenv("PREFECT_SERVER_API_AUTH_STRING", raising=False)
    r = runner.invoke(cli.app, ["prefect-server", "--host", "0.0.0.0"])
    assert r.exit_code == 2 and "PREFECT_SERVER_API_AUTH_STRING" in " ".join(r.output.split())
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    r = runner.invoke(cli.app, ["register"])
    assert r.exit_code == 2 and "PREFECT_API_URL is not set" in " ".join(r.output.split())
    assert started == []
