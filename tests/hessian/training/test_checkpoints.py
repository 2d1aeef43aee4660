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


CNN = "examples.digits_cnn:factory"


def _trained_elsewhere(path, steps=5, seed=0, wrap=None):
    """The digits CNN trained by someone else's loop, saved as a state_dict file."""
    import torch

    p = problems.load(CNN, seed=seed)
    training.sgd(p.model, p.train_data, steps=steps, lr=0.3, batch_size=200, seed=seed)
    sd = p.model.state_dict()
    torch.save(wrap(sd) if wrap else sd, path)
    return p.flat_params().numpy()


@pytest.mark.parametrize(
    "wrap",
    [None, lambda sd: {"state_dict": sd, "epoch": 3},
     lambda sd: {f"module.{k}": v for k, v in sd.items()}],
    ids=["plain", "wrapped", "ddp"],
)  # fmt: skip
def test_state_dicts_are_the_checkpoints(tmp_path, wrap):
    want = _trained_elsewhere(tmp_path / "model.pt", wrap=wrap)
    req = training.TrainRequest(
        CNN, steps=7, record_steps=[7], lr=0.1, batch_size=10, seed=0,
        state_dicts={7: str(tmp_path / "model.pt")},
    )  # fmt: skip
    written = []
    cks = training.train(req, tmp_path / "ck", on_record=written.append)
    assert list(cks) == [7] and [c.step for c in written] == [7]
    np.testing.assert_array_equal(cks[7].params, want)
    assert 0 < cks[7].accuracy <= 1 and np.isfinite(cks[7].loss)
    assert training.train(req, tmp_path / "ck")[7].params.tobytes() == want.tobytes()  # reused


def test_a_state_dict_that_does_not_fit_is_one_message(tmp_path):
    import torch

    from hessian.exceptions import StateDictError

    sd = problems.load(CNN).model.state_dict()
    bad = dict(sd) | {"0.weight": torch.zeros(5, 1, 3, 3)}
    bad.pop("7.bias")
    bad["extra.weight"] = torch.zeros(2)
    torch.save(bad, tmp_path / "bad.pt")
    torch.save([1, 2], tmp_path / "list.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    req = dict(steps=0, record_steps=[0], lr=0.1, batch_size=10, seed=0)
    cases = {
        "bad.pt": r"does not fit the model of problem .*: shapes differ \(0.weight: file "
        r"\(5, 1, 3, 3\), model \(4, 1, 3, 3\)\), missing \['7.bias'\], unexpected "
        r"\['extra.weight'\]",
        "list.pt": "does not hold a state_dict",
        "junk.pt": "is not a readable state_dict file",
    }
    for name, message in cases.items():
        r = training.TrainRequest(CNN, **req, state_dicts={0: str(tmp_path / name)})
        with pytest.raises(StateDictError, match=message):
            training.train(r, tmp_path / "ck")
    assert not list((tmp_path / "ck").glob("*.npz")) if (tmp_path / "ck").exists() else True
    with pytest.raises(FileNotFoundError, match="no such state_dict file"):
        checkpoints.read_state_dict(tmp_path / "missing.pt")


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


def _npz_data(path, seed):
    g = np.random.default_rng(seed)
    np.savez(path, x=g.random((100, 1, 16, 16), dtype=np.float32), y=np.arange(100) % 10)


def test_a_data_file_replaced_in_place_makes_its_checkpoints_stale(tmp_path):
    data = tmp_path / "d.npz"
    _npz_data(data, 0)
    request = checkpoints.TrainRequest(
        "mnist_tiny", steps=10, record_steps=(0, 10), lr=0.3, batch_size=50, seed=3,
        data=str(data), n_hessian=50,
    )  # fmt: skip
    first = checkpoints.train(request, tmp_path / "ck")
    assert "data_sha256" in first[0].settings
    said = []
    again = checkpoints.train(request, tmp_path / "ck", on_problem=said.append)  # nothing new
    assert not said and again[10].path.stat().st_mtime_ns == first[10].path.stat().st_mtime_ns
    _npz_data(data, 1)  # other content, same path
    stale = checkpoints.check_directory(
        tmp_path / "ck", request.run_key(request.load_problem()),
        request.key_settings(str(data), 100, 2146),
    )  # fmt: skip
    assert stale == [0, 10]
    redone = checkpoints.train(request, tmp_path / "ck", on_problem=said.append)
    assert len(said) == 1 and f"the data {data} changed" in said[0] and "[0, 10]" in said[0]
    assert not np.array_equal(redone[10].params, first[10].params)
    assert redone[10].settings["data_sha256"] != first[10].settings["data_sha256"]


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
