"""Where a model's layers are: the modules whose outputs are the features of each layer, and
the linear map that follows each one when the architecture says (Deep NRC's W_next;
docs/metrics.md, "Layers").

- MLP (Table 2): the output of each hidden layer after its activation (`body.1`, `body.3`, …);
  the next linear map is the following hidden layer, and the head for the last one.
- ResNets (Table 3): the output of each stage (`layer1` … `layer4`), global-average-pooled; the
  last stage's pooled output is the penultimate feature vector, followed by the head.
- Any model: a list of module names, each with no known next map.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from torch import nn

from nrc.models.mlp import MLP
from nrc.models.resnet import ResNetRegressor


@dataclass(frozen=True)
class ProbePoint:
    """One layer: the module whose output is its features, and the linear map that follows."""

    module: nn.Module
    next_linear: nn.Linear | None


def _all_points(model: nn.Module) -> dict[str, ProbePoint]:
    """Every layer of an MLP or a ResNet, input side first."""
    if isinstance(model, MLP):
        linears = [m for m in model.body if isinstance(m, nn.Linear)] + [model.head]
        acts = [model.body[i + 1] for i, m in enumerate(model.body) if isinstance(m, nn.Linear)]
        names = [f"body.{i + 1}" for i, m in enumerate(model.body) if isinstance(m, nn.Linear)]
        return {
            name: ProbePoint(act, linears[k + 1])
            for k, (name, act) in enumerate(zip(names, acts, strict=True))
        }
    if isinstance(model, ResNetRegressor):
        stages = ("layer1", "layer2", "layer3", "layer4")
        return {
            name: ProbePoint(getattr(model, name), model.head if name == "layer4" else None)
            for name in stages
        }
    raise ValueError(
        f"layers='all' is defined for the MLP and the ResNets, not {type(model).__name__}; "
        "give a list of module names"
    )


def probe_points(model: nn.Module, layers: str | Sequence[str]) -> dict[str, ProbePoint]:
    """The layers to measure: none for "last" (the head's input is measured anyway), every layer
    for "all", or the named modules (a known architecture's next map kept where it has one)."""
    if layers == "last":
        return {}
    if layers == "all":
        return _all_points(model)
    modules = dict(model.named_modules())
    unknown = [name for name in layers if name not in modules or not name]
    if unknown:
        raise ValueError(
            f"config key 'layers': no module named {unknown} in {type(model).__name__}; "
            f"its modules are {sorted(n for n in modules if n)}"
        )
    known = _all_points(model) if isinstance(model, MLP | ResNetRegressor) else {}
    return {name: known.get(name, ProbePoint(modules[name], None)) for name in layers}
