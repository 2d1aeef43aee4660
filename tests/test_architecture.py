"""The house rules, read from the sources: the arrows flows -> tasks -> hessian (and the CLI's
``hessian deploy``), no import cycle, no orchestration in the library, a test module for every
public module in a test tree that mirrors the packages."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: source folder -> the package it installs as
PACKAGES = {
    "hessian": "hessian",
    "flows": "hessian_sketch.flows",
    "tasks": "hessian_sketch.tasks",
    "deploy": "hessian_sketch.deploy",
}
#: what each layer may import of the project (besides itself)
ALLOWED = {
    "hessian": set(),
    "hessian_sketch.tasks": {"hessian"},
    "hessian_sketch.deploy": {"hessian"},  # its deployments name the flows by entrypoint only
    "hessian_sketch.flows": {"hessian", "hessian_sketch.tasks", "hessian_sketch.deploy"},
}


def _modules() -> dict[str, Path]:
    out = {}
    for folder, package in PACKAGES.items():
        for f in sorted((ROOT / folder).rglob("*.py")):
            parts = list(f.relative_to(ROOT / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join([package, *parts])] = f
    return out


MODULES = _modules()


def _imports(path: Path) -> set[str]:
    """Every module a file imports, at the top or inside a function (absolute imports only)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for a in node.names:
                full = f"{node.module}.{a.name}"
                out.add(full if full in MODULES else node.module)
    return out


def _layer(module: str) -> str | None:
    return next((p for p in ALLOWED if module == p or module.startswith(p + ".")), None)


def test_the_arrows_point_one_way():
    wrong = []
    for name, path in MODULES.items():
        mine = _layer(name)
        for imported in _imports(path):
            theirs = _layer(imported)
            if theirs and theirs != mine and theirs not in ALLOWED[mine]:
                wrong.append(f"{name} imports {imported}")
    assert not wrong, wrong


def test_the_library_imports_no_prefect_and_no_mlflow():
    wrong = [
        f"{name} imports {imported}"
        for name, path in MODULES.items()
        if _layer(name) == "hessian"
        for imported in _imports(path)
        if imported.split(".")[0] in ("prefect", "prefect_dask", "mlflow", "hessian_sketch")
    ]
    assert not wrong, wrong


def test_no_import_cycle():
    graph = {m: {i for i in _imports(p) if i in MODULES} for m, p in MODULES.items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m):
        state[m] = 1
        stack.append(m)
        for n in sorted(graph[m]):
            assert state.get(n) != 1, " -> ".join([*stack[stack.index(n) :], n])
            if n not in state:
                visit(n)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)


def test_a_test_module_for_every_public_module():
    """``hessian/solvers/sketch.py`` -> ``tests/hessian/solvers/test_sketch.py``; likewise for
    ``flows/``, ``tasks/``, ``deploy/`` (private modules, ``_name.py``, are tested through
    their users)."""
    missing = [
        str(f.relative_to(ROOT))
        for f in MODULES.values()
        if not f.name.startswith("_")
        and not (ROOT / "tests" / f.relative_to(ROOT).parent / f"test_{f.name}").exists()
    ]
    assert not missing, missing


def test_modules_stay_small():
    """A module holds one concept; past about 300 lines it is usually holding two."""
    long = {str(f.relative_to(ROOT)): n for f in MODULES.values()
            if (n := len(f.read_text().splitlines())) > 400}  # fmt: skip
    assert not long, long


def test_the_wings_of_the_library_are_layered():
    """problems <- operators <- solvers <- out_of_core <- study; training uses operators and
    problems; the shared modules (defaults, exceptions, _checks, ...) import no wing."""
    rank = {"problems": 0, "operators": 1, "solvers": 2, "training": 2, "out_of_core": 3,
            "study": 4}  # fmt: skip

    def wing(module):
        parts = module.split(".")
        return parts[1] if parts[0] == "hessian" and len(parts) > 1 else None

    wrong = []
    for name, path in MODULES.items():
        if _layer(name) != "hessian" or name == "hessian":
            continue
        for imported in _imports(path):
            a, b = wing(name), wing(imported)
            if b in rank and a != b and (a not in rank or rank[b] >= rank[a]):
                wrong.append(f"{name} imports {imported}")
    assert not wrong, wrong
