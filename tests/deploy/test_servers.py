"""Server commands: loopback by default; exposure refused without protection; no secrets."""

import pytest

from hessian_sketch.deploy import servers
from hessian_sketch.tasks.uris import redact, unreachable


def test_loopback_by_default():
    for cmd in (servers.prefect_server(), servers.mlflow_server(backend_store_uri="sqlite:///x.db",
                artifacts_destination="s3://b/a"), servers.dask_scheduler()):  # fmt: skip
        assert "127.0.0.1" in cmd.argv and cmd.url.split("//")[1].startswith("127.0.0.1")


@pytest.mark.parametrize(
    ("make", "hint"),
    [
        (lambda **kw: servers.prefect_server("0.0.0.0", **kw), "PREFECT_SERVER_API_AUTH_STRING"),
        (
            lambda **kw: servers.mlflow_server(
                "0.0.0.0",
                artifacts_destination="s3://b/a",
                backend_store_uri="sqlite:///x.db",
                **kw,
            ),
            "--basic-auth",
        ),
        (lambda **kw: servers.dask_scheduler("0.0.0.0", **kw), "--tls-ca-file"),
    ],
)
def test_exposure_needs_protection(make, hint, monkeypatch):
    monkeypatch.delenv("PREFECT_SERVER_API_AUTH_STRING", raising=False)
    with pytest.raises(servers.InsecureBindError, match=hint):
        make()
    assert make(insecure=True).argv  # explicitly allowed


def test_protected_exposure(monkeypatch, tmp_path):
    monkeypatch.setenv("PREFECT_SERVER_API_AUTH_STRING", "admin:s3cret")
    cmd = servers.prefect_server("0.0.0.0")
    assert not any("s3cret" in a for a in cmd.argv)  # the secret stays in the environment
    m = servers.mlflow_server("0.0.0.0", basic_auth=True, backend_store_uri="sqlite:///x.db",
                              artifacts_destination="s3://b/a")  # fmt: skip
    assert "basic-auth" in m.argv and "--allowed-hosts" in m.argv
    d = servers.dask_scheduler("0.0.0.0", tls_ca="ca", tls_cert="c", tls_key="k")
    assert d.url.startswith("tls://") and "--tls-cert" in d.argv


def test_dask_worker_threads():
    w = servers.dask_worker("tcp://127.0.0.1:1", n_workers=2, threads=3)
    assert w.env["OMP_NUM_THREADS"] == "3" and w.env["MKL_NUM_THREADS"] == "3"
    assert w.argv[w.argv.index("--nworkers") + 1] == "2"


def test_redact_and_unreachable():
    assert redact("postgresql://u:pw@db:5432/m") == "postgresql://u:***@db:5432/m"
    assert redact("http://127.0.0.1:5000") == "http://127.0.0.1:5000"
    msg = unreachable("mlflow", "http://u:pw@127.0.0.1:9")
    assert "MLflow tracking server at http://u:***@127.0.0.1:9" in msg and "pw" not in msg
    assert "Dask scheduler at tcp://127.0.0.1:9" in unreachable("dask", "tcp://127.0.0.1:9")
    assert unreachable("dask", "inprocess") is None


def test_the_prefect_ui_is_told_its_own_api(monkeypatch):
    monkeypatch.delenv("PREFECT_UI_API_URL", raising=False)
    monkeypatch.delenv("PREFECT_SERVER_UI_API_URL", raising=False)
    cmd = servers.prefect_server(port=4278)
    assert cmd.env["PREFECT_UI_API_URL"] == "http://127.0.0.1:4278/api" == cmd.url
    assert (cmd.env["PREFECT_SERVER_API_HOST"], cmd.env["PREFECT_SERVER_API_PORT"]) == (
        "127.0.0.1",
        "4278",
    )
    wide = servers.prefect_server("0.0.0.0", 4300, insecure=True)
    assert (
        wide.env["PREFECT_UI_API_URL"].endswith(":4300/api")
        and "0.0.0.0" not in wide.env["PREFECT_UI_API_URL"]
    )
    # behind a proxy: the documented setting wins
    monkeypatch.setenv("PREFECT_UI_API_URL", "https://prefect.example.org/api")
    assert servers.prefect_server(port=4278).env["PREFECT_UI_API_URL"] == (
        "https://prefect.example.org/api"
    )
