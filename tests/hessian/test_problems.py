"""Tests of hessian.problems: exact parameter counts, shapes, data readers and load()."""

from __future__ import annotations

import gzip
import pickle
import struct

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from hessian.problems import (
    PROBLEMS,
    Problem,
    build_model,
    class_balanced_subset,
    digits_16x16,
    load,
    names,
    read_cifar,
    read_mnist_idx,
    synthetic,
)
from hessian.problems.models import Conv2dSame, MaxPool2dSame

EXPECTED_D = {
    "mnist_mini": 7_030,
    "cifar10_3c3d": 895_210,
    "cifar100_allcnnc": 1_387_108,
    "imagenet_resnet18": 11_689_512,
    "mnist_tiny": 2_146,
    "wide_mlp": 10_510_346,
    "mlp_1m": 1_015_210,
}


@pytest.fixture(scope="module")
def models():
    return {name: build_model(name) for name in EXPECTED_D}


# ---------------------------------------------------------------- models


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


@pytest.mark.parametrize("name", list(EXPECTED_D))
def test_exact_parameter_count(models, name):
    model = models[name]
    assert sum(p.numel() for p in model.parameters()) == EXPECTED_D[name] == PROBLEMS[name].D
    assert not model.training


@pytest.mark.parametrize(
    ("name", "out"),
    [
        ("mnist_mini", 10),
        ("cifar10_3c3d", 10),
        ("cifar100_allcnnc", 100),
        ("wide_mlp", 10),
        ("mlp_1m", 10),
    ],
)
def test_forward_shapes(models, name, out):
    x = torch.randn(2, *PROBLEMS[name].input_shape)
    with torch.no_grad():
        logits = models[name](x)
    assert logits.shape == (2, out)
    assert torch.isfinite(logits).all()


def test_resnet18_forward_small(models):
    # 64x64 keeps the test fast; the global average pool makes any size >= 32 work.
    with torch.no_grad():
        assert models["imagenet_resnet18"](torch.randn(1, 3, 64, 64)).shape == (1, 1000)


def test_resnet18_parameter_order(models):
    keys = list(dict(models["imagenet_resnet18"].named_parameters()))
    assert keys[:6] == [
        "conv1.weight",
        "bn1.weight",
        "bn1.bias",
        "layer1.0.conv1.weight",
        "layer1.0.bn1.weight",
        "layer1.0.bn1.bias",
    ]
    assert "layer2.0.downsample.0.weight" in keys
    assert keys[-2:] == ["fc.weight", "fc.bias"]


def test_seeded_init_is_deterministic_and_leaves_global_rng():
    state = torch.get_rng_state()
    a = build_model("mnist_mini", seed=1)
    assert torch.equal(torch.get_rng_state(), state)
    b = build_model("mnist_mini", seed=1)
    c = build_model("mnist_mini", seed=2)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)
    assert not torch.equal(next(a.parameters()), next(c.parameters()))


def test_allcnnc_dropout_inactive_in_eval(models):
    model = models["cifar100_allcnnc"]
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(model(x), model(x))


def test_tf_same_padding():
    pool = MaxPool2dSame(3, 2)
    for size, out in [(28, 14), (12, 6), (6, 3), (7, 4)]:
        assert pool(torch.randn(1, 1, size, size)).shape[-1] == out
    # Padding is -inf: an all-negative input keeps its negative maxima.
    assert (pool(-torch.rand(1, 1, 6, 6) - 1) < -1 + 1e-6).all()
    conv = Conv2dSame(2, 3, 3, stride=2)
    x = torch.randn(1, 2, 32, 32)
    ref = F.conv2d(F.pad(x, (0, 1, 0, 1)), conv.weight, conv.bias, stride=2)
    assert torch.allclose(conv(x), ref)


# ---------------------------------------------------------------- data


def test_digits_16x16():
    x, y = digits_16x16()
    assert x.shape == (1797, 1, 16, 16) and x.dtype == torch.float32
    assert y.shape == (1797,) and y.dtype == torch.int64
    assert x.min() >= 0 and x.max() <= 1 and x.max() > 0.9
    assert set(y.tolist()) == set(range(10))


def _write_idx(path, magic, array, compress=False):
    header = struct.pack(">i", magic) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(payload) if compress else payload)


@pytest.fixture
def mnist_arrays():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (30, 28, 28), dtype=np.uint8), rng.integers(0, 10, 30)


@pytest.mark.parametrize("compress", [False, True])
def test_read_mnist_idx(tmp_path, mnist_arrays, compress):
    images, labels = mnist_arrays
    suffix = ".gz" if compress else ""
    ip = tmp_path / f"train-images-idx3-ubyte{suffix}"
    lp = tmp_path / f"train-labels-idx1-ubyte{suffix}"
    _write_idx(ip, 2051, images, compress)
    _write_idx(lp, 2049, labels, compress)
    for x, y in (read_mnist_idx(ip, lp), read_mnist_idx(tmp_path), read_mnist_idx(ip)):
        assert x.shape == (30, 1, 16, 16) and x.dtype == torch.float32
        assert torch.equal(y, torch.from_numpy(labels.astype(np.int64)))
        assert 0 <= x.min() and x.max() <= 1
    ref = F.interpolate(torch.from_numpy(images / 255.0).float()[:, None], (16, 16), mode="area")
    assert torch.allclose(x, ref, atol=1e-6)


