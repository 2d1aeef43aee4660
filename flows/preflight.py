"""A run accepted or refused before anything starts: what can be checked without training or
measuring is checked here, before the temporary Prefect server starts and before anything in
the run directory is written (``config.yaml`` included).

    accepted = preflight.check(plan)      # raises one of the input errors below, else:
    accepted.stale_steps                  # checkpoints made from a data file since changed

Checks: the run directory can be written; the tracking URI has a scheme MLflow can use; the data
(a file or directory is read: shapes, dtypes, finite values, label range, enough samples of
every class for the Hessian subset); the checkpoints already there belong to this run (or are
stale: their data file changed); the sketch stores already there were made with these settings
and this operator's description; the sketch stores fit on their filesystem.

Raises ``ConfigError``, ``DataError``, ``FileNotFoundError``, ``CheckpointMismatchError``,
``StoreMismatchError`` or ``InsufficientSpaceError``: one line each, naming the field or file.
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from hessian import problems
from hessian.exceptions import ConfigError, StoreMismatchError
from hessian.out_of_core import SketchStore, check_space
from hessian.training import checkpoints
from hessian_sketch.flows.config import check_tracking_uri
from hessian_sketch.flows.plan import Plan

#: fields of the operator's description that define its matrix (the rest only its batching)
MATRIX_FIELDS = ("problem", "data", "n_hessian", "kind", "dtype", "seed", "n_train")


@dataclass
class Accepted:
    """A run that passed the checks: what it will redo, and notes for the log."""

    stale_steps: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


_ACCEPTED: dict[int, tuple[Plan, Accepted]] = {}


def check(plan: Plan, *, sketches: bool = True) -> Accepted:
    """Check the run of ``plan`` (once per plan: later calls return the first answer).

    Args:
        sketches: also check the sketch stores (settings, disk space).
    """
    hit = _ACCEPTED.get(id(plan))
    if hit is not None and hit[0] is plan:
        return hit[1]
    cfg = plan.config
    lay = plan.layout
    writable(lay.root)
    _tracking(cfg)
    source, n = problems.check_data(
        cfg.problem, cfg.data, n_hessian=cfg.n_hessian, n_train=cfg.train.n_train
    )
    settings = {} if plan.train.state_dicts else plan.train.key_settings(source, n, cfg.D)
    key, legacy = plan.train.key(source, n, cfg.D), plan.train.legacy(source, n, cfg.D)
    accepted = Accepted()
    if lay.checkpoints.is_dir():
        accepted.stale_steps = checkpoints.check_directory(
            lay.checkpoints, key, settings, legacy_key=legacy
        )
    if sketches:
        _stores(plan, accepted.stale_steps)
    _ACCEPTED[id(plan)] = (plan, accepted)
    return accepted


def writable(root: Path) -> None:
    """Refuse a run directory that cannot be written (probed with a temporary file, so root's
    and ACLs' answers are the real ones); nothing is left behind."""
    root = Path(root)
    try:
        _writable(root)
    except PermissionError as e:
        raise ConfigError(
            f"run_dir: {e.filename or root} cannot be reached (permission denied): make it "
            "accessible or choose another run_dir"
        ) from None


def _writable(root: Path) -> None:
    if root.exists() and not root.is_dir():
        raise ConfigError(f"run_dir: {root} exists and is not a directory")
    base = root
    while not base.exists() and base != base.parent:
        base = base.parent
    if not base.is_dir():
        raise ConfigError(f"run_dir: {base} is not a directory, so {root} cannot be made")
    probes = [base] + [d for d in (root / "checkpoints", root / "sketches") if d.is_dir()]
    for d in probes:
        try:
            fd, name = tempfile.mkstemp(prefix=".hessian-probe-", dir=d)
            os.close(fd)
            os.unlink(name)
        except OSError as e:
            reason = "read-only" if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS) else ""
            raise ConfigError(
                f"run_dir: {d} is not writable ({reason or e.strerror}): make it writable or "
                "choose another run_dir"
            ) from None


def _tracking(cfg) -> None:
    from hessian_sketch.flows.tracking import tracking_uri

    uri = tracking_uri(cfg)
    where = "tracking.uri" if cfg.tracking.uri else "$MLFLOW_TRACKING_URI"
    try:
        check_tracking_uri(uri)
    except ValueError as e:
        raise ConfigError(f"{where}: {e}") from None


def _stores(plan: Plan, stale: list[int]) -> None:
    """Existing stores: same settings and operator description; new ones (the sketch stores and,
    in accurate mode, the accurate solver's): disk space."""
    D = plan.config.D
    want = plan.sketch.settings(D)
    mine = json.loads(plan.sketch.operator.to_json())
    needs = []
    for t in plan.train.record_steps:
        path = plan.layout.sketch(t)
        if t not in stale and (path / "zarr.json").exists():
            try:
                store = SketchStore.open(str(path))
            except (OSError, ValueError, KeyError, TypeError) as e:
                raise StoreMismatchError(
                    f"{path} is not a readable sketch store ({' '.join(str(e).split())}): "
                    "delete it to start over"
                ) from None
            store.check_settings(want)
            theirs = json.loads(store.group.attrs.get("spec") or "{}")
            diff = {k: (theirs.get(k), mine.get(k)) for k in MATRIX_FIELDS
                    if theirs and theirs.get(k) != mine.get(k)}  # fmt: skip
            store.refuse_differences(diff)
        needs.append((str(path), want))
        if plan.accurate is not None:  # its basis store, after the sketch: refused up front too
            needs.append((str(plan.layout.accurate(t)), plan.accurate.settings(D)))
    check_space(needs)
