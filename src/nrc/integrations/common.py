"""What every integration shares, with no framework imported: finding a model's linear head,
measuring it over batches (all-reduced across ``torch.distributed`` ranks) and naming the
metrics ``nrc/<metric>``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable, Mapping
from numbers import Real
from typing import Any

import torch
from torch import nn

from nrc.metrics import (
    ROW_KEYS,
    CollapseReport,
    CollapseStats,
    Convention,
    FeatureCapture,
    LayerProbe,
    LayerReport,
    LayerStats,
)
from nrc.models.layers import ProbePoint

log = logging.getLogger(__name__)

# Attribute names of the output layer in common architectures, tried in this order; a
# RoBERTa-style classifier is a small module whose last Linear is ``out_proj``.
HEAD_NAMES = ("classifier", "score", "head", "fc")
# Row entries that are axes, not metrics: the table keys and the SGD step counter.
AXES = (*ROW_KEYS, "step")


def as_linear(module: object, name: str) -> nn.Linear:
    """``module`` itself if it is an ``nn.Linear``, else a TypeError naming ``name``."""
    if not isinstance(module, nn.Linear):
        raise TypeError(
            f"{name}: expected a torch.nn.Linear head (the layer whose input is the penultimate "
            f"features h, paper §1), got {type(module).__name__}"
        )
    return module


def find_head(model: nn.Module, head: nn.Module | str | None = None) -> tuple[str, nn.Linear]:
    """The linear head of ``model`` and its name.

    ``head`` is the module itself or its dotted name in ``model``; without it the first of
    :data:`HEAD_NAMES` that ``model`` has is used (``classifier.out_proj`` when ``classifier``
    is not Linear), else the last ``nn.Linear`` of ``model.modules()``.
    """
    if isinstance(head, str):
        try:
            return head, as_linear(model.get_submodule(head), f"head {head!r}")
        except AttributeError as err:
            raise ValueError(f"head: model {type(model).__name__} has no module {head!r}") from err
    if head is not None:
        names = {id(m): n for n, m in model.named_modules()}
        return names.get(id(head), "head"), as_linear(head, "head")
    for name in HEAD_NAMES:
        module = getattr(model, name, None)
        if isinstance(module, nn.Linear):
            return name, module
        if isinstance(getattr(module, "out_proj", None), nn.Linear):
            return f"{name}.out_proj", module.out_proj  # type: ignore[union-attr]
    linears = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError(
            f"model: {type(model).__name__} has no torch.nn.Linear layer; NRC needs a linear "
            "head f(x) = W h(x) + b (pass head=...)"
        )
    return linears[-1]


@torch.no_grad()
def measure(
    model: nn.Module,
    head: nn.Linear,
    batches: Iterable[tuple[Any, torch.Tensor]],
    forward: Callable[[Any], object],
    *,
    gamma: float | None = None,
    convention: Convention | str | None = None,
) -> CollapseReport:
    """The :class:`CollapseReport` of ``head`` over ``batches`` of (inputs, targets).

    ``forward(inputs)`` runs ``model``; the head's inputs and outputs are captured with
    :class:`FeatureCapture` in eval mode (the model's mode is restored). Under an initialised
    ``torch.distributed`` group of several ranks the moments are summed over the ranks first,
    so every rank returns the report of the whole (sharded) data.
    """
    return measure_layers(model, head, {}, batches, forward, gamma=gamma, convention=convention)[0]


def measure_layers(
    model: nn.Module,
    head: nn.Linear,
    points: Mapping[str, ProbePoint],
    batches: Iterable[tuple[Any, torch.Tensor]],
    forward: Callable[[Any], object],
    *,
    gamma: float | None = None,
    convention: Convention | str | None = None,
) -> tuple[CollapseReport, dict[str, LayerReport]]:
    """:func:`measure` and, in the same forward passes, the Deep-NRC report of every layer of
    ``points`` (`nrc.models.layers.probe_points`; stage outputs global-average-pooled)."""
    stats = CollapseStats()
    layer_stats = {name: LayerStats() for name in points}
    modules = {name: p.module for name, p in points.items()}
    was_training = model.training
    model.eval()
    try:
        with (
            FeatureCapture(head, stats) as capture,
            LayerProbe(modules, pool="mean") if modules else contextlib.nullcontext() as probe,
        ):
            for inputs, targets in batches:
                capture.targets = targets
                forward(inputs)
                for name, captured in (probe.take() if modules else {}).items():
                    layer_stats[name].update(captured.output, targets)
    finally:
        model.train(was_training)
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        if torch.distributed.get_world_size() > 1:
            for each in (stats, *layer_stats.values()):
                each.all_reduce()
    report = stats.compute(head.weight, head.bias, gamma=gamma, convention=convention)
    layers = {
        name: layer_stats[name].report(
            None if p.next_linear is None else p.next_linear.weight, convention=convention
        )
        for name, p in points.items()
    }
    return report, layers


def metric_items(row: Mapping[str, Any], prefix: str = "nrc/") -> dict[str, float]:
    """The numeric entries of a metrics row as ``{prefix + key: float}``; axes (epoch, step),
    text and ``None`` (e.g. NRC3 for n = 1) are left out."""
    return {
        f"{prefix}{key}": float(value)
        for key, value in row.items()
        if key not in AXES and isinstance(value, Real) and not isinstance(value, bool)
    }
