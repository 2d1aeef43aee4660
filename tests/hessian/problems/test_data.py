"""The data readers (MNIST IDX, CIFAR pickles), generated data and the class-balanced subset."""

from __future__ import annotations

import gzip
import pickle
import struct

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from hessian.problems import (
    class_balanced_subset,
    digits_16x16,
    read_cifar,
    read_mnist_idx,
    synthetic,
)


def test_digits_16x16():
    x, y = digits_16x16()
    assert x.shape == (1797, 1, 16, 16) and x.dtype == torch.float32
    assert y.shape == (1797,) and y.dtype == torch.int64
    assert x.min() >= 0 and x.max() <= 1 and x.max() > 0.9
    assert set(y.tolist()) == set(range(10))


def test_bundled_digits_are_scikit_learns():
    """Read without importing scikit-learn, and exactly what ``load_digits`` returns."""
    from sklearn.datasets import load_digits

    from hessian.problems.data import bundled_digits

    images, target = bundled_digits()
    d = load_digits()
    np.testing.assert_array_equal(images, d.images)
    np.testing.assert_array_equal(target, d.target)
    assert target.dtype == np.int64 and images.shape == (1797, 8, 8)


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


def test_digits_resampled_fit_every_ten_class_image_problem():
    from hessian import problems
    from hessian.problems.data import digits_16x16, digits_resampled

    x, y = digits_resampled((3, 32, 32))
    assert x.shape == (1797, 3, 32, 32) and y.shape == (1797,) and int(y.max()) == 9
    assert float(x.min()) >= 0 and float(x.max()) <= 1 and torch.equal(x[:, 0], x[:, 2])
    x16, _ = digits_16x16()
    assert torch.allclose(digits_resampled((1, 16, 16))[0], x16)
    p = problems.load("mlp_1m", data="digits")
    assert p.data_source == "digits" and tuple(p.hessian_data[0].shape[1:]) == (3, 32, 32)
    with pytest.raises(ValueError, match="do not fit cifar100_allcnnc"):
        problems.load("cifar100_allcnnc", data="digits")
