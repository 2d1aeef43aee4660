"""Shared fixtures: small nets with dense float64 references, and the mnist_mini exact spectra."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import hessian
from hessian import problems, training

# The mnist_mini problem after a little training (300 SGD steps, the paper's lr 0.3 and batch
# 500): its exact spectrum is computed once per session (~45 s; the case at initialisation, a
# second dense eigendecomposition, was left out to keep the suite's time).
TRAIN_STEPS = 300


def rel_err(A, B) -> float:
    """max |A - B| relative to max |B|."""
    return np.abs(A - B).max() / np.abs(B).max()


def small_mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(12, 7), nn.Tanh(), nn.Linear(7, 4)).double()


def small_cnn() -> nn.Module:
    torch.manual_seed(1)
    return nn.Sequential(
        nn.Conv2d(2, 3, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(3, 4, 3),
        nn.Tanh(),
        nn.Flatten(),
        nn.Linear(4 * 2 * 2, 3),
    ).double()


def small_data(model_name: str, n: int = 23):
    g = torch.Generator().manual_seed(2)
    if model_name == "mlp":
        X = torch.randn(n, 3, 4, generator=g, dtype=torch.float64)
        return X, torch.arange(n) % 4
    X = torch.randn(n, 2, 8, 8, generator=g, dtype=torch.float64)
    return X, torch.arange(n) % 3


def reference_matrices(model: nn.Module, data) -> tuple[np.ndarray, np.ndarray]:
    """Dense float64 Hessian and GGN of the mean cross-entropy by torch.func, independently."""
    X, y = data
    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for p in model.parameters()]
    theta = torch.cat([p.detach().reshape(-1) for p in model.parameters()])

    def f(flat):
        parts = flat.split([s.numel() for s in shapes])
        params = {n: t.view(s) for n, t, s in zip(names, parts, shapes, strict=True)}
        return torch.func.functional_call(model, params, (X,))

    H = torch.func.hessian(lambda t: nn.functional.cross_entropy(f(t), y))(theta)
    J = torch.func.jacrev(f)(theta)  # (N, C, D)
    p = torch.softmax(f(theta), dim=-1)
    H_out = (torch.diag_embed(p) - p[:, :, None] * p[:, None, :]) / len(X)
    G = torch.einsum("ncd,nce,nef->df", J, H_out, J)
    return H.detach().numpy(), G.detach().numpy()


@pytest.fixture(scope="session", params=["mlp", "cnn"])
def small_net(request):
    model = small_mlp() if request.param == "mlp" else small_cnn()
    data = small_data(request.param)
    H, G = reference_matrices(model, data)
    return request.param, model, data, H, G


class MnistCase:
    """mnist_mini at one step: parameters, the dense Hessian and its exact eigenpairs."""

    def __init__(self, step: int):
        self.problem = problems.load("mnist_mini", dtype=torch.float64)
        if step:
            p = self.problem
            training.sgd(
                p.model,
                p.train_data,
                steps=step,
                lr=p.settings.lr,
                batch_size=p.settings.batch_size,
                seed=p.settings.seed,
            )
        self.step = step
        self.op = hessian.HessianOperator(
            self.problem.model, self.problem.hessian_data, vectors_per_pass=32
        )
        self.H = hessian.dense(self.op)
        self.exact = hessian.exact_eigh(self.H, k=400)
        self.theta = self.problem.flat_params().numpy()


_CASES: dict[int, MnistCase] = {}


def mnist_at(step: int) -> MnistCase:
    """The case at ``step``, built once per test session."""
    if step not in _CASES:
        _CASES[step] = MnistCase(step)
    return _CASES[step]


@pytest.fixture(scope="session")
def mnist_trained():
    return mnist_at(TRAIN_STEPS)


@pytest.fixture(scope="session")
def prefect_server():
    """One temporary Prefect server (sqlite) for the whole session (~15 s once), for the tests
    of the flows, the tasks run as flows and the deployments."""
    from prefect.testing.utilities import prefect_test_harness

    import hessian_sketch.flows  # noqa: F401  (environment defaults before prefect is imported)

    with prefect_test_harness(server_startup_timeout=120):
        yield
