"""The MuJoCo MLP of the paper (Table 2), its ambiguities as explicit options (docs/training.md)."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch
from torch import nn

# Activation after the LAST hidden layer, i.e. on the penultimate features h: a ReLU keeps h
# non-negative and can block the paper's NRC1; the authors' final runs used LeakyReLU
# (docs/training.md, "Activation").
ACTIVATIONS = ("relu", "leaky_relu", "none")


@runtime_checkable
class RegressionModel(Protocol):
    """What the trainer needs: `features(x) -> h` (M x d) and a linear `head`, f(x) = head(h)."""

    head: nn.Linear

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features h_theta(x), one row per sample."""
        ...


def activation_module(name: str) -> nn.Module:
    """The module for an activation name of `ACTIVATIONS`."""
    if name == "relu":
        return nn.ReLU()
    if name == "leaky_relu":
        return nn.LeakyReLU()
    if name == "none":
        return nn.Identity()
    raise ValueError(f"activation must be one of {ACTIVATIONS}, got {name!r}")


class MLP(nn.Module):
    """`depth` hidden layers of `width` units with ReLU, then a linear head f = W h + b (paper §1).

    Table 2 is `MLP(D, n)`: 3 hidden layers of 256 with ReLU everywhere. `activation` sets only the
    activation after the last hidden layer ("relu", "leaky_relu" or "none"); `bias=False` drops
    every bias (Deep NRC's MLP). PyTorch default init.
    """

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        *,
        depth: int = 3,
        width: int = 256,
        activation: str = "relu",
        bias: bool = True,
    ) -> None:
        super().__init__()
        for name, value in (
            ("in_dim", in_dim),
            ("out_dim", out_dim),
            ("depth", depth),
            ("width", width),
        ):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        last = activation_module(activation)
        layers: list[nn.Module] = []
        for i in range(depth):
            layers.append(nn.Linear(in_dim if i == 0 else width, width, bias=bias))
            layers.append(last if i == depth - 1 else nn.ReLU())
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, out_dim, bias=bias)
        self.activation = activation

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features h (M x width)."""
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Predictions W h + b (M x out_dim)."""
        return self.head(self.body(x))
