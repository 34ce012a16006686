"""Callbacks of the training loop: the collapse measurement, the run directory, the progress bar.

`CollapseMonitor` is the measurement as a callback: at each evaluation the whole training set
streams through `CollapseStats` (paper §3.1: metrics on the training set), the test MSE is
measured, and one row in the schema of `nrc.metrics.schema` is kept; at the end it adds the
paper's NRC3 protocol (App. A.3). `RunWriter` brings the run directory up to date every
`checkpoint_every` epochs so that a run killed at any point resumes to the identical table.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from nrc.metrics import (
    Convention,
    LayerProbe,
    LayerStats,
    intrinsic_dimension,
    nrc3_at,
    optimal_gamma,
    sqrtm_psd,
)
from nrc.metrics.schema import row_matrix
from nrc.models.layers import ProbePoint, probe_points
from nrc.models.mlp import RegressionModel
from nrc.train.config import TrainConfig
from nrc.train.distributed import SINGLE, Ranks
from nrc.train.loop import Callback, Loop
from nrc.train.progress import Throttle, write_run_progress
from nrc.train.setup import Tensors
from nrc.train.store import RunStore, snapshot_epochs

log = logging.getLogger(__name__)


@torch.no_grad()
def recalibrate_batchnorm(model: nn.Module, x: torch.Tensor, batch_size: int) -> None:
    """Replace every BatchNorm's running mean/variance by their average over `x` ("precise BN").

    Running statistics are exponential averages over past batches of earlier weights; under a
    large lr·wd they lag the weights and eval-mode outputs drift from train-mode ones
    (docs/images.md). This pass (train mode, cumulative average over batches) changes no
    parameter, so training is unchanged.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    momenta = [m.momentum for m in norms]
    was_training = model.training
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    for start in range(0, x.shape[0], batch_size):
        model(x[start : start + batch_size])
    for m, momentum in zip(norms, momenta, strict=True):
        m.momentum = momentum
    model.train(was_training)


@dataclass(frozen=True)
class Measurement:
    """One evaluation: the head's metrics row, one row per probed layer (none for
    `layers="last"`) and, when asked for, the training residuals ŷ − y (M×n, in the model's
    dtype)."""

    row: dict[str, Any]
    layers: list[dict[str, Any]]
    residuals: torch.Tensor | None


def _layer_rows(
    stats: dict[str, LayerStats], points: dict[str, ProbePoint], convention: Convention
) -> list[dict[str, Any]]:
    """The Deep-NRC report of each probed layer as a row keyed by `layer`."""
    rows = []
    for name, point in points.items():
        w_next = None if point.next_linear is None else point.next_linear.weight
        report = stats[name].report(w_next, convention=convention)
        rows.append({"layer": name} | report.to_dict())
    return rows


@torch.no_grad()
def measure(
    model: RegressionModel,
    data: Tensors,
    config: TrainConfig,
    ranks: Ranks = SINGLE,
    *,
    residuals: bool = True,
) -> Measurement:
    """The collapse measurement of the current model on the whole training set.

    The row is the CollapseReport of the head (`report.to_dict()`, with its MSE and R² named
    train_mse and train_r2) plus the test MSE and the feature activation. The layers of
    `config.layers` (`nrc.models.layers.probe_points`) are measured in the same forward passes;
    the layer followed by the head shares the head's statistics. The model is measured in eval
    mode and put back into the mode it was in; with `config.recalibrate_bn` the BatchNorm
    statistics are first recomputed over the training set. Over several `ranks` each measures
    its share of the rows and the moments are summed (docs/distributed.md). `residuals` false
    skips keeping (and, over several ranks, gathering) the residuals.
    """
    if config.recalibrate_bn:
        recalibrate_batchnorm(model, data.x_train, config.batch_size)  # type: ignore[arg-type]
    was_training = model.training  # type: ignore[attr-defined]
    model.eval()  # type: ignore[attr-defined]
    points = probe_points(model, config.layers)  # type: ignore[arg-type]
    head = model.head
    stats = LayerStats()
    probed = {name: p for name, p in points.items() if p.next_linear is not head}
    layer_stats = {name: LayerStats() for name in probed} | {
        name: stats for name in points if name not in probed
    }
    bs = config.eval_batch_size
    x_train, y_train = ranks.share(data.x_train), ranks.share(data.y_train)
    x_test, y_test = ranks.share(data.x_test), ranks.share(data.y_test)
    kept = []
    probe = LayerProbe({n: p.module for n, p in probed.items()}, pool="mean") if probed else None
    with probe or contextlib.nullcontext():
        for start in range(0, x_train.shape[0], bs):
            h = model.features(x_train[start : start + bs])
            predictions = head(h)
            targets = y_train[start : start + bs]
            stats.update(h, targets, predictions=predictions)
            for name, captured in (probe.take() if probe else {}).items():
                layer_stats[name].update(captured.output, targets, predictions)
            if residuals:
                kept.append(predictions - targets)
    if ranks.world > 1:
        for reduced in {id(st): st for st in (stats, *layer_stats.values())}.values():
            reduced.all_reduce()
    gamma_ufm = config.lambda_w * config.lambda_h if config.regularization == "ufm" else None
    convention = Convention(features=config.convention)
    report = stats.compute(head.weight, head.bias, gamma=gamma_ufm, convention=convention)
    sq_err = ranks.sum(
        sum(
            float((model(x_test[s : s + bs]) - y_test[s : s + bs]).double().pow(2).sum())
            for s in range(0, x_test.shape[0], bs)
        )
    )
    model.train(was_training)  # type: ignore[attr-defined]
    row = report.to_dict()
    row["train_mse"], row["train_r2"] = row.pop("mse"), row.pop("r2")
    row.update(test_mse=sq_err / data.y_test.numel(), activation=config.activation)
    layers = _layer_rows(layer_stats, points, convention)
    gathered = ranks.gather_rows(torch.cat(kept)) if residuals else None
    return Measurement(row, layers, gathered)


