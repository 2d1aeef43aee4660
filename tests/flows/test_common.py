"""The flows' helpers: checkpoint identities, the run directory, task caches, provenance."""

import re

import yaml

from hessian_sketch.flows import common
from hessian_sketch.flows.plan import Plan
from hessian_sketch.tasks import analysis


def test_a_checkpoint_is_identified_by_its_step_path_and_hash():
    ck = {"step": 3, "path": "p", "sha256": "h", "loss": 1.0, "trained": True}
    assert common.checkpoint_id(ck) == {"step": 3, "path": "p", "sha256": "h"}


def test_prepare_writes_the_resolved_configuration(tmp_path):
    plan = Plan.of({"problem": "mnist_tiny", "run_dir": str(tmp_path / "r")})
    lay = common.prepare(plan)
    assert lay.root == tmp_path / "r" and lay.root.is_dir()
    assert yaml.safe_load(lay.config.read_text()) == plan.config.model_dump(mode="json")
    task = common.cached(analysis.analyze_step, lay)
    assert task.result_storage == lay.cache and task.name == "analyze-step"


def test_provenance():
    commit = common.git_commit()
    assert commit == "unknown" or re.fullmatch(r"[0-9a-f]{40}(-dirty)?", commit)
    v = common.versions()
    assert {"python", "torch", "numpy", "prefect", "mlflow", "hessian-sketch"} <= set(v)
    assert common.redact("http://u:pw@h:1") == "http://u:***@h:1"
