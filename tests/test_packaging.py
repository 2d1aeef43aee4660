"""What ``pip install .`` puts into an environment: the library as ``hessian``, the orchestration
folders under the project's namespace ``hessian_sketch``, and no generic top-level packages."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONF = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_every_library_package_is_installed():
    found = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for p in (ROOT / "hessian").rglob("__init__.py")
        if "__pycache__" not in p.parts
    }
    assert found <= set(CONF["tool"]["setuptools"]["packages"]), found


def test_orchestration_is_installed_under_the_project_namespace():
    packages = CONF["tool"]["setuptools"]["packages"]
    dirs = CONF["tool"]["setuptools"]["package-dir"]
    assert {p.split(".")[0] for p in packages} == {"hessian", "hessian_sketch"}
    assert dirs == {f"hessian_sketch.{d}": d for d in ("deploy", "flows", "tasks")}
    assert CONF["project"]["scripts"]["hessian"] == "hessian_sketch.flows.cli:main"


def test_the_wheel_holds_the_two_namespaces_only(tmp_path):
    """Build the wheel (from a copy: setuptools builds in the source tree) and read its files."""
    import shutil
    import subprocess
    import sys
    import zipfile

    src = tmp_path / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for d in ("hessian", "flows", "tasks", "deploy"):
        shutil.copytree(ROOT / d, src / d, ignore=ignore)
    for f in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / f, src / f)
    r = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         str(src), "-w", str(tmp_path / "dist")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    (wheel,) = (tmp_path / "dist").glob("hessian_sketch-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names}
    assert {t for t in top if not t.endswith(".dist-info")} == {"hessian", "hessian_sketch"}
    for module in ("flows/cli.py", "flows/pipeline.py", "tasks/sketching.py", "deploy/cli.py"):
        assert f"hessian_sketch/{module}" in names
    assert "hessian/out_of_core/store.py" in names
    (entry,) = [n for n in names if n.endswith("entry_points.txt")]
    assert "hessian = hessian_sketch.flows.cli:main" in zipfile.ZipFile(wheel).read(entry).decode()
