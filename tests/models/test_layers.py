"""Where a model's layers are (`nrc.models.layers.probe_points`)."""

from __future__ import annotations

import pytest
from torch import nn

from nrc.models import MLP
from nrc.models.layers import probe_points
from nrc.models.resnet import resnet


def test_mlp_layers_are_its_activations_followed_by_the_next_linear_map() -> None:
    model = MLP(5, 2, depth=3, width=8)
    points = probe_points(model, "all")
    assert list(points) == ["body.1", "body.3", "body.5"]
    assert [p.module for p in points.values()] == [model.body[1], model.body[3], model.body[5]]
    assert [p.next_linear for p in points.values()] == [model.body[2], model.body[4], model.head]
    assert probe_points(model, "last") == {}
    assert probe_points(model, ("body.3",))["body.3"].next_linear is model.body[4]
    assert probe_points(model, ("body.2",))["body.2"].next_linear is None  # a Linear's output


def test_resnet_layers_are_its_stages_the_last_one_followed_by_the_head() -> None:
    model = resnet("resnet18", 2)
    points = probe_points(model, "all")
    assert list(points) == ["layer1", "layer2", "layer3", "layer4"]
    assert [p.next_linear for p in points.values()] == [None, None, None, model.head]


def test_unknown_layers_are_clear_errors() -> None:
    with pytest.raises(ValueError, match=r"no module named \['nope'\] in MLP"):
        probe_points(MLP(5, 2), ("nope",))
    with pytest.raises(ValueError, match="layers='all' is defined for the MLP and the ResNets"):
        probe_points(nn.Sequential(nn.Linear(3, 2)), "all")
