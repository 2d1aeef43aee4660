"""Bad input as a new user gives it: one clear line, exit code 2, nothing changed on disk.

Every case is a real ``hessian`` subprocess in a directory of its own, with real files (YAML,
TOML, .npz data, checkpoints, Zarr stores). Each asserts the exit code, that stderr is one line
naming the problem with no traceback, and that no file in the directory was added, removed or
changed (``config.yaml`` included). All of them fail before the temporary Prefect server would
start, and the selected cases run in parallel (one fixture), so the suite takes about a minute.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import yaml

from .test_cli import HESSIAN

TINY = "problem: mnist_tiny\ntrain: {record_steps: [0, 20]}\nsketch: {k: 8, s: 16}\n"
SHAPE = (1, 16, 16)


@dataclass
class Case:
    id: str
    args: list[str]
    message: str  # must appear in the one line (whitespace-normalised)
    files: dict = field(default_factory=dict)  # name -> str | bytes | callable(path)
    env: dict = field(default_factory=dict)
    setup: object = None  # callable(directory), after the files
    code: int = 2
    as_nobody: bool = False  # run as an unprivileged user (a read-only directory for root too)


# --- real files -----------------------------------------------------------------------------
def npz(**arrays):
    def write(path):
        np.savez(path, **arrays)

    return write


def good_xy(n=200, classes=10, seed=0):
    g = np.random.default_rng(seed)
    return g.random((n, *SHAPE), dtype=np.float32), np.arange(n) % classes


def truncated(path):
    x, y = good_xy()
    np.savez(path, x=x, y=y)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def data_case(id, message, writer, extra="", train=""):
    text = TINY.replace("train: {", "train: {" + train) + f"data: data.npz\n{extra}"
    return Case(id, ["run", "c.yaml"], message, {"c.yaml": text, "data.npz": writer})


def other_run_checkpoints(d):
    from hessian.training import checkpoints

    params = np.zeros(2146, dtype=np.float32)
    checkpoints.save(
        d / "runs" / "c" / "checkpoints",
        0,
        params,
        loss=2.3,
        accuracy=0.1,
        key="0123456789abcdef",
        settings={"problem": "mnist_tiny", "lr": 9.9},
    )
    (d / "runs" / "c" / "config.yaml").write_text("problem: mnist_tiny  # the earlier run\n")


def store_of_other_settings(d):
    from hessian.out_of_core import SketchSettings, SketchStore

    url = str(d / "runs" / "c" / "sketches" / "step_000000.zarr")
    SketchStore.open_or_create(url, SketchSettings(D=2146, k=4, s=8), "fingerprint-x")
    (d / "runs" / "c" / "config.yaml").write_text("problem: mnist_tiny  # the earlier run\n")


def broken_store(d):
    path = d / "runs" / "c" / "sketches" / "step_000000.zarr"
    path.mkdir(parents=True)
    (path / "zarr.json").write_text('{"zarr_format": 3, "node_type": "gr')


def read_only_run_dir(d):
    run = d / "runs" / "c"
    run.mkdir(parents=True)
    (run / "config.yaml").write_text("problem: mnist_tiny  # the earlier run\n")
    run.chmod(0o555)


x200, y200 = good_xy()
xnan = x200.copy()
xnan[3, 0, 2, 2] = np.nan

CASES = [
    # --- configuration files ---
    Case("missing-file", ["run", "nope.yaml"], "config file not found: nope.yaml"),
    Case("empty-file", ["run", "c.yaml"], "the file is empty", {"c.yaml": ""}),
    Case("binary-file", ["run", "c.yaml"], "a binary file", {"c.yaml": bytes(range(256)) * 4}),
    Case(
        "latin-1-file",
        ["run", "c.yaml"],
        "not UTF-8 text",
        {"c.yaml": "problem: mnist_tiny # caf\xe9\n".encode("latin-1")},
    ),
    Case("yaml-syntax", ["run", "c.yaml"], "not valid YAML", {"c.yaml": "sketch: {k: 2\n"}),
    Case("toml-syntax", ["run", "c.toml"], "not valid TOML", {"c.toml": "[sketch\nk = 2\n"}),
    Case(
        "duplicate-section",
        ["run", "c.yaml"],
        "duplicate key 'sketch'",
        {"c.yaml": "problem: mnist_tiny\nsketch: {k: 2}\nsketch: {s: 4}\n"},
    ),
    Case(
        "duplicate-field",
        ["run", "c.yaml"],
        "duplicate key 'k'",
        {"c.yaml": "problem: mnist_tiny\nsketch:\n  k: 2\n  k: 3\n"},
    ),
    Case(
        "top-level-list",
        ["run", "c.yaml"],
        "expected a mapping of fields",
        {"c.yaml": "- problem\n"},
    ),
    Case(
        "unknown-field",
        ["run", "c.yaml"],
        "trian: unknown field",
        {"c.yaml": "problem: mnist_tiny\ntrian: {}\n"},
    ),
    Case(
        "unknown-section-field",
        ["run", "c.yaml"],
        "sketch.kk: unknown field",
        {"c.yaml": "sketch: {kk: 2}\n"},
    ),
    Case(
        "section-not-mapping",
        ["run", "c.yaml"],
        "sketch: Input should be",
        {"c.yaml": "sketch: 5\n"},
    ),
    Case(
        "bool-as-int",
        ["run", "c.yaml"],
        "sketch.k: expected an integer, got the boolean",
        {"c.yaml": "sketch: {k: true}\n"},
    ),
    Case(
        "bool-as-float",
        ["run", "c.yaml"],
        "train.lr: expected a number, got the boolean",
        {"c.yaml": "train: {lr: yes}\n"},
    ),
    Case(
        "bool-in-list",
        ["run", "c.yaml"],
        "train.record_steps: expected a list of integers",
        {"c.yaml": "train: {record_steps: [0, true]}\n"},
    ),
    Case(
        "negative-k",
        ["run", "c.yaml"],
        "sketch.k: Input should be greater than or equal to 1",
        {"c.yaml": "sketch: {k: -1}\n"},
    ),
    Case(
        "fractional-k",
        ["run", "c.yaml"],
        "sketch.k: Input should be a valid integer",
        {"c.yaml": "sketch: {k: 2.5}\n"},
    ),
    Case(
        "k-above-s",
        ["run", "c.yaml"],
        "sketch.k = 30 must not exceed sketch.s = 20",
        {"c.yaml": "problem: mnist_tiny\nsketch: {k: 30, s: 20}\n"},
    ),
    Case(
        "s-above-D",
        ["run", "c.yaml"],
        "exceeds the number of parameters D = 2,146",
        {"c.yaml": "problem: mnist_tiny\nsketch: {k: 10, s: 5000}\n"},
    ),
    Case(
        "unknown-problem",
        ["run", "c.yaml"],
        "unknown problem 'mnist_huge'",
        {"c.yaml": "problem: mnist_huge\n"},
    ),
    Case(
        "bad-step-range",
        ["run", "c.yaml"],
        'expected "start:stop:every"',
        {"c.yaml": "train: {record_steps: '0:10'}\n"},
    ),
    Case(
        "repeated-steps",
        ["run", "c.yaml"],
        "steps must not repeat",
        {"c.yaml": "train: {record_steps: [0, 10, 10]}\n"},
    ),
    Case(
        "step-after-end",
        ["run", "c.yaml"],
        "step 50 is after train.steps = 20",
        {"c.yaml": "train: {record_steps: [0, 50], steps: 20}\n"},
    ),
    Case(
        "infinite-lr",
        ["run", "c.yaml"],
        "train.lr: Input should be a finite number",
        {"c.yaml": "train: {lr: .inf}\n"},
    ),
    Case(
        "huge-seed",
        ["run", "c.yaml"],
        "train.seed: Input should be less than or equal to",
        {"c.yaml": f"train: {{seed: {2**70}}}\n"},
    ),
    Case(
        "name-escapes-runs",
        ["run", "c.yaml"],
        "'../../../x' is not a run name",
        {"c.yaml": "name: ../../../x\n"},
    ),
    Case(
        "exact-step-not-recorded",
        ["run", "c.yaml"],
        "exact.steps: [30] are not in",
        {"c.yaml": TINY + "exact: {steps: [30]}\n"},
    ),
    Case(
        "n-hessian-not-balanced",
        ["run", "c.yaml"],
        "n_hessian = 55 must be a multiple",
        {"c.yaml": "problem: mnist_tiny\nn_hessian: 55\n"},
    ),
    Case(
        "chunk-rows",
        ["run", "c.yaml"],
        "sketch.chunk_rows: must be a multiple of 65,536",
        {"c.yaml": "sketch: {chunk_rows: 100000}\n"},
    ),
    Case(
        "metric-k-above-k",
        ["run", "c.yaml"],
        "analysis.metric_ks: values must lie in 1..",
        {"c.yaml": TINY + "analysis: {metric_ks: [100]}\n"},
    ),
    # --- overrides on the command line ---
    Case(
        "override-bad-yaml",
        ["run", "c.yaml", "--set", "sketch.k=[1"],
        "override 'sketch.k=[1': not a valid YAML value",
        {"c.yaml": TINY},
    ),
    Case("override-no-value", ["run", "--set", "sketch.k"], "expected section.field=value"),
    Case("override-unknown", ["run", "--set", "skech.k=3"], "skech: unknown field"),
    Case(
        "override-zero-batch",
        ["train", "--set", "train.batch_size=0"],
        "train.batch_size: Input should be greater than or equal to 1",
    ),
    # --- tracking ---
    Case(
        "tracking-scheme",
        ["run", "c.yaml"],
        "unsupported tracking URI scheme 'ftp'",
        {"c.yaml": TINY + "tracking: {uri: 'ftp://host/x'}\n"},
    ),
    Case(
        "tracking-env-scheme",
        ["run", "c.yaml"],
        "$MLFLOW_TRACKING_URI: unsupported tracking URI scheme 'gopher'",
        {"c.yaml": TINY},
        env={"MLFLOW_TRACKING_URI": "gopher://host"},
    ),
    # --- data files (.npz for mnist_tiny: x (N, 1, 16, 16), y (N,), 10 classes) ---
    Case(
        "data-missing",
        ["run", "c.yaml"],
        "data: no such file or directory: gone.npz",
        {"c.yaml": TINY + "data: gone.npz\n"},
    ),
    data_case("npz-truncated", "not a readable .npz file (truncated or damaged", truncated),
    data_case("npz-garbage", "not a readable .npz file", b"PK\x03\x04 this is no zip" * 50),
    data_case("npz-no-y", "no array 'y'", npz(x=x200)),
    data_case("npz-no-x", "no array 'x'", npz(y=y200)),
    data_case(
        "npz-wrong-shape",
        "x has shape (200, 3, 16, 16), expected (N, 1, 16, 16)",
        npz(x=np.zeros((200, 3, 16, 16), np.float32), y=y200),
    ),
    data_case("npz-y-length", "y must be 200 integer labels", npz(x=x200, y=y200[:150])),
    data_case("npz-y-float", "y must be 200 integer labels", npz(x=x200, y=y200.astype(float))),
    data_case(
        "npz-x-strings", "x must hold real numbers", npz(x=np.full((200, *SHAPE), "a"), y=y200)
    ),
    data_case("npz-label-high", "labels outside 0..9 (found 1..10)", npz(x=x200, y=y200 + 1)),
    data_case(
        "npz-nan",
        "x holds 1 non-finite values (NaN or inf, first in sample 3)",
        npz(x=xnan, y=y200),
    ),
    data_case(
        "npz-few-samples",
        "too few samples for the Hessian subset of n_hessian = 500",
        npz(x=x200, y=y200),
    ),
    data_case(
        "npz-few-classes", "class 5 has only 0 samples", npz(x=x200, y=y200 % 5), "n_hessian: 100\n"
    ),
    data_case(
        "n-train-above-data",
        "n_train=500 exceeds the 200 samples",
        npz(x=x200, y=y200),
        "n_hessian: 100\n",
        train="n_train: 500, ",
    ),
    Case(
        "hessian-subset-above-digits",
        ["run", "c.yaml"],
        "too few samples for the Hessian subset of n_hessian = 5000",
        {"c.yaml": "problem: mnist_tiny\nn_hessian: 5000\n"},
    ),
    # --- run directories, checkpoints and stores ---
    Case(
        "run-dir-is-file",
        ["run", "c.yaml"],
        "exists and is not a directory",
        {"c.yaml": TINY + "run_dir: afile\n", "afile": "x"},
    ),
    Case(
        "run-dir-read-only",
        ["run", "c.yaml"],
        "is not writable (read-only)",
        {"c.yaml": TINY},
        setup=read_only_run_dir,
        as_nobody=True,
    ),
    Case(
        "checkpoints-of-another-run",
        ["run", "c.yaml"],
        "written by another training run",
        {"c.yaml": TINY},
        setup=other_run_checkpoints,
    ),
    Case(
        "store-of-other-settings",
        ["run", "c.yaml"],
        "k: store has 4, asked 8",
        {"c.yaml": TINY},
        setup=store_of_other_settings,
    ),
    Case(
        "store-unreadable",
        ["run", "c.yaml"],
        "is not a readable sketch store",
        {"c.yaml": TINY},
        setup=broken_store,
    ),
    Case(
        "no-disk-space",
        ["run", "c.yaml"],
        "not enough disk space for 3 stores (the largest: ",
        {"c.yaml": "problem: wide_mlp\nsketch: {k: 5000, s: 10000}\n"},
    ),
    Case(  # the sketch would fit; the accurate solver's basis (n_max columns) would not
        "no-disk-space-accurate",
        ["run", "c.yaml"],
        "/runs/c/accurate/step_000100.zarr, 42.3 TB): needs",
        {
            "c.yaml": "problem: wide_mlp\ntrain: {record_steps: [100]}\n"
            "sketch: {k: 10, s: 20, mode: accurate, n_max: 1000000}\n"
        },
    ),
    # --- commands ---
    Case(
        "step-not-recorded",
        ["sketch", "c.yaml", "--step", "7"],
        "step 7 is not a recorded",
        {"c.yaml": TINY},
    ),
    Case(
        "exact-too-large",
        ["exact", "c.yaml"],
        "too large for a dense reference",
        {"c.yaml": "problem: wide_mlp\n"},
    ),
    Case("analyze-nothing", ["analyze", "c.yaml"], "no solved sketches in", {"c.yaml": TINY}),
]
IDS = [c.id for c in CASES]
assert len(set(IDS)) == len(IDS)


def snapshot(root: Path) -> dict:
    """Every file and directory under ``root`` (but the caches) -> a hash of its content."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if rel.split("/")[0] in (".prefect", ".cache"):
            continue
        out[rel] = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
    return out


