"""NRC1–3 as a torchmetrics ``Metric`` (owns ``RegressionCollapse``).

The states are the float64 moments of :class:`nrc.metrics.CollapseStats` (docs/metrics.md, "How
it is computed"), declared with ``add_state(..., dist_reduce_fx="sum")`` so that torchmetrics
sums them over DDP processes before ``compute``. The moments of h and y are sums relative to a
shift (the first batch's mean) so that a large feature mean does not swamp small variances;
sums add only when their shifts agree, so before torchmetrics sums them every process moves its
sums to one common shift (the count-weighted mean of the processes' shifts; exact algebra), and
the shift states, then equal everywhere, are kept as they are. The formulas stay in
:mod:`nrc.metrics`: ``update`` and ``compute`` go through a ``CollapseStats`` built on the states.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import Any

import torch
from torch import nn
from torchmetrics import Metric
from torchmetrics.utilities.distributed import gather_all_tensors

from nrc.integrations.common import as_linear, metric_items
from nrc.metrics import CollapseStats, Convention
from nrc.metrics.stats import _Sums

SHIFTS = ("shift_h", "shift_y")


def same_on_every_rank(stacked: torch.Tensor) -> torch.Tensor:
    """Reduction of a state that is already equal on every rank (the common shift)."""
    return stacked[0]


def common_shift(gathered: list[torch.Tensor], own: torch.Tensor) -> torch.Tensor:
    """Count-weighted mean of the ranks' shifts from rows ``[count, shift...]``; ``own`` (this
    rank's shift) when no rank has data."""
    rows = torch.stack([g.to(own.device) for g in gathered])
    counts, shifts = rows[:, 0], rows[:, 1:]
    total = counts.sum()
    return own if total == 0 else (counts @ shifts) / total


class RegressionCollapse(Metric):
    """NRC1–3, γ, EVR, MSE, R², … of the head ``head`` (an ``nn.Linear``: W = ``head.weight``,
    b = ``head.bias``, read when ``compute`` runs) over every ``update`` since the last ``reset``.

    ``update(features, targets, preds=None)`` takes the head's inputs h (B×d, d =
    ``head.in_features``), the targets (B×n, or B for n = 1) and optionally the predictions; give
    predictions for every batch or for none (without them MSE and R² come from W, b and the
    moments). ``compute()`` returns every numeric field of ``CollapseReport.to_dict()`` (the
    columns of ``metrics.parquet``: ``nrc1``, ``nrc2``, ``nrc3``, ``gamma``, ``gamma_ratio``,
    ``evr_1``…, ``r2``, …) as float64 scalar tensors, so ``self.log_dict(metric.compute())``
    works; NRC3 is absent for n = 1. ``gamma``/``convention``/``evr_k`` are those of
    :meth:`nrc.metrics.CollapseStats.compute`. Other keyword arguments go to ``Metric``.

    The head is referenced, not owned: it is not a submodule of the metric, so the metric's
    ``state_dict`` and ``parameters()`` do not repeat the model's weights.
    """

    is_differentiable = False
    higher_is_better = None
    # Sums relative to different shifts do not add, so forward() accumulates the global state
    # directly instead of merging a batch state into it.
    full_state_update = True

    def __init__(
        self,
        head: nn.Linear,
        *,
        gamma: float | None = None,
        convention: Convention | str | None = None,
        evr_k: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._head = (as_linear(head, "head"),)
        self.gamma, self.convention, self.evr_k = gamma, convention, evr_k
        f64 = torch.float64
        zeros = _Sums.zeros(
            torch.zeros(head.in_features, dtype=f64), torch.zeros(head.out_features, dtype=f64)
        )
        for f in fields(zeros):
            reduce = same_on_every_rank if f.name in SHIFTS else "sum"
            self.add_state(f.name, getattr(zeros, f.name), dist_reduce_fx=reduce)

    @property
    def head(self) -> nn.Linear:
        """The measured head."""
        return self._head[0]

    def _sums(self) -> _Sums:
        """The states as the sums of a ``CollapseStats`` (the same tensors, not copies)."""
        return _Sums(**{f.name: getattr(self, f.name) for f in fields(_Sums)})

    def _stats(self) -> CollapseStats:
        """A ``CollapseStats`` whose moments are the states (empty before the first update)."""
        stats = CollapseStats()
        if int(self.count) > 0:
            stats._sums = self._sums()
            stats._with_predictions = bool(self.pred_count > 0)
        return stats

    def _check(self, features: torch.Tensor, targets: torch.Tensor) -> None:
        d, n = self.head.in_features, self.head.out_features
        if features.ndim != 2 or features.shape[1] != d:
            raise ValueError(
                f"features: shape {tuple(features.shape)}, expected (B, {d}): the inputs of the "
                f"head, which takes {d} features"
            )
        allowed = [(features.shape[0], n)] + ([(features.shape[0],)] if n == 1 else [])
        if tuple(targets.shape) not in allowed:
            raise ValueError(
                f"targets: shape {tuple(targets.shape)}, expected "
                f"{' or '.join(map(str, allowed))} for {features.shape[0]} feature rows and a "
                f"head with {n} outputs"
            )

    def update(
        self, features: torch.Tensor, targets: torch.Tensor, preds: torch.Tensor | None = None
    ) -> None:
        """Add a batch: the head's inputs (B×d), the targets (B×n or B) and the predictions."""
        self._check(features, targets)
        stats = self._stats()
        fresh = stats._sums is None
        stats.update(features, targets, preds)  # in place on the states when they are bound
        if fresh and stats._sums is not None:
            for f in fields(_Sums):
                setattr(self, f.name, getattr(stats._sums, f.name).to(self.count.device))

    def _sync_dist(
        self, dist_sync_fn: Callable = gather_all_tensors, process_group: Any | None = None
    ) -> None:
        """Move this rank's sums to the ranks' common shift, then let torchmetrics sum them."""
        group = process_group or self.process_group
        packed = torch.cat([self.count.reshape(1), self.shift_h, self.shift_y])
        shift = common_shift(dist_sync_fn(packed, group=group), packed[1:])
        d = self.shift_h.numel()
        sums = self._sums()
        sums.reshift(shift[:d], shift[d:])
        self.shift_h, self.shift_y = sums.shift_h, sums.shift_y
        super()._sync_dist(dist_sync_fn, process_group)

    def compute(self) -> dict[str, torch.Tensor]:
        """Every numeric field of the report, as float64 scalar tensors on the metric's device."""
        report = self._stats().compute(
            self.head.weight.detach(),
            None if self.head.bias is None else self.head.bias.detach(),
            gamma=self.gamma,
            convention=self.convention,
            evr_k=self.evr_k,
        )
        device = self.count.device
        return {
            k: torch.tensor(v, dtype=torch.float64, device=device)
            for k, v in metric_items(report.to_dict(), prefix="").items()
        }
