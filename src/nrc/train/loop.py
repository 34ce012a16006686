"""The training loop and its events: SGD on preloaded tensors, nothing else.

The loop owns the optimisation of the paper's objective (paper §1, eq. 1; §5.3 for the UFM-style
penalties), the data order and the counters. Everything else — measuring collapse, writing
checkpoints, progress bars, loggers — is a `Callback` that the loop calls at four events:
`on_start`, `on_evaluate` (epoch 0 of a fresh run, then every `eval_every` epochs), `on_epoch_end`
and `on_end`. The loop contains no metrics code (docs/architecture.md).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from nrc.models.mlp import RegressionModel
from nrc.train.config import TrainConfig
from nrc.train.distributed import SINGLE, FeaturesAndPredictions, Ranks
from nrc.train.setup import Tensors


class Callback:
    """Hooks a `Loop` calls; each default does nothing."""

    def on_start(self, loop: Loop) -> None:
        """Before the first epoch of this process (fresh or resumed)."""

    def on_evaluate(self, loop: Loop) -> None:
        """At epoch 0 of a fresh run and after every `eval_every`-th epoch."""

    def on_epoch_end(self, loop: Loop) -> None:
        """After every epoch (after `on_evaluate` when both fire)."""

    def on_end(self, loop: Loop) -> None:
        """After the last epoch."""


def make_optimizer(config: TrainConfig, model: nn.Module) -> torch.optim.SGD:
    """SGD with `config.momentum` (Table 2: 0; Table 3: 0.9). Its `weight_decay` adds wd·p to
    each gradient, which is exactly the gradient of (wd/2)·Σ‖p‖² over all parameters, biases
    included, as in the authors' training code (paper §5, Table 2)."""
    wd = config.weight_decay if config.regularization == "weight_decay" else 0.0
    return torch.optim.SGD(
        model.parameters(), lr=config.lr, momentum=config.momentum, weight_decay=wd
    )


def lr_at(config: TrainConfig, epoch: int) -> float:
    """Learning rate of the epoch after `epoch` completed ones: lr·lr_gamma^(milestones passed),
    times (epoch + 1)/warmup_epochs while epoch < warmup_epochs.

    The same as torch's LinearLR (from 1/warmup_epochs) chained with MultiStepLR, both stepped
    once per epoch (Table 3), as a pure function of the epoch so that a resumed run needs no
    scheduler state.
    """
    warmup = min(1.0, (epoch + 1) / config.warmup_epochs) if config.warmup_epochs else 1.0
    return warmup * config.lr * config.lr_gamma ** sum(epoch >= m for m in config.milestones)


def objective(
    h: torch.Tensor,
    predictions: torch.Tensor,
    y: torch.Tensor,
    weight: torch.Tensor,
    config: TrainConfig,
) -> torch.Tensor:
    """(1/2)·MSE of `predictions` (the weight-decay experiments, Table 2); in "ufm" mode the
    paper's eq. 1 on the batch: ‖WH + b − Y‖²_F/(2B) + (λ_H/2)·‖H‖²_F/B + (λ_W/2)·‖W‖²_F of the
    batch's features `h` and the head's `weight` (§5.3). Eq. 1 sums over the n targets where the
    MSE averages them, which would scale both λ by n (docs/training.md, "UFM-style runs")."""
    if config.regularization != "ufm":
        return 0.5 * F.mse_loss(predictions, y)
    loss = 0.5 * (predictions - y).pow(2).sum() / y.shape[0]
    loss = loss + 0.5 * config.lambda_h * h.pow(2).sum() / h.shape[0]
    return loss + 0.5 * config.lambda_w * weight.pow(2).sum()


def loss_fn(
    model: RegressionModel, x: torch.Tensor, y: torch.Tensor, config: TrainConfig
) -> torch.Tensor:
    """The objective of `model` on the batch (x, y)."""
    h = model.features(x)
    return objective(h, model.head(h), y, model.head.weight, config)


