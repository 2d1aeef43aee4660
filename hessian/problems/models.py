"""Network architectures of the paper's test problems, in plain PyTorch.

Sources: the 3c3d and All-CNN-C nets follow DeepOBS (Schneider, Balles & Hennig, 2019), including
TensorFlow's ``'same'`` padding rule and DeepOBS's initialisation; ResNet-18 follows He et al.
(2016) with torchvision's module layout, parameter order and initialisation. Every builder takes
an optional ``seed``; with one, initialisation draws from a forked RNG so that the global torch
RNG state is left untouched.
"""

from __future__ import annotations

import contextlib
import itertools
import math
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "Conv2dSame",
    "MaxPool2dSame",
    "cifar10_3c3d",
    "cifar100_allcnnc",
    "imagenet_resnet18",
    "mlp_1m",
    "mnist_mini",
    "mnist_tiny",
    "num_params",
    "seeded",
    "wide_mlp",
]


@contextlib.contextmanager
def seeded(seed: int | None) -> Iterator[None]:
    """Run the body with ``torch.manual_seed(seed)`` on a forked CPU RNG (no-op for ``None``)."""
    if seed is None:
        yield
        return
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def num_params(model: nn.Module) -> int:
    """Number of scalar parameters ``D`` of ``model``."""
    return sum(p.numel() for p in model.parameters())


def _tf_same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow ``'same'`` padding along one axis: (before, after), extra on the after side."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class Conv2dSame(nn.Conv2d):
    """``nn.Conv2d`` with TensorFlow's ``'same'`` padding (asymmetric for even sizes, stride 2).

    Same parameters as ``nn.Conv2d(..., padding=0)``; padding is computed from the input size.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Pad like TensorFlow's ``'same'`` and convolve."""
        top, bottom = _tf_same_padding(x.shape[-2], self.kernel_size[0], self.stride[0])
        left, right = _tf_same_padding(x.shape[-1], self.kernel_size[1], self.stride[1])
        if top == bottom and left == right:
            return F.conv2d(x, self.weight, self.bias, self.stride, (top, left))
        x = F.pad(x, (left, right, top, bottom))
        return F.conv2d(x, self.weight, self.bias, self.stride)


class MaxPool2dSame(nn.Module):
    """Max pooling with TensorFlow's ``'same'`` padding (output size ``ceil(in / stride)``).

    The padding (right/bottom first) is filled with ``-inf``, so it never wins the max. DeepOBS
    pads with zeros, which gives the same result after a ReLU.
    """

    def __init__(self, kernel_size: int, stride: int) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Pad with ``-inf`` like TensorFlow's ``'same'`` and max-pool."""
        top, bottom = _tf_same_padding(x.shape[-2], self.kernel_size, self.stride)
        left, right = _tf_same_padding(x.shape[-1], self.kernel_size, self.stride)
        x = F.pad(x, (left, right, top, bottom), value=-math.inf)
        return F.max_pool2d(x, self.kernel_size, self.stride)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding='same'"


class GlobalMean(nn.Module):
    """Mean over the spatial axes, (N, C, H, W) -> (N, C), as DeepOBS's All-CNN-C head."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Average over H and W."""
        return x.mean(dim=(-2, -1))


def _mlp(widths: list[int], activation: type[nn.Module]) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Flatten()]
    for i, (fan_in, fan_out) in enumerate(itertools.pairwise(widths)):
        layers.append(nn.Linear(fan_in, fan_out))
        if i < len(widths) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)


def mnist_mini(num_classes: int = 10, seed: int | None = None) -> nn.Sequential:
    """Tanh MLP 256-20-20-20-20-20-10 on 16x16 MNIST (the paper's small problem), D = 7,030.

    PyTorch's default ``nn.Linear`` initialisation. Input (N, 1, 16, 16), flattened.

    Args:
        num_classes: Output width.
        seed: Initialisation seed (forked RNG); ``None`` uses the global RNG.
    """
    with seeded(seed):
        return _mlp([256, 20, 20, 20, 20, 20, num_classes], nn.Tanh)


def mnist_tiny(num_classes: int = 10, seed: int | None = None) -> nn.Sequential:
    """Tanh MLP 256-8-10 on 16x16 digits, D = 2,146: not from the paper; for quick checks and
    tests, where a dense exact Hessian takes about a second.
    """
    with seeded(seed):
        return _mlp([256, 8, num_classes], nn.Tanh)


def wide_mlp(num_classes: int = 10, seed: int | None = None) -> nn.Sequential:
    """Tanh MLP 3072-2048-2048-10 on 3x32x32 inputs, D = 10,510,346 (for work at scale).

    Not from the paper: a cheap model with D > 10M. PyTorch's default initialisation.

    Args:
        num_classes: Output width.
        seed: Initialisation seed (forked RNG); ``None`` uses the global RNG.
    """
    with seeded(seed):
        return _mlp([3 * 32 * 32, 2048, 2048, num_classes], nn.Tanh)


def mlp_1m(num_classes: int = 10, seed: int | None = None) -> nn.Sequential:
    """Tanh MLP 3072-300-300-10 on 3x32x32 inputs, D = 1,015,210 (the ~1M-parameter scale case).

    Not from the paper: a cheap model of about the size of the paper's CIFAR nets.
    """
    with seeded(seed):
        return _mlp([3 * 32 * 32, 300, 300, num_classes], nn.Tanh)


