"""The problem registry: the paper's settings and ``load`` (model, data, Hessian subset)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from hessian.problems import PROBLEMS, Problem, build_model, load, names

from .test_data import _cifar_rows

EXPECTED_D = {
    "mnist_mini": 7_030,
    "cifar10_3c3d": 895_210,
    "cifar100_allcnnc": 1_387_108,
    "imagenet_resnet18": 11_689_512,
    "mnist_tiny": 2_146,
    "wide_mlp": 10_510_346,
    "mlp_1m": 1_015_210,
}


def test_names_and_settings():
    assert names() == list(EXPECTED_D)
    assert set(PROBLEMS) == set(EXPECTED_D)
    s = PROBLEMS["mnist_mini"]
    assert (s.lr, s.batch_size, s.n_hessian, s.k, s.s, s.seed) == (0.3, 500, 500, 355, 710, 12345)
    assert s.record_steps == tuple(range(0, 1001, 100))
    r = PROBLEMS["imagenet_resnet18"]
    assert (r.lr, r.batch_size, r.n_hessian, r.k, r.s) == (0.1, 150, 5000, 1500, 3000)
    assert r.record_steps == (0, 2000, 4000, 6000, 8000)
    assert PROBLEMS["cifar10_3c3d"].lr == 0.02261
    assert PROBLEMS["cifar100_allcnnc"].n_hessian == 1000
    with pytest.raises(AttributeError):
        s.lr = 1.0  # frozen


def test_load_mnist_mini_default():
    prob = load("mnist_mini")
    assert isinstance(prob, Problem)
    assert prob.D == 7030 and prob.flat_params().shape == (7030,)
    assert prob.data_source == "digits"
    x, y = prob.hessian_data
    assert x.shape == (500, 1, 16, 16)
    assert torch.bincount(y, minlength=10).tolist() == [50] * 10
    assert torch.equal(x, prob.train_data[0][prob.hessian_indices])
    assert not prob.model.training
    assert list(prob.named_params) == [n for n, _ in prob.model.named_parameters()]
    assert all(a is b for a, b in zip(prob.params, prob.model.parameters(), strict=True))
    flat = prob.flat_params()
    assert torch.equal(flat[: 20 * 256], prob.params[0].detach().reshape(-1))
    assert not flat.requires_grad
    loss = prob.loss(prob.model(x), y)
    assert loss.ndim == 0 and torch.isclose(loss, F.cross_entropy(prob.model(x), y))


def test_load_unknown_name():
    with pytest.raises(ValueError, match="mnist_mini"):
        load("no_such_problem")
    with pytest.raises(ValueError, match="cifar10_3c3d"):
        build_model("no_such_problem")


def test_load_synthetic_wide_mlp():
    prob = load("wide_mlp", "synthetic", n_hessian=20, n_train=40)
    assert prob.train_data[0].shape == (40, 3, 32, 32)
    assert prob.hessian_data[0].shape == (20, 3, 32, 32)
    assert torch.bincount(prob.hessian_data[1]).tolist() == [2] * 10
    assert prob.D == 10_510_346
    default = load("cifar10_3c3d", n_hessian=10)  # None -> synthetic, n_train = n_hessian
    assert default.data_source == "synthetic"
    assert default.train_data[0].shape == (10, 3, 32, 32)


def test_load_float64():
    prob = load("mnist_mini", dtype=torch.float64)
    assert all(p.dtype == torch.float64 for p in prob.params)
    assert prob.train_data[0].dtype == torch.float64
    assert prob.hessian_data[0].dtype == torch.float64
    assert prob.hessian_data[1].dtype == torch.int64
    assert prob.model(prob.hessian_data[0][:2]).dtype == torch.float64


def test_load_paths(tmp_path):
    with pytest.raises(FileNotFoundError, match="absent"):
        load("mnist_mini", tmp_path / "absent")
    rng = np.random.default_rng(3)
    x = rng.integers(0, 256, (20, 3, 32, 32), dtype=np.uint8)
    np.savez(tmp_path / "d.npz", x=x, y=np.arange(20) % 10)
    prob = load("wide_mlp", tmp_path / "d.npz", n_hessian=10)
    assert prob.train_data[0].shape == (20, 3, 32, 32) and prob.train_data[0].max() <= 1
    with pytest.raises(ValueError, match="shape"):
        load("mnist_mini", tmp_path / "d.npz", n_hessian=10)
    root = tmp_path / "cifar-10-batches-py"
    root.mkdir()
    for i in range(1, 6):
        batch = {b"data": _cifar_rows(4, rng), b"labels": [(4 * i + j) % 10 for j in range(4)]}
        (root / f"data_batch_{i}").write_bytes(pickle.dumps(batch))
    prob = load("cifar10_3c3d", tmp_path, n_hessian=20, n_train=20)
    assert prob.hessian_data[0].shape == (20, 3, 32, 32)
    assert prob.data_source == str(tmp_path)
