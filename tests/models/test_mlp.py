"""The MLP of Table 2 and its penultimate-activation option (paper Table 2; docs/training.md)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from nrc.models import MLP, RegressionModel


def test_table2_shape_and_parameter_count() -> None:
    model = MLP(11, 2)
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [
        (11, 256), (256, 256), (256, 256), (256, 2)
    ]  # fmt: skip
    assert model.head is linears[-1] and model.head.bias is not None
    expected = (11 * 256 + 256) + 2 * (256 * 256 + 256) + (256 * 2 + 2)
    assert sum(p.numel() for p in model.parameters()) == expected
    assert isinstance(model, RegressionModel)


@pytest.mark.parametrize(
    ("activation", "negative_features"), [("relu", False), ("leaky_relu", True), ("none", True)]
)
def test_activation_applies_to_the_features(activation: str, negative_features: bool) -> None:
    torch.manual_seed(0)
    model = MLP(4, 2, depth=2, width=32, activation=activation)
    x = torch.randn(200, 4)
    h = model.features(x)
    assert bool((h < 0).any()) is negative_features
    torch.testing.assert_close(model(x), model.head(h))
    # the hidden layer before the last is always a ReLU
    assert isinstance(model.body[1], nn.ReLU)


def test_linear_features_are_affine_in_the_last_hidden_input() -> None:
    """With activation "none", h is the affine map of the previous layer's ReLU output."""
    torch.manual_seed(1)
    model = MLP(3, 1, depth=2, width=8, activation="none")
    x = torch.randn(10, 3)
    previous = torch.relu(model.body[0](x))
    torch.testing.assert_close(
        model.features(x), previous @ model.body[2].weight.T + model.body[2].bias
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"activation": "tanh"}, "activation"),
        ({"depth": 0}, "depth"),
        ({"width": -3}, "width"),
    ],
)
def test_bad_arguments_are_named(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MLP(3, 2, **kwargs)