def cifar10_3c3d(num_classes: int = 10, seed: int | None = None) -> nn.Sequential:
    """DeepOBS ``3c3d`` net for CIFAR-10 (Schneider et al., 2019), D = 895,210.

    conv5x5(64, valid) - relu - maxpool3/2(same) - conv3x3(96, valid) - relu - maxpool -
    conv3x3(128, same) - relu - maxpool - fc512 - relu - fc256 - relu - fc(num_classes).
    Initialisation as DeepOBS: conv weights Xavier-normal, dense weights Xavier-uniform, biases 0.
    Input (N, 3, 32, 32). Flattening is PyTorch's (C, H, W) order.

    Args:
        num_classes: Output width.
        seed: Initialisation seed (forked RNG); ``None`` uses the global RNG.
    """
    with seeded(seed):
        net = nn.Sequential(
            nn.Conv2d(3, 64, 5),
            nn.ReLU(),
            MaxPool2dSame(3, 2),
            nn.Conv2d(64, 96, 3),
            nn.ReLU(),
            MaxPool2dSame(3, 2),
            nn.Conv2d(96, 128, 3, padding=1),
            nn.ReLU(),
            MaxPool2dSame(3, 2),
            nn.Flatten(),
            nn.Linear(3 * 3 * 128, 512),
            nn.ReLU(),
            nn.Linear(512, 256),
            nn.ReLU(),
            nn.Linear(256, num_classes),
        )
        for m in net.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.xavier_normal_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
    return net


def cifar100_allcnnc(num_classes: int = 100, seed: int | None = None) -> nn.Sequential:
    """DeepOBS All-CNN-C for CIFAR-100 (Springenberg et al., 2015; Schneider et al., 2019).

    dropout(0.2) - 2x [conv3x3(96, same) relu] - conv3x3/2(96, same) relu - dropout(0.5) -
    2x [conv3x3(192, same) relu] - conv3x3/2(192, same) relu - dropout(0.5) -
    conv3x3(192, valid) relu - conv1x1(192) relu - conv1x1(num_classes) relu - mean over H, W.
    Strided convs use TensorFlow's ``'same'`` padding (one extra row/column at the bottom/right)
    as DeepOBS does. Initialisation as DeepOBS: Xavier-normal weights, biases 0.1.
    D = 1,387,108. Input (N, 3, 32, 32). Dropout is inactive in ``eval()``.

    Args:
        num_classes: Output width.
        seed: Initialisation seed (forked RNG); ``None`` uses the global RNG.
    """
    with seeded(seed):
        net = nn.Sequential(
            nn.Dropout(0.2),
            nn.Conv2d(3, 96, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(96, 96, 3, padding=1),
            nn.ReLU(),
            Conv2dSame(96, 96, 3, stride=2),
            nn.ReLU(),
            nn.Dropout(0.5),
            nn.Conv2d(96, 192, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(192, 192, 3, padding=1),
            nn.ReLU(),
            Conv2dSame(192, 192, 3, stride=2),
            nn.ReLU(),
            nn.Dropout(0.5),
            nn.Conv2d(192, 192, 3),
            nn.ReLU(),
            nn.Conv2d(192, 192, 1),
            nn.ReLU(),
            nn.Conv2d(192, num_classes, 1),
            nn.ReLU(),
            GlobalMean(),
        )
        for m in net.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.xavier_normal_(m.weight)
                nn.init.constant_(m.bias, 0.1)
    return net


class BasicBlock(nn.Module):
    """ResNet basic block (He et al., 2016), torchvision layout: conv1 bn1 conv2 bn2 downsample."""

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample: nn.Module | None = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(
                nn.Conv2d(inplanes, planes, 1, stride=stride, bias=False),
                nn.BatchNorm2d(planes),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Two 3x3 convs with a (projected) identity shortcut."""
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    """ResNet for ImageNet (He et al., 2016), torchvision's module names and parameter order."""

    def __init__(self, layers: tuple[int, ...] = (2, 2, 2, 2), num_classes: int = 1000) -> None:
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.layer1 = self._make_layer(64, layers[0], 1)
        self.layer2 = self._make_layer(128, layers[1], 2)
        self.layer3 = self._make_layer(256, layers[2], 2)
        self.layer4 = self._make_layer(512, layers[3], 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def _make_layer(self, planes: int, blocks: int, stride: int) -> nn.Sequential:
        layers = [BasicBlock(self.inplanes, planes, stride)]
        self.inplanes = planes
        layers += [BasicBlock(planes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Stem, four stages, global average pool, linear classifier."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def imagenet_resnet18(num_classes: int = 1000, seed: int | None = None) -> ResNet:
    """ResNet-18 (He et al., 2016) as torchvision's ``resnet18``, D = 11,689,512.

    BasicBlock x [2, 2, 2, 2], BatchNorm, torchvision's initialisation (Kaiming-normal fan-out
    convs, BN weight 1 / bias 0, default ``nn.Linear`` for ``fc``). Input (N, 3, 224, 224).
    BatchNorm uses running statistics in ``eval()`` mode.

    Args:
        num_classes: Output width.
        seed: Initialisation seed (forked RNG); ``None`` uses the global RNG.
    """
    with seeded(seed):
        return ResNet((2, 2, 2, 2), num_classes)
