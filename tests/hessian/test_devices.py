"""Devices: the settings' forms, auto on this machine, TF32 off unless asked, the host buffers,
and the errors (cuda without CUDA, a block that does not fit). Nothing here needs CUDA."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from torch import nn

from hessian import devices
from hessian.exceptions import DeviceError, DeviceMemoryError
from hessian.operators import HessianOperator, OperatorSpec, fingerprint

NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="checks a machine without CUDA")


def test_forms():
    for ok in ("auto", "cpu", "cuda", "cuda:0", "cuda:12"):
        assert devices.check(ok) == ok
    assert devices.check(None) == "auto"
    for bad in ("gpu", "cuda:", "cuda:x", "CPU", "mps"):
        with pytest.raises(DeviceError, match=re.escape(devices.DEVICES)):
            devices.check(bad)
    assert devices.resolve("cpu") == torch.device("cpu")
    assert devices.worker_gpus("cpu") is None and devices.worker_gpus("cuda:0") is None


@NO_CUDA
def test_without_cuda():
    assert devices.resolve("auto") == torch.device("cpu") and devices.worker_gpus("auto") is None
    for dev in ("cuda", "cuda:1"):
        with pytest.raises(DeviceError, match=f"device '{dev}': torch .* sees no CUDA device"):
            devices.resolve(dev)
    with pytest.raises(DeviceError, match="no CUDA"):
        OperatorSpec("mnist_tiny", device="cuda").build()


def test_tf32_is_off_unless_asked():
    flags = torch.backends.cuda.matmul, torch.backends.cudnn
    before = [f.allow_tf32 for f in flags]
    with devices.precision(torch.device("cuda")):
        assert [f.allow_tf32 for f in flags] == [False, False]
    with devices.precision(torch.device("cuda"), tf32=True):
        assert [f.allow_tf32 for f in flags] == [True, True]
    assert [f.allow_tf32 for f in flags] == before
    with devices.precision(torch.device("cpu"), tf32=True):  # nothing on the CPU
        assert [f.allow_tf32 for f in flags] == before


def test_host_buffers_on_the_cpu_copy_nothing():
    t = torch.arange(6.0).reshape(2, 3)
    out = devices.HostBuffers().to_host(t)
    assert np.shares_memory(out, t.numpy()) and out.shape == (2, 3)


def test_the_device_is_not_part_of_the_matrix():
    a = OperatorSpec("mnist_tiny", device="cpu", batch_size=None)
    b = OperatorSpec("mnist_tiny", device="auto", tf32=True, batch_size=None)
    assert fingerprint(a.build()) == fingerprint(b.build())
    op = a.build()
    assert op.device == torch.device("cpu") and "device=cpu" in repr(op)
    v = np.random.default_rng(0).standard_normal((3, op.D)).astype(np.float32)
    np.testing.assert_array_equal(op.host_rows(v), op.matmat_rows(torch.from_numpy(v)).numpy())


class _Huge(nn.Module):
    """A layer that runs out of device memory on batches of more than 8 samples."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 3)

    def forward(self, x):
        if x.shape[0] > 8:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 80.00 GiB")
        return self.lin(x)


def test_a_block_that_does_not_fit_names_the_block_and_batch_size():
    X, y = torch.randn(20, 4), torch.arange(20) % 3
    op = HessianOperator(_Huge(), (X, y), batch_size=10, vectors_per_pass=6,
                         check_deterministic=False)  # fmt: skip
    with pytest.raises(DeviceMemoryError) as e:
        op.host_rows(np.zeros((6, op.D), dtype=np.float32))
    msg = str(e.value)
    assert "a block of 6 vectors (vectors_per_pass)" in msg and "batches of 10 samples" in msg
    assert "lower sketch.vectors_per_pass or sketch.batch_size" in msg
    small = HessianOperator(_Huge(), (X, y), batch_size=5, vectors_per_pass=6)
    assert small.host_rows(np.ones((6, small.D), dtype=np.float32)).shape == (6, small.D)
