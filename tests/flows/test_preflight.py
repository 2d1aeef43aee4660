"""The checks a run passes before anything starts, as a library call (the CLI's cases are in
test_bad_input.py)."""

import numpy as np
import pytest

from hessian.exceptions import CheckpointMismatchError, ConfigError, DataError
from hessian.training import checkpoints
from hessian_sketch.flows import preflight
from hessian_sketch.flows.plan import Plan

from .conftest import TINY


def plan(tmp_path, **extra):
    return Plan.of(TINY | {"run_dir": str(tmp_path / "run")} | extra)


def test_a_good_run_is_accepted_once_and_nothing_is_written(tmp_path):
    p = plan(tmp_path)
    a = preflight.check(p)
    assert a.stale_steps == [] and preflight.check(p) is a
    assert not (tmp_path / "run").exists()


def test_bad_data_is_refused_before_training(tmp_path):
    x = np.zeros((100, 1, 16, 16), np.float32)
    x[5] = np.nan
    np.savez(tmp_path / "d.npz", x=x, y=np.arange(100) % 10)
    with pytest.raises(DataError, match="non-finite"):
        preflight.check(plan(tmp_path, data=str(tmp_path / "d.npz"), n_hessian=50))


def test_checkpoints_of_another_run_are_refused(tmp_path):
    p = plan(tmp_path)
    checkpoints.save(tmp_path / "run" / "checkpoints", 0, np.zeros(3), loss=1, accuracy=0,
                     key="x" * 16)  # fmt: skip
    with pytest.raises(CheckpointMismatchError, match="another training run"):
        preflight.check(p)


def test_a_read_only_directory_is_refused(tmp_path):
    import os

    if os.geteuid() == 0:
        pytest.skip("root writes anywhere (test_bad_input.py runs this case unprivileged)")
    (tmp_path / "run").mkdir()
    (tmp_path / "run").chmod(0o555)
    try:
        with pytest.raises(ConfigError, match="not writable"):
            preflight.writable(tmp_path / "run")
    finally:
        (tmp_path / "run").chmod(0o755)
