"""Old import paths of the library keep working (with a DeprecationWarning naming the new path),
or fail with a message naming it."""

import importlib
import json
import subprocess
import sys

import pytest

import hessian
from hessian import _moved

# the old paths the README and users' scripts named, and what they must still give
OLD_NAMES = {
    "hessian.store": ["SketchStore", "SketchSettings", "StoreMismatchError", "CorruptBlockError"],
    "hessian.measure": ["run_measurements", "measure_block", "MeasureReport", "local_cluster"],
    "hessian.streamed": ["solve", "overlaps", "gather", "cross_overlap", "aposteriori_error"],
    "hessian.spec": ["OperatorSpec", "fingerprint", "flat_buffers", "load_flat_params"],
    "hessian.checkpoints": ["train_recorded", "Checkpoint", "CheckpointMismatchError", "save"],
    "hessian.analysis": ["analyze_sketch", "analyze_eigenpairs", "across_steps", "StepAnalysis"],
    "hessian.plots": ["spectrum", "overlap_vs_k", "overlap_vs_step", "metric_panels"],
    "hessian.masks": ["magnitude", "random", "best", "best_overlap", "ggn_diagonal"],
    "hessian.metrics": ["overlap", "chance", "principal_angles", "iou_curve"],
    "hessian.diagonal": ["hutchinson_diagonal", "exact_diagonal"],
    "hessian.test_matrices": ["test_matrix", "NOISES", "TILE_COLS", "SparseSign"],
    "hessian.eigen": ["EigenResult", "order_by_magnitude", "orth", "CountingOperator"],
    "hessian.errors": ["aposteriori_error", "scree_bounds", "residuals", "probability_bounds"],
    "hessian.exact": ["dense", "exact_eigh", "save_reference", "unit_columns"],
    "hessian.krylov": ["block_krylov_eigh"],
    "hessian.hessian_operator": ["HessianOperator"],
    "hessian.ggn_operator": ["GGNOperator"],
    "hessian._operator_base": ["CurvatureOperator", "flat_params"],
}


def test_the_table_covers_the_names_above():
    assert set(OLD_NAMES) == set(_moved.MOVED)


def test_old_module_paths_import_and_warn():
    """In a fresh interpreter each ``import old`` warns with the new path; its names are there."""
    code = "\n".join(
        [
            "import importlib, json, warnings",
            f"old_names = {OLD_NAMES!r}",
            "seen = {}",
            "for old, names in old_names.items():",
            "    with warnings.catch_warnings(record=True) as w:",
            "        warnings.simplefilter('always')",
            "        module = importlib.import_module(old)",
            "        missing = [n for n in names if not hasattr(module, n)]",
            "    seen[old] = [str(x.message) for x in w][:1] + missing",
            "print(json.dumps(seen))",
        ]
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    seen = json.loads(r.stdout.strip().splitlines()[-1])
    assert seen == {old: [f"{old} moved to {_moved.MOVED[old][0]}"] for old in OLD_NAMES}


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_old_attributes_are_the_new_objects():
    assert hessian.store.SketchStore is hessian.out_of_core.SketchStore
    assert hessian.streamed.solve is hessian.out_of_core.solve
    assert hessian.spec.OperatorSpec is hessian.OperatorSpec
    assert importlib.import_module("hessian.masks") is hessian.study.masks
    assert hessian.exact.save_reference is hessian.solvers.save_reference
    assert hessian.test_matrix is hessian.sketching_matrix
    from hessian.test_matrices import RandomTestMatrix, test_matrix

    assert test_matrix is hessian.sketching_matrix
    assert RandomTestMatrix is hessian.solvers.SketchingMatrix
    from hessian import training

    assert training.sgd is hessian.training.loop.sgd  # the package took the module's place


def test_renamed_names_warn_with_the_new_name():
    with pytest.warns(DeprecationWarning, match="sketching_matrix"):
        hessian.test_matrix  # noqa: B018


def test_what_cannot_be_kept_names_the_new_path():
    with pytest.raises(ModuleNotFoundError, match=r"hessian\.solvers\.sketch"):
        importlib.import_module("hessian.seigh")
    assert callable(hessian.seigh)  # the function is untouched
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        hessian.nothing  # noqa: B018
    with pytest.warns(DeprecationWarning), pytest.raises(AttributeError, match="moved to"):
        importlib.import_module("hessian.eigen").nothing  # noqa: B018
