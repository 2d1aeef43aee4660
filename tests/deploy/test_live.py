"""The real servers on loopback ports chosen at run time, started as a user starts them: a
Prefect server and an MLflow server by ``hessian deploy prefect-server`` / ``mlflow-server``
(``uis``: enough for the quick check of what their UIs are told), then a process work pool,
deployments and a worker, and a Dask scheduler with two workers (``stack``). Every process is
started here and stopped here by process id (process groups)."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from hessian_sketch.deploy import servers

ROOT = Path(__file__).resolve().parents[2]
HESSIAN = str(Path(sys.executable).parent / "hessian")
PREFECT = str(Path(sys.executable).parent / "prefect")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Stack:
    def __init__(self, root: Path):
        self.root = root
        self.procs: list[tuple[str, subprocess.Popen]] = []
        self.env = os.environ | {
            "PREFECT_HOME": str(root / "prefect-home"),
            "PYTHONWARNINGS": "ignore",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "DASK_LOGGING__DISTRIBUTED": "warning",
        }
        for key in ("PREFECT_API_URL", "MLFLOW_TRACKING_URI", "HESSIAN_DASK_ADDRESS"):
            self.env.pop(key, None)

    def start(self, cmd: servers.ServerCommand, extra=None) -> subprocess.Popen:
        log = open(self.root / f"{cmd.name.replace(' ', '-')}-{len(self.procs)}.log", "w")
        p = subprocess.Popen(
            cmd.argv, env=self.env | cmd.env | (extra or {}), cwd=self.root, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        self.procs.append((cmd.name, p))
        return p

    def wait_http(self, url: str, proc: subprocess.Popen, timeout: float = 120) -> None:
        t = time.time()
        while time.time() - t < timeout:
            if proc.poll() is not None:
                raise AssertionError(f"{url}: the server exited with {proc.returncode}")
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        raise AssertionError(f"{url} did not come up in {timeout} s")

    def stop(self) -> None:
        for name, p in reversed(self.procs):
            if p.poll() is None:  # the Prefect worker ignores SIGTERM: SIGINT stops it
                os.killpg(p.pid, signal.SIGINT if name == "prefect worker" else signal.SIGTERM)
        for _, p in self.procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()

    def run(self, *argv, env=None, timeout=300):
        return subprocess.run(
            argv, env=self.env | (env or {}), cwd=self.root, capture_output=True, text=True,
            timeout=timeout,
        )  # fmt: skip


def api(base: str, path: str, body: dict | None = None):
    req = urllib.request.Request(
        base + path, data=json.dumps(body or {}).encode(),
        headers={"Content-Type": "application/json"}, method="POST" if body is not None else "GET",
    )  # fmt: skip
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


@pytest.fixture(scope="module")
def uis(tmp_path_factory):
    """A Prefect server and an MLflow server, each started by its ``hessian deploy`` command on a
    port chosen here (not Prefect's 4200 nor MLflow's 5000), as a user starts them."""
    root = tmp_path_factory.mktemp("stack")
    s = Stack(root)
    try:
        pp, mp = free_port(), free_port()
        for key in ("PREFECT_UI_API_URL", "PREFECT_SERVER_UI_API_URL"):
            s.env.pop(key, None)
        s.prefect, s.mlflow = f"http://127.0.0.1:{pp}/api", f"http://127.0.0.1:{mp}"
        prefect = s.start(
            servers.ServerCommand(
                "prefect server", [HESSIAN, "deploy", "prefect-server", "--port", str(pp)]
            ),
            {"PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "3"},
        )
        mlflow_argv = [
            HESSIAN, "deploy", "mlflow-server", "--port", str(mp),
            "--backend-store-uri", f"sqlite:///{root}/mlflow/mlflow.db",
            "--artifacts-destination", str(root / "mlflow" / "artifacts"),
        ]  # fmt: skip
        mlflow = s.start(servers.ServerCommand("mlflow server", mlflow_argv))
        s.wait_http(s.prefect + "/health", prefect)
        s.wait_http(s.mlflow + "/health", mlflow)
        s.env |= {"PREFECT_API_URL": s.prefect}
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="module")
def stack(uis):
    """The two servers of ``uis`` and a Dask scheduler with two workers (stopped with them)."""
    sched = servers.dask_scheduler(port=free_port())
    uis.start(sched)
    uis.start(servers.dask_worker(sched.url, n_workers=2, threads=1))
    uis.dask = sched.url
    cfg = {
        "name": "live", "problem": "mnist_tiny", "run_dir": str(uis.root / "runs" / "live"),
        "train": {"record_steps": [0, 20]}, "sketch": {"k": 12, "s": 48, "block_size": 4},
        "analysis": {"random_draws": 10}, "exact": {"enabled": False},
    }  # fmt: skip
    (uis.root / "live.yaml").write_text(yaml.safe_dump(cfg))
    return uis


def _flow_runs(stack, deployment: str) -> list[dict]:
    deps = api(
        stack.prefect, "/deployments/filter", {"deployments": {"name": {"any_": [deployment]}}}
    )
    return api(stack.prefect, "/flow_runs/filter",
               {"flow_runs": {"deployment_id": {"any_": [d["id"] for d in deps]}}})  # fmt: skip


def test_deployments_worker_schedule_mlflow_and_dask(stack):
    worker_env = {"MLFLOW_TRACKING_URI": stack.mlflow, "HESSIAN_DASK_ADDRESS": stack.dask}
    r = stack.run(HESSIAN, "deploy", "register", "live.yaml", "--pool", "live", "--interval", "20",
                  "--concurrency", "1")  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    assert "deployment pipeline/pipeline" in r.stdout
    stack.start(servers.prefect_worker("live"), worker_env)
    r = stack.run(PREFECT, "deployment", "run", "pipeline/pipeline")
    assert r.returncode == 0, r.stdout + r.stderr
    # the manual run (and the schedule's runs) complete
    t = time.time()
    done = []
    while time.time() - t < 420 and not done:
        runs = _flow_runs(stack, "pipeline")
        failed = [x for x in runs if x["state_type"] in ("FAILED", "CRASHED")]
        assert not failed, [x["state"]["message"] for x in failed]
        done = [x for x in runs if x["state_type"] == "COMPLETED"]
        time.sleep(3)
    assert done, "no pipeline flow run completed"
    summary = json.loads((stack.root / "runs" / "live" / "summary.json").read_text())
    # measurement blocks ran on the separately started Dask cluster, on both of its workers
    from hessian.out_of_core import SketchStore

    workers = set()
    for t in (0, 20):
        store = SketchStore.open(
            str(stack.root / "runs" / "live" / "sketches" / f"step_{t:06d}.zarr")
        )
        workers |= set(store.group.attrs["measured_by"])
    assert len(workers) == 2, workers
    assert not workers & {f"{socket.gethostname()}:{os.getpid()}"}  # not this process
    assert summary["mlflow"]["tracking_uri"] == stack.mlflow
    # MLflow: the run's metrics and artifacts through the server's REST API
    run_id = summary["mlflow"]["run_id"]
    run = api(stack.mlflow, f"/api/2.0/mlflow/runs/get?run_id={run_id}")["run"]
    assert run["info"]["status"] == "FINISHED"
    exp_id = run["info"]["experiment_id"]
    exp = api(stack.mlflow, f"/api/2.0/mlflow/experiments/get?experiment_id={exp_id}")
    tags = {t["key"]: t["value"] for t in exp["experiment"].get("tags", [])}
    assert tags["mlflow.experimentKind"] == "custom_model_development"  # the training view
    params = {p["key"]: p["value"] for p in run["data"]["params"]}
    assert params["problem"] == "mnist_tiny" and params["k"] == "12"
    hist = api(stack.mlflow, f"/api/2.0/mlflow/metrics/get-history?run_id={run_id}"
               "&metric_key=overlap_at_k/magnitude")["metrics"]  # fmt: skip
    assert sorted(m["step"] for m in hist) == [0, 20]
    arts = api(stack.mlflow, f"/api/2.0/mlflow/artifacts/list?run_id={run_id}&path=plots")
    assert "plots/spectrum.png" in {f["path"] for f in arts["files"]}
    # the interval schedule fires: a scheduled sketch run completes (it reuses the pipeline's work)
    t = time.time()
    scheduled = []
    while time.time() - t < 180 and not scheduled:
        scheduled = [x for x in _flow_runs(stack, "sketch") if x["state_type"] == "COMPLETED"]
        time.sleep(3)
    assert scheduled, "no scheduled sketch run completed"
    assert scheduled[0]["auto_scheduled"] is True


def test_the_uis_as_users_open_them(uis):
    """The Prefect UI of ``hessian deploy prefect-server --port P`` is told the API at P (Prefect's
    own default says 4200), and it answers there; the MLflow experiment that a run creates is
    tagged as a model-training experiment, and the run's link opens the training view."""
    base = uis.prefect.removesuffix("/api")
    assert not base.endswith(":4200")
    with urllib.request.urlopen(base + "/ui-settings", timeout=30) as r:
        settings = json.loads(r.read())
    assert settings["api_url"] == uis.prefect  # http://127.0.0.1:P/api
    assert api(settings["api_url"], "/health") is True
    cfg = {
        "name": "uis", "problem": "mnist_tiny", "run_dir": str(uis.root / "runs" / "uis"),
        "train": {"record_steps": [0]}, "sketch": {"k": 4, "s": 8},
        "analysis": {"random_draws": 2}, "exact": {"enabled": False},
        "dask": {"address": "inprocess"},
    }  # fmt: skip
    (uis.root / "uis.yaml").write_text(yaml.safe_dump(cfg))
    r = uis.run(HESSIAN, "run", "uis.yaml", env={"MLFLOW_TRACKING_URI": uis.mlflow})
    assert r.returncode == 0, r.stdout + r.stderr
    # the run is a completed flow run of the server the UI shows
    (name,) = re.findall(r"Beginning flow run '([^']+)' for flow 'pipeline'", r.stdout + r.stderr)
    (run,) = api(uis.prefect, "/flow_runs/filter", {"flow_runs": {"name": {"any_": [name]}}})
    assert run["state_type"] == "COMPLETED"
    ml = json.loads((uis.root / "runs" / "uis" / "summary.json").read_text())["mlflow"]
    exp = api(uis.mlflow, f"/api/2.0/mlflow/experiments/get?experiment_id={ml['experiment_id']}")
    tags = {t["key"]: t["value"] for t in exp["experiment"].get("tags", [])}
    assert tags["mlflow.experimentKind"] == "custom_model_development"
    assert ml["ui_route"] == (
        f"#/experiments/{ml['experiment_id']}/runs/{ml['run_id']}/model-metrics"
        "?workflowType=machine_learning"
    )
    assert f"MLflow: {uis.mlflow}/{ml['ui_route']}\n" in r.stdout  # whole, on one line
