"""Interrupts as users and schedulers send them, to a real ``hessian run``: Ctrl-C (SIGINT to
the process group, as a terminal sends it) during training, SIGTERM during the measurement,
SIGKILL at any time. Each must end the run within 10 s and leave no process behind (the
temporary Prefect server, the Dask scheduler and workers), a SIGKILL no listening port; the
interrupted run, resumed, must give the results of an uninterrupted one."""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import psutil
import pytest
import yaml

from .test_cli import HESSIAN

CONF = {
    "problem": "mnist_tiny",
    "train": {"record_steps": "0:1200:600"},
    "sketch": {"k": 40, "s": 80, "vectors_per_pass": 8},
    "analysis": {"random_draws": 10},
    "exact": {"enabled": False},
}
LIMIT = 10.0  # seconds from the signal to the end of every process of the run


def start(d: Path, *args) -> subprocess.Popen:
    env = os.environ | {"PREFECT_HOME": str(d / ".prefect"), "PYTHONWARNINGS": "ignore",
                        "XDG_CACHE_HOME": str(d / ".cache"), "COLUMNS": "160"}  # fmt: skip
    for key in ("PREFECT_API_URL", "MLFLOW_TRACKING_URI", "HESSIAN_DASK_ADDRESS"):
        env.pop(key, None)
    command, *rest = args or ("run",)
    return subprocess.Popen(
        [HESSIAN, command, "c.yaml", *rest], cwd=d, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, start_new_session=True,  # its own terminal group
    )  # fmt: skip


def directory(tmp_path, name) -> Path:
    d = tmp_path / name
    d.mkdir()
    (d / "c.yaml").write_text(yaml.safe_dump(CONF))
    return d


class Watch:
    """Every process the run starts (polled), to check afterwards that none is left."""

    def __init__(self, proc):
        self.root = psutil.Process(proc.pid)
        self.seen: dict[int, psutil.Process] = {}

    def poll(self):
        try:
            for p in self.root.children(recursive=True):
                self.seen.setdefault(p.pid, p)
        except psutil.NoSuchProcess:
            pass

    def wait_for(self, cond, proc, timeout=400):
        t = time.time()
        while time.time() - t < timeout:
            self.poll()
            if cond():
                return
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.2)
        raise AssertionError("timed out waiting for the run to get there")

    def alive(self) -> list[str]:
        out = []
        for p in self.seen.values():
            try:
                if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                    out.append(" ".join(p.cmdline())[:120])
            except psutil.NoSuchProcess:
                pass
        return out

    def listening(self) -> list:
        ports = []
        for p in self.seen.values():
            try:
                ports += [c.laddr for c in p.net_connections() if c.status == psutil.CONN_LISTEN]
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                pass
        return ports


def interrupt(proc, watch, sig, *, group):
    watch.poll()
    t0 = time.time()
    (os.killpg if group else os.kill)(proc.pid, sig)
    out, err = proc.communicate(timeout=60)
    deadline = t0 + LIMIT
    while watch.alive() and time.time() < deadline:
        time.sleep(0.2)
    return time.time() - t0, out, err


def results(d: Path) -> dict:
    s = json.loads((d / "runs" / "c" / "summary.json").read_text())
    return {r["step"]: (r["eigenvalues"], r["overlap"]["magnitude"]) for r in s["steps"]}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    d = directory(tmp_path_factory.mktemp("interrupts"), "whole")
    proc = start(d)
    _, err = proc.communicate(timeout=900)
    assert proc.returncode == 0, err[-3000:]
    return results(d) | {"dir": d}


