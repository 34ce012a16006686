"""Collapse monitoring for PyTorch Lightning (owns the ``CollapseMonitor`` callback).

Every ``every_n_epochs`` epochs the callback makes its own pass over the training (or
validation) dataloader with ``torch.no_grad()`` in eval mode, captures the head's inputs and
outputs, and logs the report through ``pl_module.log`` so that every logger of the Trainer
receives ``nrc/<metric>`` at the epoch's step. Under DDP each process measures its shard and the
moments are summed over the processes (:func:`nrc.integrations.common.measure`), so every
process logs the values of the whole dataset.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import Callback
from torch import nn

from nrc.integrations.common import find_head, measure_layers, metric_items
from nrc.metrics import Convention
from nrc.models import MLP
from nrc.models.layers import ProbePoint, probe_points
from nrc.models.resnet import ResNetRegressor

log = logging.getLogger(__name__)

Split = Literal["train", "val"]
SPLITS = ("train", "val")


def inputs_and_targets(batch: Any) -> tuple[Any, torch.Tensor]:
    """The (inputs, targets) of a batch that is a pair (x, y) or starts with one."""
    if not isinstance(batch, (tuple, list)) or len(batch) < 2:
        raise ValueError(
            f"batch: expected (inputs, targets), got {type(batch).__name__}; pass "
            "CollapseMonitor(batch_to_xy=...) for other batch layouts"
        )
    return batch[0], batch[1]


class CollapseMonitor(Callback):
    """Log NRC1–3 and the rest of the collapse report every ``every_n_epochs`` epochs.

    ``head``: the head module or its dotted name in the LightningModule; default: the first of
    ``classifier``, ``score``, ``head``, ``fc``, else the last ``nn.Linear`` (named in the log).
    ``split``: measure on ``"train"`` data (the paper's protocol, §3.1; at the end of the
    training epoch) or ``"val"`` (at the end of validation). ``layers``: ``"last"`` (the head,
    logged as ``nrc/<metric>``), ``"all"`` (every layer of the MLP or ResNet inside the module,
    `nrc.models.layers`) or a list of module names of the LightningModule, each also logged as
    ``nrc/<layer>/<metric>`` (the Deep-NRC report, docs/metrics.md). ``batch_to_xy(batch)``
    returns (inputs, targets), default a pair; the model runs as ``pl_module(inputs)``.
    ``gamma``/``convention``: see ``CollapseStats.compute``.

    ``history`` keeps one dict per measurement (``epoch`` and the numeric report fields, in
    float64); it is the callback's checkpointed state.
    """

    def __init__(
        self,
        head: nn.Module | str | None = None,
        *,
        split: Split = "train",
        every_n_epochs: int = 1,
        layers: str | Sequence[str] = "last",
        batch_to_xy: Callable[[Any], tuple[Any, torch.Tensor]] = inputs_and_targets,
        gamma: float | None = None,
        convention: Convention | str | None = None,
    ) -> None:
        if split not in SPLITS:
            raise ValueError(f"split: {split!r} is not one of {SPLITS}")
        if not isinstance(every_n_epochs, int) or every_n_epochs < 1:
            raise ValueError(f"every_n_epochs: must be a positive integer, got {every_n_epochs!r}")
        if isinstance(layers, str) and layers not in ("last", "all"):
            raise ValueError(f"layers: 'last', 'all' or a list of module names, got {layers!r}")
        self.layers = layers if isinstance(layers, str) else tuple(layers)
        self.head, self.split, self.every_n_epochs = head, split, every_n_epochs
        self.batch_to_xy = batch_to_xy
        self.gamma, self.convention = gamma, convention
        self.history: list[dict[str, float]] = []

    @property
    def state_key(self) -> str:
        """Distinguishes several monitors of one Trainer in a checkpoint."""
        return self._generate_state_key(split=self.split, every_n_epochs=self.every_n_epochs)

    def _batches(
        self, loader: Any, pl_module: pl.LightningModule
    ) -> Iterator[tuple[Any, torch.Tensor]]:
        loaders = loader if isinstance(loader, (list, tuple)) else [loader]
        for one in loaders:
            for batch in one:
                batch = pl_module.transfer_batch_to_device(batch, pl_module.device, 0)
                yield self.batch_to_xy(batch)

    def _points(self, pl_module: pl.LightningModule) -> dict[str, ProbePoint]:
        """The probed layers: none for "last", the layers of the MLP or ResNet inside the
        module for "all" (named from the LightningModule), else the named modules."""
        if self.layers != "all":
            return probe_points(pl_module, self.layers)
        for prefix, module in pl_module.named_modules():
            if isinstance(module, MLP | ResNetRegressor):
                found = probe_points(module, "all")
                return {f"{prefix}.{name}" if prefix else name: p for name, p in found.items()}
        raise ValueError(
            "layers='all': no nrc MLP or ResNet inside the LightningModule; give module names"
        )

    def _measure(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        epoch = trainer.current_epoch + 1
        if epoch % self.every_n_epochs:
            return
        name, head = find_head(pl_module, self.head)
        if self.head is None and epoch == self.every_n_epochs:
            log.info("CollapseMonitor: measuring %s (%s)", name, head)
        loader = trainer.train_dataloader if self.split == "train" else trainer.val_dataloaders
        if loader is None:
            raise ValueError(f"split: the Trainer has no {self.split} dataloader to measure on")
        report, layers = measure_layers(
            pl_module,
            head,
            self._points(pl_module),
            self._batches(loader, pl_module),
            pl_module,
            gamma=self.gamma,
            convention=self.convention,
        )
        values = metric_items(report.to_dict())
        for layer, layer_report in layers.items():
            values |= metric_items(layer_report.to_dict(), prefix=f"nrc/{layer}/")
        self.history.append({"epoch": epoch} | values)
        for key, value in values.items():
            # Equal on every rank already; sync_dist averages equal values (and keeps
            # Lightning from asking for it under DDP).
            value = torch.tensor(value, dtype=torch.float64, device=pl_module.device)
            pl_module.log(key, value, on_epoch=True, sync_dist=True)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Measure on the training data (``split="train"``)."""
        if self.split == "train":
            self._measure(trainer, pl_module)

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Measure on the validation data (``split="val"``), not during the sanity check."""
        if self.split == "val" and not trainer.sanity_checking:
            self._measure(trainer, pl_module)

    def state_dict(self) -> dict[str, Any]:
        """The measurements so far (restored on resume)."""
        return {"history": [dict(h) for h in self.history]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        self.history = [dict(h) for h in state_dict["history"]]
