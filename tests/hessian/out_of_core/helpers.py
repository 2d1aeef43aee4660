"""Shared by the out-of-core tests: the runner's sketch in this process, and the runner in a
subprocess (``python -m tests.hessian.out_of_core.runner``)."""

import os
import subprocess
import sys
import time
from pathlib import Path

from hessian.out_of_core import SketchStore, sketch

from .runner import spec as runner_spec

ROOT = Path(__file__).resolve().parents[3]
K, S = 60, 120
RUNNER = "tests.hessian.out_of_core.runner"


def run(url, **kw):
    kw = {"k": K, "s": S, "seed": 5, "dtype": "float64", "scheduler": "inprocess",
          "progress": False} | kw  # fmt: skip
    return sketch(str(url), runner_spec(8), **kw)


def start_runner(url, scheduler, k=K, s=S, block=8, *extra):
    env = os.environ | {"DASK_LOGGING__DISTRIBUTED": "error", "PYTHONWARNINGS": "ignore"}
    return subprocess.Popen(
        [sys.executable, "-m", RUNNER, str(url), scheduler, str(k), str(s), str(block), *extra],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip


def wait_done(url, n, proc, timeout=120):
    t = time.time()
    while time.time() - t < timeout:
        if (url / "done").exists():
            try:
                if SketchStore.open(str(url)).done().sum() >= n:
                    return
            except (FileNotFoundError, KeyError, ValueError):
                pass
        if proc.poll() is not None:
            raise AssertionError(f"runner ended early: {proc.communicate()}")
        time.sleep(0.05)
    raise AssertionError("timed out waiting for blocks")