def test_ctrl_c_in_training_then_sigterm_in_measuring_then_resume(tmp_path, uninterrupted):
    d = directory(tmp_path, "run")
    ck = d / "runs" / "c" / "checkpoints" / "step_000000.npz"

    proc = start(d)
    watch = Watch(proc)
    watch.wait_for(ck.exists, proc)  # training has begun
    seconds, _, err = interrupt(proc, watch, signal.SIGINT, group=True)
    assert proc.returncode == 130, err[-3000:]
    assert seconds < LIMIT and not watch.alive(), (seconds, watch.alive())
    assert "interrupted (SIGINT)" in err and "resume with: hessian run c.yaml" in err
    assert "Traceback" not in err

    done = d / "runs" / "c" / "sketches" / "step_000000.zarr" / "done" / "c"
    proc = start(d)
    watch = Watch(proc)
    watch.wait_for(lambda: done.exists() and any(done.iterdir()), proc)  # measuring
    seconds, _, err = interrupt(proc, watch, signal.SIGTERM, group=False)
    assert proc.returncode == 143, err[-3000:]
    assert seconds < LIMIT and not watch.alive(), (seconds, watch.alive())
    assert "interrupted (SIGTERM)" in err

    proc = start(d)
    _, err = proc.communicate(timeout=900)
    assert proc.returncode == 0, err[-3000:]
    got = results(d) | {"dir": d}
    assert got.keys() == uninterrupted.keys()
    for t, (lam, mag) in _steps(uninterrupted).items():
        np.testing.assert_allclose(got[t][0], lam, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(got[t][1], mag, rtol=1e-9, atol=1e-12)


def _steps(r):
    return {t: v for t, v in r.items() if t != "dir"}


def run_cli(d: Path, *args) -> subprocess.CompletedProcess:
    proc = start(d, *args)
    out, err = proc.communicate(timeout=900)
    return subprocess.CompletedProcess(args, proc.returncode, out, err)


def test_analyze_repairs_a_damaged_solution_and_keeps_the_summary(uninterrupted):
    d = uninterrupted["dir"]
    summary = d / "runs" / "c" / "summary.json"
    before = json.loads(summary.read_text())
    chunk = d / "runs" / "c" / "sketches" / "step_000600.zarr" / "eigenvalues" / "c" / "0"
    data = bytearray(chunk.read_bytes())
    data[len(data) // 2] ^= 0x10  # one bit of the stored eigenvalues
    chunk.write_bytes(bytes(data))
    r = run_cli(d, "analyze")
    assert r.returncode == 0, r.stderr[-3000:]
    assert "step 600: the solution's eigenvalues in" in r.stderr
    assert "solved again from the intact sketches" in r.stderr
    after = json.loads(summary.read_text())
    for key in ("mlflow", "work"):
        assert after[key] == before[key]
    for a, b in zip(after["steps"], before["steps"], strict=True):
        assert a["eigenvalues"] == b["eigenvalues"] and a["aposteriori"] == b["aposteriori"]


def test_divergence_is_one_line_and_keeps_the_checkpoints_before(tmp_path):
    d = directory(tmp_path, "run")
    r = run_cli(d, "train", "--set", "train.lr=1e6")
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert r.returncode == 2, r.stderr[-3000:]
    assert "Traceback" not in r.stderr
    assert len(errors) == 1 and errors[0].startswith("error: training diverged at step 1:")
    assert "the checkpoints of steps [0] are kept" in errors[0]
    assert (d / "runs" / "c" / "checkpoints" / "step_000000.npz").exists()


def test_sigkill_leaves_no_process_and_no_listening_port(tmp_path):
    d = directory(tmp_path, "run")
    proc = start(d)
    watch = Watch(proc)
    watch.wait_for(lambda: watch.listening(), proc)  # the temporary Prefect server is up
    ports = watch.listening()
    seconds, _, _ = interrupt(proc, watch, signal.SIGKILL, group=False)
    assert proc.returncode == -signal.SIGKILL
    assert not watch.alive() and seconds < LIMIT, watch.alive()
    listening = {c.laddr for c in psutil.net_connections() if c.status == psutil.CONN_LISTEN}
    assert not set(ports) & listening
