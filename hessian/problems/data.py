"""Data sources of the test problems: bundled digits, MNIST IDX, CIFAR pickles, NPZ, synthetic.

Every reader returns ``(X, y)``: ``X`` a float32 tensor (N, C, H, W) with values in [0, 1] for
image data, ``y`` an int64 tensor (N,). Nothing is ever downloaded. The Hessian of a problem is
defined on a fixed class-balanced subset of its data (``class_balanced_subset``; docs/method.md §1).
"""

from __future__ import annotations

import gzip
import math
import os
import pickle
import struct
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from hessian.exceptions import DataError

__all__ = [
    "bundled_digits",
    "class_balanced_subset",
    "digits_16x16",
    "digits_resampled",
    "read_cifar",
    "read_mnist_idx",
    "read_npz",
    "synthetic",
]

Data = tuple[torch.Tensor, torch.Tensor]
PathLike = str | os.PathLike[str]

_IDX_IMAGES_MAGIC = 2051  # 0x00000803: unsigned byte, 3 dims
_IDX_LABELS_MAGIC = 2049  # 0x00000801: unsigned byte, 1 dim
_MNIST_NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")


def digits_resampled(shape: Sequence[int]) -> Data:
    """The bundled digits (``digits_16x16``'s source) resampled to an image shape (C, H, W):
    bilinear to H x W, the grey channel repeated C times. Real images with class structure for
    the 10-class problems of other input shapes (mlp_1m, wide_mlp, cifar10_3c3d: 3 x 32 x 32),
    so that their Hessians have the class outliers above a bulk that trained nets show.

    Returns:
        ``X`` float32 (1797, C, H, W) in [0, 1] and ``y`` int64 (1797,) in 0..9.
    """
    c, h, w = (int(v) for v in shape)
    images, target = bundled_digits()
    x = torch.from_numpy(images.astype(np.float32) / 16.0).unsqueeze(1)
    x = F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False).clamp_(0.0, 1.0)
    return x.repeat(1, c, 1, 1).contiguous(), torch.from_numpy(target)


def digits_16x16() -> Data:
    """scikit-learn's bundled 8x8 digits (1,797 images), scaled to [0, 1] and resampled to 16x16.

    A stand-in for 16x16 MNIST that needs no download: ``sklearn.datasets.load_digits`` (values
    0..16) divided by 16, then bilinear interpolation (``align_corners=False``) to 16x16.

    Returns:
        ``X`` float32 (1797, 1, 16, 16) in [0, 1] and ``y`` int64 (1797,) in 0..9.
    """
    return digits_resampled((1, 16, 16))


