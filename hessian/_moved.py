"""Old import paths of the library, kept working after its modules moved into wings.

``import hessian.store`` (and ``from hessian.store import SketchStore``, and the attribute
``hessian.store``) still work: a finder on ``sys.meta_path`` answers for the old names in
``MOVED`` with the module that took their place, and warns (``DeprecationWarning``) with the new
path. An old module whose content went to several new ones answers with a module that looks each
name up in them, in order. Names that were renamed are in ``RENAMED``; an old path that cannot
be kept is in ``GONE`` and fails with a message naming the new one.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types
import warnings

#: old module -> the modules that hold its names now (the first is where it moved)
MOVED: dict[str, tuple[str, ...]] = {
    "hessian._operator_base": ("hessian.operators.base", "hessian.operators.params"),
    "hessian.hessian_operator": ("hessian.operators.hessian",),
    "hessian.ggn_operator": ("hessian.operators.ggn",),
    "hessian.spec": ("hessian.operators.spec", "hessian.operators.params"),
    "hessian.eigen": (
        "hessian.solvers.result",
        "hessian.solvers.linalg",
        "hessian.operators.counting",
        "hessian.solvers.accuracy",
    ),
    "hessian.krylov": ("hessian.solvers.accurate",),
    "hessian.exact": ("hessian.solvers.exact", "hessian.solvers.linalg"),
    "hessian.errors": ("hessian.solvers.accuracy",),
    "hessian.test_matrices": ("hessian.solvers.sketching_matrices",),
    "hessian.store": ("hessian.out_of_core.store",),
    "hessian.measure": (
        "hessian.out_of_core.measure",
        "hessian.out_of_core.blocks",
        "hessian.out_of_core.cluster",
    ),
    "hessian.streamed": ("hessian.out_of_core.streamed_solve", "hessian.out_of_core.passes"),
    "hessian.masks": ("hessian.study.masks",),
    "hessian.metrics": ("hessian.study.metrics",),
    "hessian.analysis": ("hessian.study.analysis",),
    "hessian.plots": ("hessian.study.plots",),
    "hessian.diagonal": ("hessian.study.diagonal",),
    "hessian.checkpoints": ("hessian.training.checkpoints",),
}

#: old name -> new name, wherever the old name is looked up
RENAMED: dict[str, str] = {
    "test_matrix": "sketching_matrix",
    "RandomTestMatrix": "SketchingMatrix",
}

#: old module paths that cannot be kept (``hessian.seigh`` is the function): -> the new path
GONE: dict[str, str] = {
    "hessian.seigh": "hessian.solvers.sketch (the function is still hessian.seigh)",
}


def _warn(old: str, new: str) -> None:
    warnings.warn(f"{old} moved to {new}", DeprecationWarning, stacklevel=3)


def lookup(old: str, name: str, modules: tuple[str, ...]):
    """``name`` of the old module ``old``, found in the new ``modules``; AttributeError naming
    them when none has it."""
    new = RENAMED.get(name, name)
    for target in modules:
        module = importlib.import_module(target)
        if hasattr(module, new):
            if new != name:
                _warn(f"{old}.{name}", f"{target}.{new}")
            return getattr(module, new)
    raise AttributeError(f"module {old!r} has no attribute {name!r} (it moved to {modules[0]})")


class _SplitModule(types.ModuleType):
    """An old module whose names now live in several modules."""

    def __init__(self, old: str, modules: tuple[str, ...]):
        super().__init__(old, f"moved to {', '.join(modules)}")
        self.__moved_to__ = modules

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return lookup(self.__name__, name, self.__moved_to__)

    def __dir__(self):
        names = set()
        for target in self.__moved_to__:
            names |= set(dir(importlib.import_module(target)))
        return sorted(names)


def old_module(old: str) -> types.ModuleType:
    """The module that answers for the old module path ``old``."""
    targets = MOVED[old]
    if len(targets) == 1:
        module = importlib.import_module(targets[0])
        if not any(hasattr(module, new) for new in RENAMED.values()):
            return module  # the very module: ``hessian.store is hessian.out_of_core.store``
    return _SplitModule(old, targets)


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname, path=None, target=None):
        if fullname in GONE:
            raise ModuleNotFoundError(f"{fullname} moved to {GONE[fullname]}", name=fullname)
        if fullname not in MOVED:
            return None
        return importlib.machinery.ModuleSpec(fullname, self)

    def create_module(self, spec):
        _warn(spec.name, MOVED[spec.name][0])
        return old_module(spec.name)

    def exec_module(self, module):
        pass


def install() -> None:
    """Put the finder on ``sys.meta_path`` (once)."""
    if not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.append(_Finder())
