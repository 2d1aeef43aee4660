"""The example user problem (examples/digits_cnn.py, defined outside the library) end to end:
``hessian run`` by its import path, a model trained elsewhere through ``hessian sketch`` (out of
core, 2 Dask workers) and ``hessian analyze``, equal to the same factory registered by name."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import yaml

from hessian import out_of_core, problems, training
from hessian.operators import OperatorSpec
from hessian.out_of_core import SketchStore
from tests.flows.test_cli import hessian

ROOT = Path(__file__).resolve().parents[2]
CNN = "examples.digits_cnn:factory"
SKETCH = {"k": 8, "s": 16, "vectors_per_pass": 8}
N_HESSIAN = 100  # 10 digits per class: products cheap enough for a test
ENV = {"PYTHONPATH": str(ROOT)}  # the user's module on the import path (workers inherit it)


def _config(tmp_path, name, **fields) -> str:
    conf = {
        "problem": CNN, "n_hessian": N_HESSIAN, "sketch": SKETCH, "analysis": {"random_draws": 10},
        "exact": {"enabled": False}, "dask": {"n_workers": 2},
    } | fields  # fmt: skip
    (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(conf))
    return f"{name}.yaml"


def test_hessian_run_by_import_path(tmp_path):
    cfg = _config(tmp_path, "cnn", train={"record_steps": [0, 10]})
    r = hessian("run", cfg, cwd=tmp_path, env=ENV, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    summary = json.loads((tmp_path / "runs" / "cnn" / "summary.json").read_text())
    assert summary["problem"] == CNN and summary["D"] == 1_626
    assert [s["step"] for s in summary["steps"]] == [0, 10]
    store = SketchStore.open(str(tmp_path / "runs" / "cnn" / "sketches" / "step_000010.zarr"))
    assert OperatorSpec.from_json(store.group.attrs["spec"]).factory == CNN
    assert len(store.group.attrs["measured_by"]) == 2  # both Dask workers imported the factory


def test_a_model_trained_elsewhere_equals_the_registered_problem(tmp_path):
    p = problems.load(CNN, seed=7)  # someone else's training loop and seed
    training.sgd(p.model, p.train_data, steps=20, lr=0.3, batch_size=250, seed=7)
    torch.save(p.model.state_dict(), tmp_path / "model.pt")
    cfg = _config(tmp_path, "mine", checkpoint="model.pt")
    r = hessian("sketch", cfg, "--step", "0", cwd=tmp_path, env=ENV, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    r = hessian("analyze", cfg, cwd=tmp_path, env=ENV, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    run = tmp_path / "runs" / "mine"
    summary = json.loads((run / "summary.json").read_text())
    assert [s["step"] for s in summary["steps"]] == [0]
    store = SketchStore.open(str(run / "sketches" / "step_000000.zarr"))
    np.testing.assert_array_equal(store.params(), p.flat_params().numpy())
    # the same factory registered as a built-in, out of core on 2 Dask workers: the same sketch
    problems.register("digits_cnn", CNN)
    try:
        spec = OperatorSpec("digits_cnn", n_hessian=N_HESSIAN, vectors_per_pass=8)
        res, rep = out_of_core.sketch(
            str(tmp_path / "registered.zarr"), spec, store.params(), k=8, s=16,
            n_workers=2, progress=False,
        )  # fmt: skip
    finally:
        problems.unregister("digits_cnn")
    assert len(rep.workers) == 2
    other = SketchStore.open(str(tmp_path / "registered.zarr"))
    assert other.group.attrs["fingerprint"] == store.group.attrs["fingerprint"]
    np.testing.assert_allclose(res.eigenvalues, store.eigenvalues(), rtol=1e-6)