# TwoNN on at most this many training samples (a seeded subsample above it; docs/metrics.md).
GEOMETRY_POINTS = 10_000


@torch.no_grad()
def final_geometry(model: RegressionModel, data: Tensors, config: TrainConfig) -> dict[str, Any]:
    """TwoNN intrinsic dimension of the penultimate features (ID_H, eval mode) and of the
    training targets (ID_Y), the geometry of Andriopoulos et al. (2025)."""
    was_training = model.training  # type: ignore[attr-defined]
    model.eval()  # type: ignore[attr-defined]
    bs = config.eval_batch_size
    h = torch.cat(
        [model.features(data.x_train[s : s + bs]) for s in range(0, len(data.x_train), bs)]
    )
    model.train(was_training)  # type: ignore[attr-defined]
    kwargs = {"max_points": GEOMETRY_POINTS, "seed": config.seed}
    return {
        "id_h": intrinsic_dimension(h, **kwargs),
        "id_y": intrinsic_dimension(data.y_train, **kwargs),
        "method": "twonn (maximum likelihood)",
        "max_points": GEOMETRY_POINTS,
    }


def evaluate(model: RegressionModel, data: Tensors, config: TrainConfig) -> dict[str, Any]:
    """The head's metrics row of `measure` alone."""
    return measure(model, data, config, residuals=False).row


def paper_protocol(rows: list[dict[str, Any]]) -> tuple[float | None, list[float | None]]:
    """The paper's NRC3 (App. A.3): γ optimal for the final W, then that γ for every saved W.

    NRC3 depends on W only through WWᵀ, so each saved WWᵀ stands in for W via its PSD square root.
    Returns (γ, one value per row); (None, Nones) when n = 1 or the final W is zero.
    """
    sigma = row_matrix(rows[-1], "sigma")
    wwt = [row_matrix(r, "wwt") for r in rows]
    if sigma.shape[0] == 1 or not np.any(wwt[-1]):
        return None, [None] * len(rows)
    gamma, _ = optimal_gamma(sqrtm_psd(wwt[-1]), sigma)
    return gamma, [nrc3_at(sqrtm_psd(g), sigma, gamma) if np.any(g) else None for g in wwt]


