"""The problems' models: exact parameter counts, output shapes, seeded initialisation."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from hessian.problems import PROBLEMS, build_model
from hessian.problems.models import Conv2dSame, MaxPool2dSame

from .test_registry import EXPECTED_D


@pytest.fixture(scope="module")
def models():
    return {name: build_model(name) for name in EXPECTED_D}


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
