"""What goes to MLflow: the tracking URI, params, and metrics by step and by k."""

from hessian_sketch.flows import tracking
from hessian_sketch.flows.config import RunConfig

from .records import K, certificate, record


def test_the_tracking_uri_and_artifacts(tmp_path, monkeypatch):
    cfg = RunConfig(problem="mnist_tiny", run_dir=str(tmp_path / "r")).resolve()
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert tracking.tracking_uri(cfg) == f"sqlite:///{tmp_path / 'r' / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5099")
    assert tracking.tracking_uri(cfg) == "http://127.0.0.1:5099"
    cfg.tracking.uri = "sqlite:///other.db"
    assert tracking.tracking_uri(cfg) == "sqlite:///other.db"
    local = tracking.artifact_location("sqlite:///x.db", cfg)
    assert local == (tmp_path / "r" / "mlartifacts").as_uri()
    assert tracking.artifact_location("http://127.0.0.1:5099", cfg) is None


def test_params_and_metrics():
    cfg = RunConfig(problem="mnist_tiny", sketch={"vectors_per_pass": 4}).resolve()
    p = tracking.params(cfg, {"git_commit": "abc", "versions": {"torch": "2.13.0"}})
    assert (p["problem"], p["vectors_per_pass"], p["vectors_per_block"]) == ("mnist_tiny", 4, 4)
    assert p["git_commit"] == "abc" and p["version.torch"] == "2.13.0"
    rec = record(20, exact=True)
    m = tracking.step_metrics(rec)
    by_key = {}
    for key, value, step in m:
        by_key.setdefault(key, []).append((step, value))
    assert [s for s, _ in by_key["eigenvalue"]] == list(range(1, K + 1))
    assert len(by_key["overlap/magnitude"]) == len(by_key["exact/overlap/best"]) == K
    assert by_key["train_loss"] == [(0, 2.3)]
    parent = tracking.pipeline_metrics({"steps": [rec], "timings": {"total": 9.0}})
    assert ("train_loss", 2.3, 20) in parent and ("total_seconds/total", 9.0, 0) in parent


def test_certificates_are_logged():
    rec = record(0)
    rec["certificate"] = certificate(4)
    m = {(name, step): v for name, v, step in tracking.step_metrics(rec)}
    assert m[("certified_rank", 0)] == 4 and m[("certified_fraction", 0)] == 4 / K
    assert abs(m[("certificate/residual", 3)] - 0.2) < 1e-12
    assert m[("certificate_max_residual", 0)] == 0.5
