"""Where the products run: ``auto | cpu | cuda | cuda:N``, and what crosses to the host.

    device = devices.resolve("auto")          # cuda:0 where torch sees CUDA, else cpu
    H = HessianOperator(model, data, device="cuda")

The test vectors are drawn where they always are (numpy, on the host, from the seed and the
block) and moved to the device, so they are bitwise the same on any device and any worker. The
products stay on the device; only what is stored crosses back, through reused page-locked
(pinned) host buffers (``HostBuffers``). float32 products keep TF32 off unless asked
(``precision``): TF32 rounds matmul inputs to 10 mantissa bits, far more than the sketch's own
error at float32 (docs/stack.md).
"""

from __future__ import annotations

import contextlib
import re

import numpy as np
import torch

from hessian.exceptions import DeviceError, DeviceMemoryError

__all__ = [
    "DEVICES",
    "HostBuffers",
    "check",
    "memory_error",
    "precision",
    "resolve",
    "worker_gpus",
]

#: the forms a device setting takes
DEVICES = "auto | cpu | cuda | cuda:N"
_FORM = re.compile(r"^(auto|cpu|cuda|cuda:\d+)$")


def check(device: str | None) -> str:
    """The setting's form checked (not whether this machine has it); None is ``auto``."""
    device = "auto" if device is None else str(device)
    if not _FORM.match(device):
        raise DeviceError(f"device {device!r}: expected {DEVICES}")
    return device


def resolve(device: str | torch.device | None = "auto") -> torch.device:
    """The torch device of a setting on this machine: ``auto`` is ``cuda`` where torch sees a
    CUDA device, else ``cpu``.

    Raises:
        DeviceError: ``cuda`` on a machine where torch sees none, ``cuda:N`` past the last one.
    """
    if isinstance(device, torch.device):
        device = str(device)
    device = check(device)
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        built = torch.version.cuda or "none"
        raise DeviceError(
            f"device {device!r}: torch {torch.__version__} sees no CUDA device on this machine "
            f"(built with CUDA {built}); use device: cpu or auto"
        )
    dev = torch.device(device)
    n = torch.cuda.device_count()
    if dev.index is not None and dev.index >= n:
        raise DeviceError(f"device {device!r}: this machine has {n} CUDA device(s)")
    return torch.device("cuda", dev.index or 0)


def worker_gpus(device: str | None) -> list[int] | None:
    """The GPUs of a local measurement cluster, one Dask worker each (``CUDA_VISIBLE_DEVICES``
    per worker): every GPU torch sees for ``cuda`` or ``auto``; None (workers as on the CPU)
    for ``cpu``, for ``cuda:N`` (its workers share GPU N) and where there is no CUDA."""
    device = check(device)
    if device not in ("auto", "cuda") or not torch.cuda.is_available():
        return None
    return list(range(torch.cuda.device_count()))


@contextlib.contextmanager
def precision(device: torch.device, tf32: bool = False):
    """TF32 for matmuls and convolutions on a CUDA device as asked (off by default) for the
    duration; torch's global flags are restored afterwards. Nothing on the CPU."""
    if device.type != "cuda":
        yield
        return
    flags = torch.backends.cuda.matmul, torch.backends.cudnn
    before = [f.allow_tf32 for f in flags]
    try:
        for f in flags:
            f.allow_tf32 = bool(tf32)
        yield
    finally:
        for f, b in zip(flags, before, strict=True):
            f.allow_tf32 = b


class HostBuffers:
    """A ring of ``n`` reused page-locked host buffers for device-to-host copies.

    ``to_host(t)`` copies a device tensor into the next buffer of the ring (grown when too
    small) and returns it as a numpy array that stays valid until ``n`` more copies are made.
    On the CPU it returns ``t.numpy()``: nothing is copied.
    """

    def __init__(self, n: int = 2):
        self.n = n
        self._bufs: list[torch.Tensor | None] = [None] * n
        self._next = 0

    def to_host(self, t: torch.Tensor) -> np.ndarray:
        if t.device.type == "cpu":
            return t.numpy()
        i, self._next = self._next, (self._next + 1) % self.n
        buf = self._bufs[i]
        if buf is None or buf.dtype != t.dtype or buf.numel() < t.numel():
            buf = torch.empty(t.numel(), dtype=t.dtype, pin_memory=True)
            self._bufs[i] = buf
        out = buf[: t.numel()].view(t.shape)
        out.copy_(t)  # synchronous: the numpy view is complete when this returns
        return out.numpy()


def memory_error(device: torch.device, vectors: int, batch: int, D: int) -> DeviceMemoryError:
    """The error for a block of products that did not fit: names the two knobs of peak memory,
    the block size (vectors per pass) and the data batch size, and what the device has."""
    have = ""
    if device.type == "cuda":
        with contextlib.suppress(RuntimeError):
            free, total = torch.cuda.mem_get_info(device)
            have = f" ({free / 2**30:.1f} of {total / 2**30:.1f} GiB free)"
        torch.cuda.empty_cache()
    return DeviceMemoryError(
        f"a block of {vectors} vectors (vectors_per_pass) x {D:,} parameters with data batches "
        f"of {batch} samples (batch_size) does not fit in the memory of {device}{have}: lower "
        "sketch.vectors_per_pass or sketch.batch_size"
    )
