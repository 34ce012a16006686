"""Capture the penultimate features h_θ(x) of any model: the inputs of its linear head (§1)."""

from __future__ import annotations

from types import TracebackType

import torch
from torch import nn

from nrc.metrics.stats import CollapseStats


class FeatureCapture:
    """Feed a :class:`CollapseStats` from the inputs and outputs of ``head`` during forward passes.

    Usage::

        with FeatureCapture(model.head, stats) as capture, torch.no_grad():
            for x, y in batches:
                capture.targets = y
                model(x)

    The head's input is h (flattened to rows of size ``head.in_features``) and its output the
    prediction. ``targets`` must be set before each forward pass and is consumed by it, so a
    stale target can never be paired with a new batch.
    """

    def __init__(
        self, head: nn.Linear, stats: CollapseStats, with_predictions: bool = True
    ) -> None:
        if not isinstance(head, nn.Linear):
            raise TypeError(f"head: expected torch.nn.Linear, got {type(head).__name__}")
        self.head = head
        self.stats = stats
        self.with_predictions = with_predictions
        self.targets: torch.Tensor | None = None
        self._handle: torch.utils.hooks.RemovableHandle | None = None

    def _hook(
        self, module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor
    ) -> None:
        if self.targets is None:
            raise RuntimeError("FeatureCapture: set capture.targets before each forward pass")
        n = self.head.out_features
        features = inputs[0].detach().reshape(-1, self.head.in_features)
        targets = self.targets.detach().reshape(-1, n)
        predictions = output.detach().reshape(-1, n) if self.with_predictions else None
        self.targets = None
        self.stats.update(features, targets, predictions)

    def __enter__(self) -> FeatureCapture:
        self._handle = self.head.register_forward_hook(self._hook)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None
