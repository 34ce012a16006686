"""LayerProbe: captured inputs and outputs equal the values computed directly; hooks go away on
exit, also on an exception; a module that did not run or ran twice is an error."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from nrc.metrics import LayerProbe


def _model() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(inplace=True), nn.Flatten(), nn.Linear(64, 2)
    ).double()


def test_captures_equal_the_direct_computation() -> None:
    model = _model()
    x = torch.randn(5, 3, 4, 4, dtype=torch.float64)
    conv_out = model[0](x)  # computed directly, before the in-place ReLU of the forward pass
    flat = torch.relu(conv_out).reshape(5, -1)
    with LayerProbe({"conv": model[0], "head": model[3]}) as probe, torch.no_grad():
        model(x)
        batch = probe.take()
    assert torch.equal(batch["conv"].inputs, x.reshape(5, -1))
    assert torch.equal(batch["conv"].output, conv_out.detach().reshape(5, -1))  # a copy
    assert torch.equal(batch["head"].inputs, flat.detach())
    assert torch.equal(batch["head"].output, model[3](flat).detach())
    assert not batch["head"].output.requires_grad


def test_mean_pooling_averages_the_spatial_dimensions() -> None:
    model = _model()
    x = torch.randn(5, 3, 4, 4, dtype=torch.float64)
    with LayerProbe({"conv": model[0]}, pool="mean") as probe, torch.no_grad():
        model(x)
        got = probe.take()["conv"]
    assert torch.allclose(got.inputs, x.mean(dim=(2, 3)))
    assert got.output.shape == (5, 4)
    with pytest.raises(ValueError, match="pool"):
        LayerProbe({"conv": model[0]}, pool="max")  # type: ignore[arg-type]


def test_hooks_are_removed_on_exit_and_on_exception() -> None:
    model = _model()
    x = torch.randn(2, 3, 4, 4, dtype=torch.float64)
    probe = LayerProbe({"head": model[3]})
    with pytest.raises(ZeroDivisionError), probe:
        model(x)
        _ = 1 / 0
    assert not model[3]._forward_hooks
    with probe:
        assert len(model[3]._forward_hooks) == 1
    assert not model[3]._forward_hooks


def test_not_fired_and_fired_twice_are_errors() -> None:
    model = _model()
    x = torch.randn(2, 3, 4, 4, dtype=torch.float64)
    with LayerProbe({"conv": model[0], "head": model[3]}) as probe, torch.no_grad():
        model[0](x)
        with pytest.raises(RuntimeError, match=r"\['head'\] did not run"):
            probe.take()
        model(x)
        model(x)
        with pytest.raises(RuntimeError, match=r"more than once .*'conv': 2"):
            probe.take()
        model(x)
        assert set(probe.take()) == {"conv", "head"}  # the errors cleared the state