def bundled_digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled 8x8 digits: ``images`` (1797, 8, 8) with values 0..16 and
    ``target`` int64 (1797,), exactly ``sklearn.datasets.load_digits``'s.

    Read from the file ``load_digits`` reads (``sklearn/datasets/data/digits.csv.gz``: 64 pixel
    columns, then the label), found without importing scikit-learn: the import alone costs ~2 s,
    paid by every ``hessian`` process that loads a digits problem. Where the file is not there
    (another layout of the package), ``load_digits`` itself.
    """
    import importlib.util

    spec = importlib.util.find_spec("sklearn")
    path = Path(spec.origin).parent / "datasets" / "data" / "digits.csv.gz" if spec else None
    if path is None or not path.is_file():
        from sklearn.datasets import load_digits

        d = load_digits()
        return np.asarray(d.images, dtype=np.float64), np.asarray(d.target, dtype=np.int64)
    with gzip.open(path, "rt") as f:
        data = np.loadtxt(f, delimiter=",")
    return data[:, :-1].reshape(-1, 8, 8), data[:, -1].astype(np.int64)


def _read_bytes(path: Path) -> bytes:
    """Whole file, gunzipped when it is gzip-compressed (by suffix or magic bytes)."""
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    raw = path.read_bytes()
    if path.suffix == ".gz" or raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, gzip.BadGzipFile) as e:
            raise ValueError(f"{path}: not a valid gzip file ({e})") from e
    return raw


def _parse_idx(path: Path, magic: int) -> np.ndarray:
    """Parse one IDX file (unsigned-byte data) and check its magic number and size."""
    buf = _read_bytes(path)
    if len(buf) < 4:
        raise ValueError(f"{path}: truncated IDX file ({len(buf)} bytes, no header)")
    (found,) = struct.unpack(">i", buf[:4])
    if found != magic:
        raise ValueError(f"{path}: bad IDX magic number {found}, expected {magic}")
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(buf) < header:
        raise ValueError(f"{path}: truncated IDX header")
    dims = struct.unpack(f">{ndim}I", buf[4:header])
    expected = header + math.prod(dims)
    if len(buf) != expected:
        kind = "truncated" if len(buf) < expected else "oversized"
        raise ValueError(
            f"{path}: {kind} IDX file: dims {dims} need {expected} bytes, found {len(buf)}"
        )
    return np.frombuffer(buf, dtype=np.uint8, offset=header).reshape(dims)


def _find_in_dir(directory: Path, stem: str) -> Path:
    for sub in (directory, directory / "MNIST" / "raw", directory / "raw"):
        for name in (stem, stem + ".gz"):
            if (sub / name).is_file():
                return sub / name
    raise FileNotFoundError(f"{directory}: neither {stem} nor {stem}.gz found")


def read_mnist_idx(
    images_path: PathLike, labels_path: PathLike | None = None, *, size: int = 16
) -> Data:
    """Read MNIST in the IDX format (LeCun et al.), plain or gzipped, downsampled to 16x16.

    Args:
        images_path: The ``idx3-ubyte`` images file (magic 2051), or a directory holding
            ``train-images-idx3-ubyte[.gz]`` and ``train-labels-idx1-ubyte[.gz]`` (also searched
            in its ``MNIST/raw`` and ``raw`` subdirectories).
        labels_path: The ``idx1-ubyte`` labels file (magic 2049). Inferred from ``images_path``
            (``images-idx3`` -> ``labels-idx1``) when omitted.
        size: Output side length; images are resized with ``interpolate(mode="area")``.

    Returns:
        ``X`` float32 (N, 1, size, size) in [0, 1] and ``y`` int64 (N,).

    Raises:
        FileNotFoundError: A path (or a file in the directory) does not exist.
        ValueError: Wrong magic number, truncated data or mismatched counts; names the file.
    """
    images = Path(images_path)
    if not images.exists():
        raise FileNotFoundError(f"no such file or directory: {images}")
    if images.is_dir():
        directory, images = images, _find_in_dir(images, _MNIST_NAMES[0])
        if labels_path is None:
            labels_path = _find_in_dir(directory, _MNIST_NAMES[1])
    if labels_path is None:
        if "images-idx3" not in images.name:
            raise FileNotFoundError(f"{images}: cannot infer the labels file; pass labels_path")
        labels_path = images.with_name(images.name.replace("images-idx3", "labels-idx1"))
    labels = Path(labels_path)

    x8 = _parse_idx(images, _IDX_IMAGES_MAGIC)
    y8 = _parse_idx(labels, _IDX_LABELS_MAGIC)
    if x8.shape[0] != y8.shape[0]:
        raise ValueError(f"{images} has {x8.shape[0]} images but {labels} has {y8.shape[0]} labels")
    x = torch.from_numpy(x8.astype(np.float32) / 255.0).unsqueeze(1)
    if x.shape[-2:] != (size, size):
        x = F.interpolate(x, size=(size, size), mode="area")
    return x.contiguous(), torch.from_numpy(y8.astype(np.int64))


def _load_pickle(path: Path, label_key: bytes) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR python batch: dict with ``b"data"`` (N, 3072) uint8 and labels under a key."""
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    try:
        with path.open("rb") as f:
            batch = pickle.load(f, encoding="bytes")  # trusted local files only
    except Exception as e:
        raise ValueError(f"{path}: not a CIFAR python pickle ({type(e).__name__}: {e})") from e
    if not isinstance(batch, dict):
        raise ValueError(f"{path}: expected a dict, found {type(batch).__name__}")
    batch = {k.encode() if isinstance(k, str) else k: v for k, v in batch.items()}
    missing = [k.decode() for k in (b"data", label_key) if k not in batch]
    if missing:
        raise ValueError(f"{path}: missing key(s) {missing}; found {sorted(map(str, batch))}")
    data = np.asarray(batch[b"data"])
    labels = np.asarray(batch[label_key])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise ValueError(f"{path}: 'data' must be uint8 (N, 3072), found {data.dtype} {data.shape}")
    if labels.shape != (data.shape[0],) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{path}: labels must be {data.shape[0]} integers, found {labels.shape}")
    return data, labels


