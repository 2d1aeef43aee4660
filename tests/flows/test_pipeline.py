"""The flows for real, on a tiny study: a temporary Prefect server, a LocalCluster for the
measurement blocks, an sqlite MLflow store read back with MlflowClient."""

import json
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from mlflow import MlflowClient

from hessian.out_of_core import SketchStore
from hessian_sketch.flows import pipeline
from hessian_sketch.flows.config import RunConfig

from .conftest import TINY

VALIDATIONS = []  # how often the first run validated its configuration


@pytest.fixture(scope="module")
def first(prefect_server, tmp_path_factory):
    root = tmp_path_factory.mktemp("pipeline")
    conf = TINY | {"name": "tiny", "run_dir": str(root / "tiny")}
    resolve = RunConfig.resolve
    with mock.patch.object(RunConfig, "resolve", lambda c: VALIDATIONS.append(1) or resolve(c)):
        summary = pipeline(conf)
    return conf, summary


def test_the_config_is_validated_once_per_run(first):
    """The pipeline validates its configuration once; the stage flows get the plan as it is."""
    assert len(VALIDATIONS) == 1


def test_summary_json(first):
    conf, summary = first
    on_disk = json.loads(Path(conf["run_dir"], "summary.json").read_text())
    assert on_disk == json.loads(json.dumps(summary))
    assert (summary["problem"], summary["D"], summary["k"], summary["s"]) == (
        "mnist_tiny",
        2146,
        16,
        32,
    )
    assert [s["step"] for s in summary["steps"]] == [0, 20, 40]
    assert summary["work"] == {"trained_steps": [0, 20, 40], "measured_steps": [0, 20, 40],
                               "hvps": 3 * 32}  # fmt: skip
    for s in summary["steps"]:
        lam = np.array(s["eigenvalues"])
        assert lam.shape == (16,) and (np.diff(np.abs(lam)) <= 1e-12).all()  # |lambda| order
        o = {n: np.array(c) for n, c in s["overlap"].items()}
        chance = np.array(s["chance"])
        np.testing.assert_allclose(chance, np.arange(1, 17) / 2146)
        assert (o["best"] >= o["magnitude"] - 1e-12).all() and (o["best"] >= o["random_mean"]).all()
        assert 0 < s["aposteriori"]["relative"] < 1.5
        assert s["train"]["loss"] > 0 and 0 < s["train"]["accuracy"] <= 1
        assert set(s["timings"]) >= {"measure", "solve", "aposteriori", "analyze", "exact"}
        ex = s["exact"]  # D = 2,146: the exact reference is on by default
        assert len(ex["overlap"]["magnitude"]) == 16
        assert 0 < ex["sketch_vs_exact"]["subspace_overlap"][-1] <= 1 + 1e-9
        assert set(s["grassmannian"]) == {"magnitude", "random", "best"}
    assert summary["steps"][-1]["train"]["loss"] < summary["steps"][0]["train"]["loss"]
    assert summary["across_steps"]["pairs"] == [[0, 20], [20, 40], [0, 40]]
    names = {p.rsplit("/", 1)[-1] for p in summary["plots"]}
    assert {"spectrum.png", "overlap_vs_step.png", "grassmannian_metrics.png",
            "across_steps.png", "overlap_vs_k_step_000040.png"} <= names  # fmt: skip


def test_mlflow_run(first):
    conf, summary = first
    ml = summary["mlflow"]
    assert ml["tracking_uri"].startswith("sqlite:///") and conf["run_dir"] in ml["tracking_uri"]
    client = MlflowClient(ml["tracking_uri"])
    run = client.get_run(ml["run_id"])
    assert run.info.status == "FINISHED"
    exp = client.get_experiment(ml["experiment_id"])  # opens on the model-training view
    assert exp.tags["mlflow.experimentKind"] == "custom_model_development"
    p = run.data.params
    assert (p["problem"], p["D"], p["k"], p["s"], p["noise"]) == ("mnist_tiny", "2146", "16",
                                                                   "32", "sparse")  # fmt: skip
    assert p["version.torch"].startswith("2.13") and p["git_commit"]
    loss = client.get_metric_history(ml["run_id"], "train_loss")
    assert sorted(m.step for m in loss) == [0, 20, 40]
    at_k = {
        m.step: m.value for m in client.get_metric_history(ml["run_id"], "overlap_at_k/magnitude")
    }
    assert at_k[40] == pytest.approx(summary["steps"][-1]["overlap"]["magnitude"][-1])
    children = client.search_runs(
        [ml["experiment_id"]], filter_string=f"tags.mlflow.parentRunId = '{ml['run_id']}'"
    )
    assert sorted(c.data.params["step"] for c in children) == ["0", "20", "40"]
    child = next(c for c in children if c.data.params["step"] == "40")
    hist = sorted(client.get_metric_history(child.info.run_id, "overlap/magnitude"),
                  key=lambda m: m.step)  # fmt: skip
    assert [m.step for m in hist] == list(range(1, 17))
    np.testing.assert_allclose(
        [m.value for m in hist], summary["steps"][-1]["overlap"]["magnitude"]
    )
    eig = client.get_metric_history(child.info.run_id, "eigenvalue")
    assert len(eig) == 16
    assert {a.path for a in client.list_artifacts(child.info.run_id, "plots")} == {
        "plots/overlap_vs_k_step_000040.png"
    }
    top = {a.path for a in client.list_artifacts(ml["run_id"])}
    assert {"summary.json", "config.yaml", "plots"} <= top
    plots = {a.path for a in client.list_artifacts(ml["run_id"], "plots")}
    assert "plots/spectrum.png" in plots and "plots/overlap_vs_step.png" in plots
    local = client.download_artifacts(ml["run_id"], "summary.json", conf["run_dir"] + "/dl")
    assert json.load(open(local))["steps"][0]["eigenvalues"] == summary["steps"][0]["eigenvalues"]


def test_second_run_recomputes_nothing(first):
    conf, summary = first
    root = conf["run_dir"]
    ck_stamps = {p: p.stat().st_mtime_ns for p in Path(root).glob("checkpoints/*.npz")}
    finished = {t: SketchStore.open(f"{root}/sketches/step_{t:06d}.zarr").finished_at()
                for t in (0, 20, 40)}  # fmt: skip
    again = pipeline(conf)
    assert again["work"] == {"trained_steps": [], "measured_steps": [], "hvps": 0}
    assert sorted(again["cached_tasks"]) == sorted(
        [f"analyze-step {t}" for t in (0, 20, 40)]
        + [f"exact-reference {t}" for t in (0, 20, 40)]
        + ["across-steps"]
        + ["aposteriori-error"] * 3
    )
    for t, stamps in finished.items():
        np.testing.assert_array_equal(
            SketchStore.open(f"{root}/sketches/step_{t:06d}.zarr").finished_at(), stamps
        )
    assert {p: p.stat().st_mtime_ns for p in Path(root).glob("checkpoints/*.npz")} == ck_stamps
    for a, b in zip(summary["steps"], again["steps"], strict=True):
        assert a["eigenvalues"] == b["eigenvalues"] and a["overlap"] == b["overlap"]
    assert again["mlflow"]["run_id"] != summary["mlflow"]["run_id"]  # one run per invocation
