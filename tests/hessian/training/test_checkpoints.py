"""Training checkpoints: resuming gives the uninterrupted run; foreign directories are refused."""

import numpy as np
import pytest

from hessian import problems, training
from hessian.training import checkpoints

SETTINGS = {"steps": 30, "record_steps": [0, 10, 20, 30], "lr": 0.3, "batch_size": 100, "seed": 3}


def _train(directory, **kw):
    p = problems.load("mnist_tiny", seed=3)
    key = checkpoints.run_key(problem="mnist_tiny", **SETTINGS)
    return checkpoints.train_recorded(p, directory, key=key, **(SETTINGS | kw))


def test_resume_equals_uninterrupted(tmp_path):
    full = _train(tmp_path / "a")
    assert sorted(full) == [0, 10, 20, 30]
    # an interrupted run: only the first two checkpoints were written
    part = _train(tmp_path / "b", record_steps=[0, 10])
    assert sorted(part) == [0, 10]
    written = []
    key = checkpoints.run_key(problem="mnist_tiny", **SETTINGS)
    resumed = checkpoints.train_recorded(
        problems.load("mnist_tiny", seed=3), tmp_path / "b", key=key,
        on_record=written.append, **SETTINGS,
    )  # fmt: skip
    assert [c.step for c in written] == [20, 30]  # 0 and 10 were reused
    for t in (20, 30):
        np.testing.assert_allclose(resumed[t].params, full[t].params, rtol=0, atol=1e-6)
        assert resumed[t].loss == pytest.approx(full[t].loss, rel=1e-5)
    assert full[30].loss < full[0].loss and 0 <= full[30].accuracy <= 1


def test_nothing_is_retrained(tmp_path):
    _train(tmp_path)
    stamps = {p: p.stat().st_mtime_ns for p in tmp_path.glob("*.npz")}
    _train(tmp_path)
    assert {p: p.stat().st_mtime_ns for p in tmp_path.glob("*.npz")} == stamps


def test_foreign_checkpoints_are_refused(tmp_path):
    _train(tmp_path, record_steps=[0])
    p = problems.load("mnist_tiny", seed=3)
    with pytest.raises(checkpoints.CheckpointMismatchError, match="another training run"):
        checkpoints.train_recorded(p, tmp_path, key="other", **SETTINGS)


def test_damaged_checkpoint_is_written_again(tmp_path):
    first = _train(tmp_path)
    path = checkpoints.path_for(tmp_path, 20)
    path.write_bytes(path.read_bytes()[:50])  # truncated
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        checkpoints.load(path)
    again = _train(tmp_path)
    np.testing.assert_allclose(again[20].params, first[20].params, atol=1e-6)
    assert not list(tmp_path.glob(".*tmp"))  # no temporary files left behind


def test_bad_arguments(tmp_path):
    p = problems.load("mnist_tiny")
    with pytest.raises(ValueError, match=r"record steps must lie in 0\.\.5"):
        checkpoints.train_recorded(
            p, tmp_path, steps=5, record_steps=[10], lr=0.1, batch_size=10, seed=0, key="k"
        )
    with pytest.raises(ValueError, match="start_step"):
        training.sgd(p.model, p.train_data, steps=3, lr=0.1, batch_size=10, start_step=4)
    loss, acc = training.evaluate(p.model, p.train_data)
    assert loss > 0 and 0 <= acc <= 1


def test_a_flipped_bit_is_detected_reported_and_trained_again(tmp_path):
    first = _train(tmp_path)
    path = checkpoints.path_for(tmp_path, 10)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x04  # inside the parameters
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"damaged|not a readable checkpoint"):
        checkpoints.load(path)
    said = []
    p = problems.load("mnist_tiny", seed=3)
    key = checkpoints.run_key(problem="mnist_tiny", **SETTINGS)
    again = checkpoints.train_recorded(p, tmp_path, key=key, on_problem=said.append, **SETTINGS)
    assert len(said) == 1 and str(path) in said[0] and "trained again" in said[0]
    np.testing.assert_allclose(again[10].params, first[10].params, atol=1e-6)
    checkpoints.load(path)  # intact again


def test_divergence_stops_at_its_step_and_keeps_the_checkpoints_before(tmp_path):
    p = problems.load("mnist_tiny", seed=3)
    with pytest.raises(training.TrainingDivergedError) as e:
        checkpoints.train_recorded(
            p, tmp_path, steps=40, record_steps=[0, 1, 40], lr=1e6, batch_size=100, seed=3,
            key="k",
        )  # fmt: skip
    msg = str(e.value)
    assert "training diverged at step" in msg and "lr = 1e+06" in msg
    assert "the checkpoints of steps [0, 1] are kept" in msg
    assert sorted(checkpoints.existing(tmp_path, "k")) == [0, 1]
