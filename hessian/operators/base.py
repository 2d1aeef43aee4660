"""Shared machinery of the curvature operators: flattening, the data loop, blocks, checks.

A curvature operator is a symmetric D x D matrix M (Hessian or GGN of the mean loss over a FIXED
data subset) that is never formed: ``op @ X`` applies it to a D x m block. Columns are processed
``vectors_per_pass`` at a time, and each block costs ONE pass over the data: the per-vector
product is vmapped over the block (Fernandez et al. 2025 used one vector per pass; batching is
the largest speed lever, see docs/method.md §1).

The mean loss over N samples in batches B_j of n_j samples is L = sum_j (n_j / N) L_j with L_j the
batch-mean loss, so M = sum_j (n_j / N) M_j and the data loop accumulates weighted batch products.

Design after curvlinops (Dangel et al.): one constructor for every operator, a subclass writes
only ``_batch_matmat`` (the product for one data batch and one block of vectors).
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from scipy.sparse.linalg import LinearOperator
from threadpoolctl import ThreadpoolController
from torch import Tensor, nn
from torch.func import functional_call

from hessian import devices
from hessian._checks import renamed
from hessian.defaults import VECTORS_PER_PASS
from hessian.exceptions import NondeterministicOperatorError

LossFn = Callable[[Tensor, Tensor], Tensor]

#: found once (a scan of the loaded libraries costs ~0.6 ms, too much per product)
_THREADPOOLS = ThreadpoolController()

#: Modules whose train-mode behaviour makes the operator random or batch-dependent.
_STOCHASTIC_MODULES = (nn.modules.dropout._DropoutNd, nn.modules.batchnorm._BatchNorm)


@dataclass
class OperatorStats:
    """Work done by an operator so far: vectors multiplied and passes over the data."""

    n_hvp: int = 0
    n_passes: int = 0


def _as_batches(data, batch_size: int | None):
    """Split (X, y) tensors into a list of batches (no shuffling, no drop_last)."""
    X, y = data
    if len(X) != len(y):
        raise ValueError(f"data has {len(X)} inputs but {len(y)} targets")
    if len(X) == 0:
        raise ValueError("data is empty: a curvature operator needs at least one sample")
    n = len(X) if batch_size is None else int(batch_size)
    if n < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    return [(X[i : i + n], y[i : i + n]) for i in range(0, len(X), n)]


class CurvatureOperator:
    """Base class: a symmetric D x D curvature matrix of ``loss(model(X), y)`` over fixed data.

    Args:
        model: the network. Put in ``eval()`` mode (the paper's setting) unless ``eval_mode=False``.
        data: ``(X, y)`` tensors: the fixed subset that defines the operator.
        loss: batch-mean loss ``loss(logits, y)``; default mean cross-entropy.
        batch_size: samples per forward pass of the data loop (memory knob; the result does not
            depend on it up to rounding). Default: all samples at once.
        vectors_per_pass: vectors multiplied per pass over the data (speed knob; formerly
            ``block_size``, still accepted). 1 gives the paper's one vector per pass.
        dtype: ``torch.float32`` or ``torch.float64``; the model and data are copied to it if
            they differ. Default: the model's dtype.
        transform: optional callable applied to each input batch (e.g. augmentation). A random
            transform makes the operator non-deterministic and is refused by the check.
        eval_mode: call ``model.eval()`` (default). With False the model keeps its mode, and
            dropout or BatchNorm modules in train mode are refused.
        check_deterministic: apply the operator twice to one random vector at construction and
            refuse it if the results differ.
        device: where the products run: ``"auto" | "cpu" | "cuda" | "cuda:N"`` (``auto``: CUDA
            where torch sees it); default the model's device. The model and data are copied
            there once; ``hessian.devices``.
        tf32: allow TF32 in float32 matmuls and convolutions on CUDA (default off: full
            float32 products).

    ``op @ X`` takes a numpy array or tensor of shape (D,) or (D, m) and returns the same kind
    (a tensor on the device of the input), in the operator's dtype.
    ``op.to_scipy()`` gives a ``scipy.sparse.linalg.LinearOperator``. ``op.host_rows(V)`` is
    the product of host rows into reused pinned host memory (what the solvers use).
    """

    kind = "curvature"

    def __init__(
        self,
        model: nn.Module,
        data: tuple[Tensor, Tensor],
        *,
        loss: LossFn | None = None,
        batch_size: int | None = None,
        vectors_per_pass: int = VECTORS_PER_PASS,
        dtype: torch.dtype | None = None,
        transform: Callable[[Tensor], Tensor] | None = None,
        eval_mode: bool = True,
        check_deterministic: bool = True,
        block_size: int | None = None,
        device: str | torch.device | None = None,
        tf32: bool = False,
    ):
        first = next(iter(model.parameters()), None)
        if first is None:
            raise ValueError("the model has no parameters")
        self.dtype = dtype or first.dtype
        if self.dtype not in (torch.float32, torch.float64):
            raise ValueError(f"dtype must be torch.float32 or torch.float64, got {self.dtype}")
        self.device = first.device if device is None else devices.resolve(device)
        self.tf32 = bool(tf32)
        self._host = devices.HostBuffers(2)
        if any(p.dtype != self.dtype or p.device != self.device for p in model.parameters()):
            model = copy.deepcopy(model).to(self.device, self.dtype)
        if eval_mode:
            model.eval()
        else:
            stochastic = [
                name
                for name, m in model.named_modules()
                if isinstance(m, _STOCHASTIC_MODULES) and m.training
            ]
            if stochastic:
                raise NondeterministicOperatorError(
                    f"modules {stochastic} are in train mode: dropout is random and BatchNorm in "
                    "train mode makes the curvature depend on how the data is batched. Use "
                    "eval_mode=True (the paper's setting)."
                )
        self.model = model
        self.loss = loss or torch.nn.functional.cross_entropy
        name = "vectors_per_pass" if block_size is None else "block_size"
        vectors_per_pass = renamed(
            vectors_per_pass, block_size, new="vectors_per_pass", old="block_size",
            default=VECTORS_PER_PASS,
        )  # fmt: skip
        self.vectors_per_pass = int(vectors_per_pass)
        if self.vectors_per_pass < 1:
            raise ValueError(f"{name} must be >= 1, got {vectors_per_pass}")
        self.transform = transform

        named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        self._names = [n for n, _ in named]
        self._shapes = [p.shape for _, p in named]
        self._numels = [p.numel() for _, p in named]
        self.theta = torch.cat([p.detach().reshape(-1) for _, p in named])
        if not torch.isfinite(self.theta).all():
            bad = [n for n, p in named if not torch.isfinite(p).all()]
            raise ValueError(f"parameters contain NaN or inf: {bad}")
        self.D = int(self.theta.numel())
        self.shape = (self.D, self.D)
        self._buffers = {n: b for n, b in model.named_buffers()}

        X, y = data
        X = X.to(self.device, self.dtype) if torch.is_floating_point(X) else X.to(self.device)
        self.n_samples = len(X)
        self.batch_size = batch_size
        self.batches = _as_batches((X, y.to(self.device)), batch_size)
        self.stats = OperatorStats()
        if check_deterministic:
            self.check_deterministic()

    @property
    def block_size(self) -> int:
        """The old name of ``vectors_per_pass`` (read and set; deprecated)."""
        warnings.warn("block_size is now called vectors_per_pass", DeprecationWarning, 2)
        return self.vectors_per_pass

    @block_size.setter
    def block_size(self, value: int) -> None:
        warnings.warn("block_size is now called vectors_per_pass", DeprecationWarning, 2)
        self.vectors_per_pass = int(value)

    # --- functional view of the model --------------------------------------------------------
    def unflatten(self, flat: Tensor) -> dict[str, Tensor]:
        """Flat parameter vector -> {name: tensor} in ``model.parameters()`` order."""
        parts = flat.split(self._numels)
        return {n: t.view(s) for n, t, s in zip(self._names, parts, self._shapes, strict=True)}

    def forward(self, flat: Tensor, x: Tensor) -> Tensor:
        """Model output at parameters ``flat`` (differentiable w.r.t. ``flat``)."""
        return functional_call(self.model, (self.unflatten(flat), self._buffers), (x,))

    def batch_loss(self, flat: Tensor, x: Tensor, y: Tensor) -> Tensor:
        """Batch-mean loss at parameters ``flat``."""
        return self.loss(self.forward(flat, x), y)

    # --- the product ---------------------------------------------------------------------------
    def _batch_matmat(self, x: Tensor, y: Tensor, V: Tensor) -> Tensor:
        """Batch-mean curvature times the rows of V: (b, D) -> (b, D). Subclasses implement."""
        raise NotImplementedError

    def _block_matmat(self, V: Tensor) -> Tensor:
        """Curvature times the rows of V (b, D) in one pass over the data."""
        out = torch.zeros_like(V)
        for x, y in self.batches:
            if self.transform is not None:
                x = self.transform(x)
            out.add_(self._batch_matmat(x, y, V), alpha=len(x) / self.n_samples)
        self.stats.n_passes += 1
        self.stats.n_hvp += V.shape[0]
        return out

    def matmat_rows(self, V: Tensor) -> Tensor:
        """M @ V^T, transposed: V is (m, D), the result (m, D) on the operator's device;
        ``vectors_per_pass`` rows per pass over the data.

        Raises:
            DeviceMemoryError: a block does not fit in the device's memory (names the block
                size and the data batch size).
        """
        if V.ndim != 2 or V.shape[1] != self.D:
            raise ValueError(f"expected a block of shape (m, {self.D}), got {tuple(V.shape)}")
        V = V.to(self.device, self.dtype)
        # numpy/scipy's BLAS threads spin after dense work and steal the cores torch needs: one
        # sketch on mnist_mini took 17 s with them and 4.6 s without (docs/stack.md)
        try:
            with (
                torch.no_grad(),
                _THREADPOOLS.limit(limits=1, user_api="blas"),
                devices.precision(self.device, self.tf32),
            ):
                parts = [
                    self._block_matmat(V[i : i + self.vectors_per_pass])
                    for i in range(0, V.shape[0], self.vectors_per_pass)
                ]
        except torch.OutOfMemoryError:
            batch = self.batch_size or self.n_samples
            vectors = min(self.vectors_per_pass, V.shape[0])
            raise devices.memory_error(self.device, vectors, batch, self.D) from None
        out = torch.cat(parts) if len(parts) > 1 else parts[0]
        if not torch.isfinite(out).all():
            raise FloatingPointError(
                f"{self.kind} product returned NaN or inf (parameters or data give a non-finite "
                "loss curvature; check the learning rate / divergence of the run)"
            )
        return out

    def __matmul__(self, X):
        """Apply to a (D,) vector or (D, m) block; numpy in -> numpy out, tensor in -> tensor."""
        is_numpy = not isinstance(X, Tensor)
        T = torch.as_tensor(np.asarray(X) if is_numpy else X)
        if T.shape[0] != self.D or T.ndim not in (1, 2):
            raise ValueError(f"operator of shape {self.shape} cannot multiply {tuple(T.shape)}")
        vec = T.ndim == 1
        rows = T.reshape(1, -1) if vec else T.T
        out = self.matmat_rows(rows.contiguous())
        out = out.reshape(-1) if vec else out.T
        return out.cpu().numpy() if is_numpy else out.to(T.device)

    def host_rows(self, V) -> np.ndarray:
        """``matmat_rows`` of host rows V (m, D), numpy or tensor: the test vectors cross to the
        device, the products back into one of two reused pinned host buffers (on the CPU:
        nothing is copied). The array returned stays valid until the second call after."""
        V = torch.from_numpy(np.ascontiguousarray(V)) if isinstance(V, np.ndarray) else V
        return self._host.to_host(self.matmat_rows(V))

    def to_scipy(self) -> LinearOperator:
        """This operator as a ``scipy.sparse.linalg.LinearOperator`` (numpy in and out)."""
        np_dtype = np.float64 if self.dtype == torch.float64 else np.float32
        return LinearOperator(
            self.shape,
            matvec=lambda v: self @ np.asarray(v, dtype=np_dtype).reshape(-1),
            matmat=lambda V: self @ np.asarray(V, dtype=np_dtype),
            rmatvec=lambda v: self @ np.asarray(v, dtype=np_dtype).reshape(-1),
            dtype=np_dtype,
        )

    # --- checks -------------------------------------------------------------------------------
    def check_deterministic(self, seed: int = 0) -> None:
        """Refuse an operator whose two applications to the same vector differ.

        Raises:
            NondeterministicOperatorError: naming the relative difference and the usual causes.
        """
        g = torch.Generator().manual_seed(seed)  # drawn on the host: the same on every device
        v = torch.randn(1, self.D, generator=g, dtype=torch.float64).to(self.dtype)
        a, b = self.matmat_rows(v), self.matmat_rows(v)
        scale = max(float(a.norm()), float(b.norm()), math.ulp(1.0))
        diff = float((a - b).norm()) / scale
        tol = 1e-4 if self.dtype == torch.float32 else 1e-10
        if diff > tol:
            raise NondeterministicOperatorError(
                f"two applications of the {self.kind} operator to the same vector differ "
                f"(relative difference {diff:.2e} > {tol:.0e}). The model or data pipeline is "
                "random: dropout or BatchNorm in train mode, random augmentation (transform), or "
                "a stochastic layer. A sketch of a random operator is meaningless."
            )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(D={self.D}, samples={self.n_samples}, "
            f"batches={len(self.batches)}, vectors_per_pass={self.vectors_per_pass}, "
            f"dtype={self.dtype}, device={self.device})"
        )
