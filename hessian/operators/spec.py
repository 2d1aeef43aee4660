"""A serialisable description of a curvature operator, so any worker can rebuild it.

Measurement jobs run in other processes (Dask workers, possibly other machines): they receive an
``OperatorSpec`` (small, JSON-able) and the parameters, build the operator once, and reuse it for
every block they measure. The fingerprint hashes everything that defines the operator's matrix
(parameters, Hessian data, loss, operator kind, dtype), so a sketch store can refuse to mix
measurements of two different operators.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import InitVar, asdict, dataclass

import numpy as np
import torch

from hessian import devices, problems
from hessian._checks import renamed
from hessian.defaults import VECTORS_PER_PASS
from hessian.operators.base import CurvatureOperator
from hessian.operators.ggn import GGNOperator
from hessian.operators.hessian import HessianOperator
from hessian.operators.params import float_buffers, load_flat_buffers, load_flat_params

OPERATORS = {"hessian": HessianOperator, "ggn": GGNOperator}


@dataclass(frozen=True)
class OperatorSpec:
    """Everything needed to rebuild a curvature operator except its parameters.

    Attributes:
        problem: a name from ``hessian.problems.names()`` (built-in or registered), or the import
            path of a problem factory, ``"package.module:factory"``.
        data: the problem's data source (None: its default; "synthetic"; a path).
        n_hessian: size of the fixed class-balanced subset (None: the problem's setting).
        kind: "hessian" or "ggn".
        dtype: "float32" or "float64" (of the products; the core algebra is float64 anyway).
        batch_size: samples per forward pass in the data loop (None: all at once).
        vectors_per_pass: vectors multiplied per pass over the data (formerly ``block_size``,
            still accepted as a keyword).
        threads: torch threads in a worker (None: leave torch's default).
        seed: the problem's seed (None: its setting); synthetic data are drawn from it.
        n_train: training-set size (``problems.load``); the Hessian subset is drawn from it.
        factory: the import path from which any process rebuilds a user problem (recorded from
            ``problem``: the path itself, or a registered factory's path).
        device: where the products run, ``auto | cpu | cuda | cuda:N``, resolved by each
            process that builds the operator (``auto``: CUDA where torch sees it).
        tf32: allow TF32 in float32 products on CUDA (default off).
        Neither device nor tf32 changes the matrix: the fingerprint leaves them out.
    """

    problem: str
    data: str | None = None
    n_hessian: int | None = None
    kind: str = "hessian"
    dtype: str = "float32"
    batch_size: int | None = 128
    vectors_per_pass: int = VECTORS_PER_PASS
    threads: int | None = None
    seed: int | None = None
    n_train: int | None = None
    factory: str | None = None
    device: str = "auto"
    tf32: bool = False
    block_size: InitVar[int | None] = None  # the old name of vectors_per_pass

    def __post_init__(self, block_size: int | None):
        if block_size is not None:
            object.__setattr__(
                self, "vectors_per_pass",
                renamed(self.vectors_per_pass, block_size, new="vectors_per_pass",
                        old="block_size", default=VECTORS_PER_PASS, stacklevel=4),
            )  # fmt: skip
        if self.kind not in OPERATORS:
            raise ValueError(
                f"unknown operator kind {self.kind!r}: choose one of {list(OPERATORS)}"
            )
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {self.dtype!r}")
        object.__setattr__(self, "device", devices.check(self.device))
        if self.problem in problems.PROBLEMS:
            return
        if self.factory is None:
            object.__setattr__(self, "factory", problems.path_of(self.problem))
        if self.factory is None and not problems.registered(self.problem):
            raise ValueError(
                f"unknown problem {self.problem!r}: choose one of {', '.join(problems.names())}"
                ", or an import path 'package.module:factory'"
            )

    @property
    def torch_dtype(self) -> torch.dtype:
        return getattr(torch, self.dtype)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> OperatorSpec:
        fields = json.loads(text)
        if "block_size" in fields:  # written before vectors_per_pass had its name
            fields["vectors_per_pass"] = fields.pop("block_size")
        return cls(**fields)

    def load_problem(self) -> problems.Problem:
        """The problem: built-in, registered in this process, or imported by its factory path."""
        name = self.problem
        if name not in problems.PROBLEMS and not problems.registered(name) and self.factory:
            name = self.factory
        return problems.load(
            name, self.data, n_hessian=self.n_hessian, n_train=self.n_train, seed=self.seed,
            dtype=self.torch_dtype,
        )  # fmt: skip

    def build(
        self, params: np.ndarray | torch.Tensor | None = None, buffers: np.ndarray | None = None
    ) -> CurvatureOperator:
        """The operator at ``params`` (a flat vector; None: the problem's initialisation) and
        ``buffers`` (the model's floating buffers, e.g. BatchNorm running statistics)."""
        if self.threads:
            torch.set_num_threads(int(self.threads))
        p = self.load_problem()
        if params is not None:
            load_flat_params(p.model, params)
        if buffers is not None:
            load_flat_buffers(p.model, buffers)
        return OPERATORS[self.kind](
            p.model,
            p.hessian_data,
            loss=p.loss,
            batch_size=self.batch_size,
            vectors_per_pass=self.vectors_per_pass,
            dtype=self.torch_dtype,
            device=self.device,
            tf32=self.tf32,
        )


def fingerprint(op: CurvatureOperator) -> str:
    """SHA-256 of what defines the operator's matrix: parameters, buffers, data, loss, kind,
    dtype."""
    h = hashlib.sha256()
    h.update(f"{type(op).__name__}|{op.dtype}|{getattr(op.loss, '__name__', op.loss)!s}".encode())
    h.update(op.theta.detach().cpu().numpy().tobytes())
    for b in float_buffers(op.model):  # none for MLPs: their fingerprints are unchanged
        h.update(b.detach().cpu().numpy().tobytes())
    for part in (0, 1):  # inputs, then targets: independent of the batching
        for batch in op.batches:
            h.update(batch[part].detach().cpu().numpy().tobytes())
    return h.hexdigest()