def read_cifar(path: PathLike, num_classes: int) -> Data:
    """Read the CIFAR-10 or CIFAR-100 training set from the python pickle batches (Krizhevsky).

    CIFAR-10: ``data_batch_1`` .. ``data_batch_5`` with keys ``b"data"``, ``b"labels"``.
    CIFAR-100: ``train`` with keys ``b"data"``, ``b"fine_labels"``. Each row of ``data`` is
    1024 red, then 1024 green, then 1024 blue bytes, each plane row-major 32x32.
    Pickles can run code when loaded: only read trusted files.

    Args:
        path: The batch directory (``cifar-10-batches-py`` / ``cifar-100-python``), its parent,
            or a single batch file.
        num_classes: 10 or 100; chooses the file names and the label key.

    Returns:
        ``X`` float32 (N, 3, 32, 32) in [0, 1] and ``y`` int64 (N,).

    Raises:
        FileNotFoundError: Missing directory or batch file (named).
        ValueError: A file is not a pickle, lacks a key or has the wrong shape (named).
    """
    if num_classes == 10:
        subdir, files, label_key = (
            "cifar-10-batches-py",
            [f"data_batch_{i}" for i in range(1, 6)],
            b"labels",
        )
    elif num_classes == 100:
        subdir, files, label_key = "cifar-100-python", ["train"], b"fine_labels"
    else:
        raise ValueError(f"num_classes must be 10 or 100, got {num_classes}")
    root = Path(path)
    if not root.exists():
        raise FileNotFoundError(f"no such file or directory: {root}")
    if root.is_file():
        paths = [root]
    else:
        if not (root / files[0]).exists() and (root / subdir).is_dir():
            root = root / subdir
        paths = [root / name for name in files]
    parts = [_load_pickle(p, label_key) for p in paths]
    data = np.concatenate([d for d, _ in parts])
    labels = np.concatenate([lab for _, lab in parts]).astype(np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"{root}: labels outside 0..{num_classes - 1}")
    x = torch.from_numpy(data.reshape(-1, 3, 32, 32).astype(np.float32) / 255.0)
    return x, torch.from_numpy(labels)


