"""The public API: every name of ``hessian.__all__`` exists, and the wings are reachable."""

import importlib

import hessian


def test_every_public_name_exists():
    for name in hessian.__all__:
        assert getattr(hessian, name) is not None, name
    assert hessian.__version__


def test_the_wings_and_their_faces():
    for wing in ("operators", "solvers", "out_of_core", "study", "training", "problems"):
        module = importlib.import_module(f"hessian.{wing}")
        assert getattr(hessian, wing) is module
        for name in getattr(module, "__all__", []):
            assert hasattr(module, name), f"hessian.{wing}.{name}"


def test_the_out_of_core_path_is_public():
    assert hessian.OperatorSpec is hessian.operators.OperatorSpec
    assert hessian.SketchStore is hessian.out_of_core.SketchStore
    assert callable(hessian.out_of_core.sketch) and callable(hessian.out_of_core.solve)


def test_the_library_imports_no_orchestration():
    import subprocess
    import sys

    code = (
        "import sys, hessian, hessian.study.plots; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('prefect', 'mlflow', 'flows', 'tasks', 'deploy', 'hessian_sketch')); "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