class CollapseMonitor(Callback):
    """Measures collapse at each evaluation of a loop; keeps the head's rows, the probed layers'
    rows and the first and last training residuals (Fig. 11). A resumed run seeds `rows` and
    `layer_rows` with those its tables hold."""

    def __init__(self, config: TrainConfig, ranks: Ranks = SINGLE) -> None:
        self.config, self.ranks = config, ranks
        self.rows: list[dict[str, Any]] = []
        self.layer_rows: list[dict[str, Any]] = []
        self.residuals: dict[str, torch.Tensor] = {}
        self.geometry: dict[str, Any] | None = None

    def on_evaluate(self, loop: Loop) -> None:
        ends = {0: "initial", self.config.epochs: "final"}
        measured = measure(
            loop.model, loop.data, self.config, self.ranks, residuals=loop.epoch in ends
        )
        row, at = measured.row, {"epoch": loop.epoch, "step": loop.step}
        self.rows.append(at | row)
        self.layer_rows += [at | layer for layer in measured.layers]
        if loop.epoch in ends:
            self.residuals[ends[loop.epoch]] = measured.residuals
        log.info(
            "epoch %d step %d: train MSE %.4g test MSE %.4g R2 %.4f NRC1 %.3g NRC2 %.3g NRC3 %s",
            loop.epoch, loop.step, row["train_mse"], row["test_mse"], row["train_r2"],
            row["nrc1"], row["nrc2"], "n/a" if row["nrc3"] is None else f"{row['nrc3']:.3g}",
        )  # fmt: skip

    def on_end(self, loop: Loop) -> None:
        if self.config.geometry and self.ranks.main:
            self.geometry = final_geometry(loop.model, loop.data, self.config)
        gamma, values = paper_protocol(self.rows)
        self.rows = [
            r | {"gamma_paper": gamma, "nrc3_paper": v}
            for r, v in zip(self.rows, values, strict=True)
        ]

    def state_dict(self) -> dict[str, torch.Tensor]:
        """What a checkpoint must keep beyond the table: the residuals measured so far."""
        return {f"residuals_{k}": v for k, v in self.residuals.items()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Restore `state_dict()`."""
        self.residuals.update({k.removeprefix("residuals_"): v for k, v in state.items()})


class RunWriter(Callback):
    """Keeps `store` up to date with `monitor`: the table and a checkpoint after the epoch-0
    evaluation and every `checkpoint_every` epochs, the final files at the end; with
    `snapshots="log"` the model at the log-spaced epochs of `snapshot_epochs`. The run's epoch
    goes to its progress file at the start, at the last epoch and in between at most once per
    `nrc.train.progress.WRITE_EVERY_S` (docs/training.md, "Progress")."""

    def __init__(self, store: RunStore, monitor: CollapseMonitor) -> None:
        self.store, self.monitor = store, monitor
        self.throttle = Throttle()
        config = monitor.config
        self.snapshot_at = (
            set(snapshot_epochs(config.epochs)) if config.snapshots == "log" else set()
        )

    def _snapshot(self, loop: Loop) -> None:
        if loop.epoch in self.snapshot_at:
            self.store.write_snapshot(loop.epoch, loop.model.state_dict())  # type: ignore[attr-defined]

    def _report(self, loop: Loop) -> None:
        last = loop.epoch == loop.config.epochs
        if self.throttle.due() or last:
            write_run_progress(self.store.path, loop.epoch, loop.config.epochs)

    def on_start(self, loop: Loop) -> None:
        self._report(loop)
        if not loop.resumed:
            self._snapshot(loop)

    def _save(self, loop: Loop) -> None:
        state = loop.state() | {"monitor": self.monitor.state_dict()}
        self.store.write_progress(self.monitor.rows, state, self.monitor.layer_rows)

    def on_evaluate(self, loop: Loop) -> None:
        if loop.epoch == 0:
            self._save(loop)

    def on_epoch_end(self, loop: Loop) -> None:
        self._snapshot(loop)
        self._report(loop)
        cfg = loop.config
        if loop.epoch % cfg.checkpoint_every == 0 or loop.epoch == cfg.epochs:
            self._save(loop)

    def on_end(self, loop: Loop) -> None:
        rows, residuals = self.monitor.rows, self.monitor.residuals
        if {"initial", "final"} <= set(residuals):  # a run resumed from an older nrc lacks one
            self.store.write_residuals(residuals["initial"], residuals["final"], loop.data.y_train)
        if self.monitor.geometry is not None:
            self.store.write_geometry(self.monitor.geometry)
        wwt = np.array([row_matrix(r, "wwt") for r in rows])
        self.store.finish(rows, wwt, loop.elapsed, self.monitor.layer_rows)


class Progress(Callback):
    """A tqdm bar over epochs, showing the last evaluation of `monitor`."""

    def __init__(self, monitor: CollapseMonitor | None = None, enabled: bool = True) -> None:
        self.monitor, self.enabled = monitor, enabled
        self.bar: tqdm | None = None

    def on_start(self, loop: Loop) -> None:
        self.bar = tqdm(
            total=loop.config.epochs, initial=loop.epoch, disable=not self.enabled, unit="ep"
        )

    def on_epoch_end(self, loop: Loop) -> None:
        assert self.bar is not None
        self.bar.update()
        if self.monitor is not None and loop.epoch % loop.config.eval_every == 0:
            row = self.monitor.rows[-1]
            self.bar.set_postfix(
                mse=row["train_mse"], nrc1=row["nrc1"], nrc2=row["nrc2"], refresh=False
            )

    def on_end(self, loop: Loop) -> None:
        if self.bar is not None:
            self.bar.close()