def epoch_batches(
    x: torch.Tensor, y: torch.Tensor, batch_size: int, generator: torch.Generator
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Shuffled mini-batches of one epoch: one gather per epoch, then contiguous slices (the last
    batch may be smaller, as a DataLoader without drop_last)."""
    perm = torch.randperm(x.shape[0], generator=generator)
    xs, ys = x[perm], y[perm]
    for start in range(0, x.shape[0], batch_size):
        yield xs[start : start + batch_size], ys[start : start + batch_size]


class Loop:
    """Trains `model` on `data` under `config`, calling `callbacks` at the loop's events.

    Generic over the model: it needs only `features(x)` and a linear `head` (`RegressionModel`).
    """

    def __init__(
        self,
        config: TrainConfig,
        model: RegressionModel,
        data: Tensors,
        callbacks: Sequence[Callback] = (),
        ranks: Ranks = SINGLE,
    ) -> None:
        if not isinstance(model, RegressionModel):
            raise ValueError("model must expose features(x) and a linear `head` (RegressionModel)")
        self.config, self.model, self.data, self.ranks = config, model, data, ranks
        self.callbacks = list(callbacks)
        self.parallel = (
            DistributedDataParallel(FeaturesAndPredictions(model))  # type: ignore[arg-type]
            if ranks.world > 1
            else None
        )
        self.optimizer = make_optimizer(config, model)  # type: ignore[arg-type]
        self.generator = torch.Generator().manual_seed(config.seed)
        self.epoch, self.step, self.elapsed = 0, 0, 0.0
        self.resumed = False

    def state(self) -> dict[str, Any]:
        """Everything to continue bit-identically: weights, optimizer, RNG states, counters."""
        return {
            "model": self.model.state_dict(),  # type: ignore[attr-defined]
            "optimizer": self.optimizer.state_dict(),
            "data_rng": self.generator.get_state(),
            "torch_rng": torch.get_rng_state(),
            "epoch": self.epoch,
            "step": self.step,
            "elapsed": self.elapsed,
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Continue from a checkpoint `state` (from `state()`)."""
        self.model.load_state_dict(state["model"])  # type: ignore[attr-defined]
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["data_rng"])
        torch.set_rng_state(state["torch_rng"])
        self.epoch, self.step, self.elapsed = state["epoch"], state["step"], state["elapsed"]
        self.resumed = True

    def _fire(self, event: str) -> None:
        for callback in self.callbacks:
            getattr(callback, event)(self)

    def _train_epoch(self) -> None:
        """One epoch of SGD; raises FloatingPointError when the loss is no longer finite."""
        cfg, model = self.config, self.model
        for group in self.optimizer.param_groups:
            group["lr"] = lr_at(cfg, self.epoch)
        for xb, yb in epoch_batches(self.data.x_train, self.data.y_train, cfg.batch_size,
                                    self.generator):  # fmt: skip
            loss = (
                loss_fn(model, xb, yb, cfg) if self.parallel is None else self._share_loss(xb, yb)
            )
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            self.step += 1
        if not math.isfinite(self.ranks.sum(loss.item())):
            raise FloatingPointError(f"training diverged at epoch {self.epoch + 1}: loss {loss}")

    def _share_loss(self, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        """This rank's objective on its share of the batch, weighted by share × world so that
        DDP's average of the gradients is the gradient of the whole batch's objective."""
        assert self.parallel is not None
        x, y = self.ranks.share(xb), self.ranks.share(yb)
        h, predictions = self.parallel(x)
        loss = objective(h, predictions, y, self.model.head.weight, self.config)
        return loss * (x.shape[0] * self.ranks.world / xb.shape[0])

    def run(self) -> None:
        """Train to `config.epochs`, firing the events."""
        self._fire("on_start")
        if not self.resumed:
            self._fire("on_evaluate")
        started = time.perf_counter() - self.elapsed
        while self.epoch < self.config.epochs:
            self._train_epoch()
            self.epoch += 1
            self.elapsed = time.perf_counter() - started
            if self.epoch % self.config.eval_every == 0:
                self._fire("on_evaluate")
            self._fire("on_epoch_end")
        self._fire("on_end")
