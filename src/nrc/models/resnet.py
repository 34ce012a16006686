"""ResNet-18/34 regressors with torchvision's layout (paper §5.2, Table 3).

The paper trains ResNet-18 (CARLA) and ResNet-34 (UTKFace) whose classifier is replaced by a linear
layer 512 -> n; the features h are the 512-d output of the final ReLU after global average pooling.

torchvision cannot be imported beside the torch used here (docs/images.md), so the networks are
written out, with torchvision's module names and tensor shapes (conv1, bn1, relu, maxpool,
layer1..layer4 of BasicBlocks, avgpool, fc) and its initialisation: a torchvision or ImageNet
state dict loads with `load_pretrained`. The head is `fc` in the state dict and `.head` in code.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from nrc.models.mlp import activation_module

logger = logging.getLogger(__name__)

FEATURE_DIM = 512
BLOCKS = {"resnet18": (2, 2, 2, 2), "resnet34": (3, 4, 6, 3)}


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with a residual connection (torchvision's `BasicBlock`).

    `out_activation` replaces the ReLU after the residual sum (default: ReLU, as torchvision).
    """

    def __init__(
        self, in_planes: int, planes: int, stride: int = 1, out_activation: nn.Module | None = None
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample: nn.Module | None = None
        if stride != 1 or in_planes != planes:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False), nn.BatchNorm2d(planes)
            )
        self.out_activation = nn.ReLU() if out_activation is None else out_activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """out_activation(bn2(conv2(relu(bn1(conv1 x)))) + shortcut(x))."""
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.out_activation(out + identity)


class ResNetRegressor(nn.Module):
    """A ResNet of BasicBlocks with a linear head to `n_outputs` targets.

    `small_input=False` is torchvision's ImageNet stem (7x7 stride-2 convolution, 3x3 max-pool).
    `small_input=True` is the small-image variant for 32-64 px inputs: a 3x3 stride-1 stem and no
    max-pool (as in CIFAR ResNets); it keeps every other shape except conv1's (64x3x3x3), so an
    ImageNet checkpoint then loads without conv1. It costs 16x the compute of the ImageNet stem at
    the same resolution.

    `activation` is the one on the features (after the last block's residual sum): "relu" is the
    paper's (Table 3); "leaky_relu" and "none" are the variants of docs/training.md
    (parameter-free, so the state dict is unchanged).
    """

    def __init__(
        self,
        blocks: Sequence[int],
        n_outputs: int,
        *,
        small_input: bool = False,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        if len(blocks) != 4 or any(int(b) < 1 for b in blocks):
            raise ValueError(f"blocks must be 4 positive stage depths, got {tuple(blocks)}")
        if n_outputs < 1:
            raise ValueError(f"n_outputs must be >= 1, got {n_outputs}")
        self.blocks = tuple(int(b) for b in blocks)
        self.small_input = small_input
        self.activation = activation
        feature_activation = activation_module(activation)
        if small_input:
            self.conv1 = nn.Conv2d(3, 64, 3, stride=1, padding=1, bias=False)
        else:
            self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        # Identity has no parameters, so the state dict keeps torchvision's keys either way.
        self.maxpool = nn.Identity() if small_input else nn.MaxPool2d(3, stride=2, padding=1)
        widths = (64, 128, 256, FEATURE_DIM)
        in_planes = 64
        for i, (planes, depth) in enumerate(zip(widths, self.blocks, strict=True)):
            stride = 1 if i == 0 else 2
            stage = [BasicBlock(in_planes, planes, stride)]
            stage += [BasicBlock(planes, planes) for _ in range(depth - 1)]
            if i == 3:
                stage[-1].out_activation = feature_activation
            self.add_module(f"layer{i + 1}", nn.Sequential(*stage))
            in_planes = planes
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(FEATURE_DIM, n_outputs)
        self._init_like_torchvision()

    def _init_like_torchvision(self) -> None:
        """Kaiming-normal (fan_out) convolutions, unit BatchNorm; nn.Linear keeps its default."""
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    @property
    def head(self) -> nn.Linear:
        """The last linear layer W, b (stored as `fc`, torchvision's name)."""
        return self.fc

    @property
    def n_outputs(self) -> int:
        """Number of regression targets n."""
        return self.fc.out_features

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The 512-d penultimate features h: final ReLU, then global average pooling (§5.2)."""
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"expected images of shape (batch, 3, H, W), got {tuple(x.shape)}")
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return torch.flatten(self.avgpool(x), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Predictions W h + b, shape (batch, n)."""
        return self.fc(self.features(x))

    def load_pretrained(self, path: str | Path) -> list[str]:
        """Load a torchvision-layout state dict (e.g. ImageNet weights) from `path`.

        The checkpoint is read with `weights_only=True`. Entries whose shape differs from this
        model (the 1000-way `fc` when n differs; `conv1` for the small-input stem) are left at
        their initial values and returned; any other difference in keys is an error.
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"pretrained checkpoint not found: {path}")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:
            raise ValueError(f"cannot read checkpoint {path}: {err}") from err
        if not isinstance(state, dict) or not all(
            isinstance(v, torch.Tensor) for v in state.values()
        ):
            raise ValueError(f"{path} does not hold a state dict of tensors")
        own = self.state_dict()
        missing = sorted(set(own) - set(state))
        unexpected = sorted(set(state) - set(own))
        if missing or unexpected:
            raise ValueError(
                f"{path} does not match {self.describe()}: missing keys {missing[:5]}"
                f" ({len(missing)}), unexpected keys {unexpected[:5]} ({len(unexpected)})"
            )
        skipped = [k for k, v in state.items() if v.shape != own[k].shape]
        allowed = {"fc.weight", "fc.bias"} | ({"conv1.weight"} if self.small_input else set())
        if set(skipped) - allowed:
            bad = sorted(set(skipped) - allowed)
            raise ValueError(f"{path}: shapes differ from {self.describe()} for {bad}")
        self.load_state_dict({k: v for k, v in state.items() if k not in skipped}, strict=False)
        if skipped:
            logger.info("loaded %s; kept fresh %s (shape differs)", path, skipped)
        return skipped

    def describe(self) -> str:
        """A short name such as 'resnet18 (small-input stem, n=2, features relu)'."""
        name = next((k for k, v in BLOCKS.items() if v == self.blocks), f"resnet{self.blocks}")
        stem = "small-input stem" if self.small_input else "ImageNet stem"
        return f"{name} ({stem}, n={self.n_outputs}, features {self.activation})"


def resnet(
    name: str, n_outputs: int, *, small_input: bool = False, activation: str = "relu"
) -> ResNetRegressor:
    """ResNet-18 or ResNet-34 regressor by name ('resnet18' | 'resnet34')."""
    if name not in BLOCKS:
        raise ValueError(f"unknown ResNet {name!r}; choose from {sorted(BLOCKS)}")
    return ResNetRegressor(BLOCKS[name], n_outputs, small_input=small_input, activation=activation)


def resnet18(
    n_outputs: int, *, small_input: bool = False, activation: str = "relu"
) -> ResNetRegressor:
    """ResNet-18 regressor (paper: CARLA)."""
    return resnet("resnet18", n_outputs, small_input=small_input, activation=activation)


def resnet34(
    n_outputs: int, *, small_input: bool = False, activation: str = "relu"
) -> ResNetRegressor:
    """ResNet-34 regressor (paper: UTKFace)."""
    return resnet("resnet34", n_outputs, small_input=small_input, activation=activation)