def test_read_mnist_idx_errors(tmp_path, mnist_arrays):
    images, labels = mnist_arrays
    ip, lp = tmp_path / "im-idx3", tmp_path / "lab-idx1"
    _write_idx(ip, 2049, images)  # wrong magic
    _write_idx(lp, 2049, labels)
    with pytest.raises(ValueError, match="im-idx3"):
        read_mnist_idx(ip, lp)
    _write_idx(ip, 2051, images)
    ip.write_bytes(ip.read_bytes()[:-5])  # truncated
    with pytest.raises(ValueError, match="truncated"):
        read_mnist_idx(ip, lp)
    with pytest.raises(FileNotFoundError, match="nowhere"):
        read_mnist_idx(tmp_path / "nowhere", lp)
    with pytest.raises(FileNotFoundError, match="train-images"):
        read_mnist_idx(tmp_path)  # directory without the standard files


def _cifar_rows(n, rng):
    data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
    data[0, 0 * 1024 + 5 * 32 + 7] = 255  # red, row 5, col 7
    data[0, 1 * 1024 + 2 * 32 + 3] = 128  # green, row 2, col 3
    data[0, 2 * 1024 + 31 * 32 + 30] = 51  # blue, row 31, col 30
    return data


def _check_pixels(x):
    assert x[0, 0, 5, 7] == 1.0
    assert torch.isclose(x[0, 1, 2, 3], torch.tensor(128 / 255))
    assert torch.isclose(x[0, 2, 31, 30], torch.tensor(0.2))


def test_read_cifar10(tmp_path):
    rng = np.random.default_rng(1)
    root = tmp_path / "cifar-10-batches-py"
    root.mkdir()
    labels = []
    for i in range(1, 6):
        lab = [(4 * (i - 1) + j) % 10 for j in range(4)]
        labels += lab
        batch = {b"batch_label": b"x", b"data": _cifar_rows(4, rng), b"labels": lab}
        (root / f"data_batch_{i}").write_bytes(pickle.dumps(batch))
    for path in (root, tmp_path):  # the batch directory or its parent
        x, y = read_cifar(path, 10)
        assert x.shape == (20, 3, 32, 32) and x.dtype == torch.float32
        assert y.tolist() == labels
        _check_pixels(x)
    (root / "data_batch_3").write_bytes(b"not a pickle at all")
    with pytest.raises(ValueError, match="data_batch_3"):
        read_cifar(root, 10)
    (root / "data_batch_3").write_bytes(pickle.dumps({b"data": _cifar_rows(4, rng)}))
    with pytest.raises(ValueError, match="labels"):
        read_cifar(root, 10)
    batch = {b"data": _cifar_rows(4, rng), b"labels": [0] * 4}
    (root / "data_batch_3").write_bytes(pickle.dumps(batch))
    assert read_cifar(root, 10)[0].shape == (20, 3, 32, 32)
    (root / "data_batch_5").unlink()
    with pytest.raises(FileNotFoundError, match="data_batch_5"):
        read_cifar(root, 10)
    with pytest.raises(FileNotFoundError):
        read_cifar(tmp_path / "missing", 10)


def test_read_cifar100(tmp_path):
    rng = np.random.default_rng(2)
    root = tmp_path / "cifar-100-python"
    root.mkdir()
    fine = [99, 0, 42, 7, 13, 64]
    batch = {b"data": _cifar_rows(6, rng), b"fine_labels": fine, b"coarse_labels": [0] * 6}
    (root / "train").write_bytes(pickle.dumps(batch))
    x, y = read_cifar(root, 100)
    assert x.shape == (6, 3, 32, 32) and y.tolist() == fine
    _check_pixels(x)
    (root / "train").write_bytes(pickle.dumps([1, 2, 3]))
    with pytest.raises(ValueError, match="train"):
        read_cifar(root, 100)


def test_synthetic():
    x, y = synthetic((3, 8, 8), 10, 25, seed=0)
    assert x.shape == (25, 3, 8, 8) and x.dtype == torch.float32
    assert y.tolist() == [i % 10 for i in range(25)]
    assert torch.equal(x, synthetic((3, 8, 8), 10, 25, seed=0)[0])
    assert not torch.equal(x, synthetic((3, 8, 8), 10, 25, seed=1)[0])


def test_class_balanced_subset():
    y = torch.tensor([2, 0, 1, 0, 2, 1, 0, 1, 2, 2])
    idx = class_balanced_subset(y, 6, 3)
    assert idx.tolist() == [0, 1, 2, 3, 4, 5]
    assert class_balanced_subset(y, 3, 3).tolist() == [0, 1, 2]
    assert class_balanced_subset(y, 9, 3).tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8]
    with pytest.raises(ValueError, match="class 0 has only 3"):
        class_balanced_subset(y, 12, 3)
    with pytest.raises(ValueError, match="multiple"):
        class_balanced_subset(y, 7, 3)


# ---------------------------------------------------------------- load


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