def read_npz(path: PathLike, input_shape: Sequence[int], num_classes: int) -> Data:
    """Read ``(X, y)`` from an ``.npz`` file with arrays ``x`` (N, *input_shape) and ``y`` (N,).

    ``uint8`` images are scaled to [0, 1]; other real dtypes are cast to float32 as they are.

    Raises:
        FileNotFoundError: The file does not exist.
        DataError: Not an npz (truncated, damaged), missing arrays, wrong shapes or dtypes,
            non-finite inputs or labels out of range; the message names the file.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"no such file: {p}")
    try:
        with np.load(p, allow_pickle=False) as z:
            names = list(z.files)
            arrays = {k: z[k] for k in ("x", "y") if k in names}
    except Exception as e:
        reason = " ".join(str(e).split()) or type(e).__name__
        raise DataError(f"{p}: not a readable .npz file (truncated or damaged: {reason})") from e
    missing = [k for k in ("x", "y") if k not in arrays]
    if missing:
        raise DataError(
            f"{p}: no array {' or '.join(repr(m) for m in missing)}; an .npz data file needs "
            f"'x' (N, {', '.join(map(str, input_shape))}) and 'y' (N,), found {sorted(names)}"
        )
    x, y = arrays["x"], arrays["y"]
    if tuple(x.shape[1:]) != tuple(input_shape):
        raise DataError(
            f"{p}: x has shape {x.shape}, expected (N, {', '.join(map(str, input_shape))})"
        )
    if x.dtype == np.bool_ or not (
        np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)
    ):
        raise DataError(f"{p}: x must hold real numbers, found dtype {x.dtype}")
    if y.shape != (x.shape[0],) or y.dtype == np.bool_ or not np.issubdtype(y.dtype, np.integer):
        raise DataError(
            f"{p}: y must be {x.shape[0]} integer labels (one per row of x), found "
            f"{y.dtype} {y.shape}"
        )
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise DataError(
            f"{p}: labels outside 0..{num_classes - 1} (found {int(y.min())}..{int(y.max())})"
        )
    xf = x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32)
    finite = np.isfinite(xf)
    if not finite.all():
        n_bad = int((~finite).sum())
        row = int(np.flatnonzero(~finite.reshape(len(xf), -1).all(axis=1))[0])
        raise DataError(
            f"{p}: x holds {n_bad:,} non-finite values (NaN or inf, first in sample {row}) "
            "after conversion to float32"
        )
    return torch.from_numpy(np.ascontiguousarray(xf)), torch.from_numpy(y.astype(np.int64))


def synthetic(shape: Sequence[int], num_classes: int, n: int, seed: int) -> Data:
    """Standard-normal inputs of a given shape with class-balanced labels ``i % num_classes``.

    For scale and speed work where the data's content does not matter. Reproducible: drawn from
    a ``torch.Generator`` seeded with ``seed`` (the global RNG is untouched).

    Returns:
        ``X`` float32 (n, *shape) and ``y`` int64 (n,).
    """
    if n < 0 or num_classes < 1:
        raise ValueError(f"need n >= 0 and num_classes >= 1, got n={n}, num_classes={num_classes}")
    g = torch.Generator().manual_seed(int(seed))
    x = torch.randn((n, *shape), generator=g, dtype=torch.float32)
    return x, torch.arange(n, dtype=torch.int64) % num_classes


def class_balanced_subset(y: torch.Tensor, n: int, num_classes: int) -> torch.Tensor:
    """Indices of the fixed class-balanced subset that defines the Hessian (docs/method.md §1).

    Takes the ``n // num_classes`` lowest-index samples of every class.

    Args:
        y: Integer labels (N,).
        n: Subset size; must be divisible by ``num_classes``.
        num_classes: Number of classes ``0 .. num_classes - 1``.

    Returns:
        int64 indices (n,), sorted ascending.

    Raises:
        ValueError: ``n`` not divisible by ``num_classes``, or a class has too few samples.
    """
    y = torch.as_tensor(y)
    if y.ndim != 1:
        raise ValueError(f"labels must be 1-D, got shape {tuple(y.shape)}")
    if n <= 0 or n % num_classes:
        raise ValueError(f"n={n} must be a positive multiple of num_classes={num_classes}")
    per_class = n // num_classes
    picks = []
    for c in range(num_classes):
        idx = torch.nonzero(y == c).flatten()
        if idx.numel() < per_class:
            raise ValueError(
                f"class {c} has only {idx.numel()} samples, {per_class} needed for n={n}"
            )
        picks.append(idx[:per_class])
    return torch.sort(torch.cat(picks)).values.to(torch.int64)
