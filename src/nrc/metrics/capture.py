"""Capture the penultimate features h_θ(x) of any model: the inputs of its linear head (paper
§1). Owns ``FeatureCapture``, a :class:`~nrc.metrics.probes.LayerProbe` on the head that feeds a
:class:`~nrc.metrics.stats.CollapseStats`."""

from __future__ import annotations

import torch
from torch import nn

from nrc.metrics.probes import Captured, LayerProbe
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
    stale target can never be paired with a new batch. With R rows of h in the batch, targets
    must be R×n (or R for n = 1); any other shape, a transposed n×R included, is an error.
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
        self._probe = LayerProbe({"head": head}, on_capture=self._update)

    def _check_targets(self, targets: torch.Tensor, rows: int) -> None:
        n = self.head.out_features
        allowed = [(rows, n), (rows,)] if n == 1 else [(rows, n)]
        if tuple(targets.shape) not in allowed:
            raise ValueError(
                f"capture.targets: shape {tuple(targets.shape)}, but the head's input has "
                f"{rows} rows of {self.head.in_features} features in this batch, so the targets "
                f"must be {' or '.join(map(str, allowed))}"
            )

    def _update(self, name: str, captured: Captured) -> None:
        if self.targets is None:
            raise RuntimeError("FeatureCapture: set capture.targets before each forward pass")
        targets, self.targets = self.targets, None
        n = self.head.out_features
        features = captured.inputs.reshape(-1, self.head.in_features)
        self._check_targets(targets, features.shape[0])
        predictions = captured.output.reshape(-1, n) if self.with_predictions else None
        self.stats.update(features, targets.reshape(-1, n), predictions)

    def __enter__(self) -> FeatureCapture:
        self._probe.__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._probe.__exit__(*exc_info)  # type: ignore[arg-type]
