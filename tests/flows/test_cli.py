"""The ``hessian`` command as a user runs it: a subprocess per call, exit codes and messages."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .conftest import TINY

HESSIAN = str(Path(sys.executable).parent / "hessian")


def hessian(*args, cwd, timeout=300, env=None):
    extra = env or {}
    env = os.environ | {
        "PREFECT_HOME": str(Path(cwd) / ".prefect"),
        "PYTHONWARNINGS": "ignore",
        "COLUMNS": "160",
    }
    for key in ("PREFECT_API_URL", "MLFLOW_TRACKING_URI", "HESSIAN_DASK_ADDRESS"):
        env.pop(key, None)
    env |= extra
    return subprocess.run(
        [HESSIAN, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def test_help_and_config(tmp_path):
    r = hessian("--help", cwd=tmp_path)
    assert r.returncode == 0
    for cmd in ("run", "train", "sketch", "analyze", "exact", "ui", "config"):
        assert cmd in r.stdout
    r = hessian("config", "mnist_tiny", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    cfg = yaml.safe_load(r.stdout)
    assert cfg["problem"] == "mnist_tiny" and cfg["sketch"]["k"] == 100
    r = hessian("config", "nope", cwd=tmp_path)
    assert r.returncode == 2 and "unknown problem 'nope'" in r.stderr


@pytest.mark.parametrize(
    ("args", "text", "message"),
    [
        (["run", "missing.yaml"], None, "config file not found: missing.yaml"),
        (["run", "bad.yaml"], "sketch: {k: -1}\n", "sketch.k"),
        (["run", "bad.yaml"], "problem: mnist_tiny\ntrian: {}\n", "trian: unknown field"),
        (["train", "bad.yaml"], "train: {lr: 0}\n", "train.lr"),
        (["sketch", "ok.yaml", "--step", "7"], "problem: mnist_tiny\n", "step 7 is not a recorded"),
        (["exact", "big.yaml"], "problem: wide_mlp\n", "too large for a dense reference"),
        (["run", "--set", "sketch.k"], None, "expected section.field=value"),
        (["ui"], None, "no MLflow store"),
    ],
)
def test_errors_are_one_clear_line(tmp_path, args, text, message):
    if text is not None:
        (tmp_path / args[1]).write_text(text)
    r = hessian(*args, cwd=tmp_path)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert message in " ".join(r.stderr.split())
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "runs").exists()  # nothing half-made


def test_run_then_stages(tmp_path):
    conf = TINY | {
        "sketch": {"k": 12, "s": 24, "vectors_per_pass": 8},
        "dask": {"address": "inprocess"},
    }
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(conf))
    r = hessian("run", "tiny.yaml", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "mnist_tiny (D = 2,146)" in r.stdout and "runs/tiny" in r.stdout
    summary = json.loads((tmp_path / "runs" / "tiny" / "summary.json").read_text())
    assert [s["step"] for s in summary["steps"]] == [0, 20, 40]
    assert (tmp_path / "runs" / "tiny" / "mlflow.db").exists()
    # stages on the same run directory reuse what exists
    r = hessian("exact", "tiny.yaml", "--step", "20", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "sketch vs exact: subspace overlap" in r.stdout
    r = hessian("analyze", "tiny.yaml", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "Cached" in r.stdout + r.stderr and "summary:" in r.stdout
    # a stage that finds nothing to work on says so
    (tmp_path / "other.yaml").write_text(yaml.safe_dump(conf | {"name": "other"}))
    r = hessian("analyze", "other.yaml", cwd=tmp_path)
    assert r.returncode == 2 and "no solved sketches" in r.stderr and "Traceback" not in r.stderr


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the block ends


@pytest.mark.parametrize(
    ("var", "value", "message"),
    [
        ("PREFECT_API_URL", "http://127.0.0.1:{port}/api", "the Prefect server at http://127.0.0.1"),
        ("MLFLOW_TRACKING_URI", "http://u:pw@127.0.0.1:{port}",
         "the MLflow tracking server at http://u:***@127.0.0.1"),
        ("HESSIAN_DASK_ADDRESS", "tcp://127.0.0.1:{port}", "the Dask scheduler at tcp://127.0.0.1"),
    ],
)  # fmt: skip
def test_a_server_that_is_down_is_named(tmp_path, var, value, message):
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    r = hessian("run", "tiny.yaml", cwd=tmp_path, env={var: value.format(port=_closed_port())})
    assert r.returncode == 3, (r.stdout, r.stderr)
    text = " ".join(r.stderr.split())
    assert message in text and "not reachable" in text and "Traceback" not in r.stderr
    assert ":pw@" not in text  # no secret in the message


@pytest.mark.parametrize(
    ("module", "problem", "message"),
    [
        (None, "no_such_mod:factory", "cannot import 'no_such_mod'"),
        ("x = 1\n", "mine:factory", "module 'mine' has no attribute 'factory'"),
        ("def factory():\n    return 42\n", "mine:factory", "returned int, not a"),
        ("def factory():\n    raise OSError('data gone')\n", "mine:factory",
         "the factory raised OSError: data gone"),
    ],
)  # fmt: skip
def test_a_bad_user_problem_is_one_line(tmp_path, module, problem, message):
    """``problem: "package.module:factory"`` (the working directory is on its import path)."""
    if module is not None:
        (tmp_path / "mine.py").write_text(module)
    (tmp_path / "p.yaml").write_text(f"problem: '{problem}'\n")
    for cmd in (["run", "p.yaml"], ["sketch", "p.yaml"], ["config", problem]):
        r = hessian(*cmd, cwd=tmp_path)
        assert r.returncode == 2, (cmd, r.stdout, r.stderr)
        assert message in " ".join(r.stderr.split()) and problem in r.stderr, r.stderr
        assert "Traceback" not in r.stderr
    assert not (tmp_path / "runs").exists()


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="a machine without CUDA")
def test_cuda_without_cuda_is_one_line_and_nothing_written(tmp_path):
    (tmp_path / "gpu.yaml").write_text("problem: mnist_tiny\nsketch: {device: cuda}\n")
    for cmd in (["run", "gpu.yaml"], ["sketch", "gpu.yaml"], ["train", "gpu.yaml"]):
        r = hessian(*cmd, cwd=tmp_path)
        assert r.returncode == 2, r.stderr
        assert "sketch.device: device 'cuda': torch" in r.stderr and "sees no CUDA" in r.stderr
        assert "Traceback" not in r.stderr
    assert not (tmp_path / "runs").exists()
    (tmp_path / "bad.yaml").write_text("sketch: {device: gpu0}\n")
    r = hessian("run", "bad.yaml", cwd=tmp_path)
    assert r.returncode == 2 and "sketch.device" in r.stderr and "cuda:N" in r.stderr
