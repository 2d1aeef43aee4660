"""A run described by its request: state_dict files of a model trained elsewhere are its
checkpoints, a file that does not fit is one message, and a data file replaced in place makes the
checkpoints stale."""

import numpy as np
import pytest

from hessian import problems, training
from hessian.training import checkpoints, runs

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
    p = req.load_problem()  # what a later command's preflight checks, before loading anything
    key = req.key(p.data_source, len(p.train_data[1]), p.D)
    assert key == cks[7].run_key and req.legacy(p.data_source, 1, p.D) is None
    assert checkpoints.check_directory(tmp_path / "ck", key, {}) == []


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
        runs.read_state_dict(tmp_path / "missing.pt")


def _npz_data(path, seed):
    g = np.random.default_rng(seed)
    np.savez(path, x=g.random((100, 1, 16, 16), dtype=np.float32), y=np.arange(100) % 10)


def test_a_data_file_replaced_in_place_makes_its_checkpoints_stale(tmp_path):
    data = tmp_path / "d.npz"
    _npz_data(data, 0)
    request = runs.TrainRequest(
        "mnist_tiny", steps=10, record_steps=(0, 10), lr=0.3, batch_size=50, seed=3,
        data=str(data), n_hessian=50,
    )  # fmt: skip
    first = runs.train(request, tmp_path / "ck")
    assert "data_sha256" in first[0].settings
    said = []
    again = runs.train(request, tmp_path / "ck", on_problem=said.append)  # nothing new
    assert not said and again[10].path.stat().st_mtime_ns == first[10].path.stat().st_mtime_ns
    _npz_data(data, 1)  # other content, same path
    stale = checkpoints.check_directory(
        tmp_path / "ck", request.run_key(request.load_problem()),
        request.key_settings(str(data), 100, 2146),
    )  # fmt: skip
    assert stale == [0, 10]
    redone = runs.train(request, tmp_path / "ck", on_problem=said.append)
    assert len(said) == 1 and f"the data {data} changed" in said[0] and "[0, 10]" in said[0]
    assert not np.array_equal(redone[10].params, first[10].params)
    assert redone[10].settings["data_sha256"] != first[10].settings["data_sha256"]