def _run_case(case: Case, root: Path) -> dict:
    d = root / case.id
    d.mkdir()
    for name, content in case.files.items():
        p = d / name
        if callable(content):
            content(p)
        elif isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content)
    if case.setup:
        case.setup(d)
    before = snapshot(d)
    env = os.environ | {
        "PREFECT_HOME": str(root / ".prefect" / case.id),
        "XDG_CACHE_HOME": str(root / ".cache"),
        "PYTHONWARNINGS": "ignore",
        "COLUMNS": "80",
    }
    for key in ("PREFECT_API_URL", "MLFLOW_TRACKING_URI", "HESSIAN_DASK_ADDRESS", "HESSIAN_DEBUG"):
        env.pop(key, None)
    env |= case.env
    cmd = [HESSIAN, *case.args]
    if case.as_nobody and os.geteuid() == 0:  # root writes anywhere: be somebody else
        cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *cmd]
        env["HOME"] = str(root / ".cache")
    r = subprocess.run(cmd, cwd=d, env=env, capture_output=True, text=True, timeout=240)
    return {
        "rc": r.returncode,
        "stdout": r.stdout,
        "stderr": r.stderr,
        "before": before,
        "after": snapshot(d),
    }


@pytest.fixture(scope="module")
def results(request):
    """The selected cases, run in parallel (each a subprocess in its own directory)."""
    # a directory any user can reach (pytest's own is root's alone): for the unprivileged case
    root = Path(tempfile.mkdtemp(prefix="hessian-bad-input-"))
    for sub in (".prefect", ".cache"):
        (root / sub).mkdir()
        (root / sub).chmod(0o777)
    root.chmod(0o755)
    wanted = {
        item.callspec.params["case"].id
        for item in request.session.items
        if getattr(item, "originalname", None) == "test_bad_input"
    }
    cases = [c for c in CASES if c.id in wanted]
    with ThreadPoolExecutor(max_workers=3) as pool:
        done = dict(
            zip([c.id for c in cases], pool.map(lambda c: _run_case(c, root), cases), strict=True)
        )
    yield done
    ro = root / "run-dir-read-only" / "runs" / "c"
    if ro.exists():
        ro.chmod(0o755)
    shutil.rmtree(root, ignore_errors=True)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_bad_input(case, results):
    r = results[case.id]
    lines = [line for line in r["stderr"].splitlines() if line.strip()]
    assert r["rc"] == case.code, (r["rc"], r["stderr"][-3000:])
    assert "Traceback" not in r["stderr"]
    assert len(lines) == 1, r["stderr"]
    assert lines[0].startswith("error: ")
    assert case.message in " ".join(lines[0].split()), lines[0]
    assert r["after"] == r["before"]  # nothing added, removed or changed


def test_the_suite_is_large_enough():
    assert len(CASES) >= 40
    kinds = {c.args[0] for c in CASES}
    assert {"run", "train", "sketch", "exact", "analyze"} <= kinds


def test_debug_shows_the_traceback(tmp_path):
    (tmp_path / "c.yaml").write_text("sketch: {k: 2}\nsketch: {k: 3}\n")
    env = os.environ | {"PREFECT_HOME": str(tmp_path / ".prefect"), "PYTHONWARNINGS": "ignore"}
    r = subprocess.run(
        [HESSIAN, "--debug", "run", "c.yaml"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert r.returncode != 0 and "Traceback" in r.stderr and "duplicate key" in r.stderr


def test_the_configs_shipped_still_load():
    from hessian_sketch.flows.loading import load_config

    root = Path(__file__).resolve().parents[2] / "configs"
    for f in sorted(root.glob("*.yaml")) + sorted(root.glob("*.toml")):
        assert load_config(f).problem
    assert yaml.safe_load((root / "tiny.yaml").read_text())["problem"] == "mnist_tiny"
