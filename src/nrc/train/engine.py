"""The training loop: SGD on preloaded tensors, periodic collapse evaluation, atomic checkpoints.

One run = one model trained on one dataset (paper §1 objective). Every `eval_every` epochs (and at
epoch 0) the whole training set streams through `CollapseStats` (paper.md §2.2: metrics on the
training set) and the test MSE is measured; every `checkpoint_every` epochs the run directory is
brought up to date so that a run killed at any point resumes to the identical metrics table.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from nrc.metrics import CollapseStats, Convention, nrc3_at, optimal_gamma, sqrtm_psd
from nrc.models.mlp import MLP, RegressionModel
from nrc.models.resnet import resnet
from nrc.train import rundir
from nrc.train.config import TrainConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Tensors:
    """Preloaded float32 tensors of a regression dataset (rows = samples)."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor


def check_tensors(data: Any) -> Tensors:
    """`data` (anything with x_train, y_train, x_test, y_test) as validated float32 `Tensors`.

    Targets are 2-D (samples × n); inputs are 2-D (vectors) or 4-D (images, N×C×H×W).
    """
    out = {}
    for name in ("x_train", "y_train", "x_test", "y_test"):
        value = getattr(data, name, None)
        ranks = (2, 4) if name.startswith("x") else (2,)
        if not isinstance(value, torch.Tensor) or value.ndim not in ranks:
            shape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
            raise ValueError(
                f"data.{name} must be a {' or '.join(f'{r}-D' for r in ranks)} "
                f"torch tensor, got {shape}"
            )
        if not torch.isfinite(value).all():
            raise ValueError(f"data.{name} contains NaN or Inf")
        out[name] = value.float().contiguous()
    for split in ("train", "test"):
        x, y = out[f"x_{split}"], out[f"y_{split}"]
        if x.shape[0] != y.shape[0] or x.shape[0] == 0:
            raise ValueError(f"data: x_{split} has {x.shape[0]} rows, y_{split} has {y.shape[0]}")
    if out["x_train"].shape[1:] != out["x_test"].shape[1:]:
        raise ValueError(
            f"data: x_train samples have shape {tuple(out['x_train'].shape[1:])}, "
            f"x_test samples {tuple(out['x_test'].shape[1:])}"
        )
    if out["y_train"].shape[1] != out["y_test"].shape[1]:
        raise ValueError("data: y_train and y_test have different numbers of columns")
    return Tensors(**out)


def scale_targets(data: Tensors, how: str) -> tuple[Tensors, dict[str, list[float]]]:
    """Targets rescaled per column by statistics of the training targets (both splits alike).

    "standardize": (y − mean)/std (population std); "minmax": (y − min)/(max − min), as the
    paper's CARLA targets (App. A.2); "none": unchanged. Returns the data and the statistics used.
    """
    y = data.y_train
    if how == "none":
        return data, {}
    if how == "standardize":
        shift, scale = y.mean(0), y.std(0, correction=0)
        stats = {"mean": shift.tolist(), "std": scale.tolist()}
    elif how == "minmax":
        shift, scale = y.min(0).values, y.max(0).values - y.min(0).values
        stats = {"min": shift.tolist(), "max": (shift + scale).tolist()}
    else:
        raise ValueError(f"target_scaling must be 'none', 'standardize' or 'minmax', got {how!r}")
    if not torch.all(scale > 0):
        raise ValueError(f"target_scaling {how!r}: a training target column is constant")
    scaled = Tensors(data.x_train, (y - shift) / scale, data.x_test, (data.y_test - shift) / scale)
    return scaled, stats


def build_model(config: TrainConfig, in_shape: tuple[int, ...], out_dim: int) -> nn.Module:
    """The model of `config` for inputs of per-sample shape `in_shape`, seeded by `config.seed`.

    "mlp": Table 2's MLP (PyTorch default init) on vectors; "resnet18"/"resnet34": Table 3's
    ResNets (torchvision init) on C×H×W images, loaded from `config.pretrained` when given.
    """
    torch.manual_seed(config.seed)
    if config.model == "mlp":
        if len(in_shape) != 1:
            raise ValueError(
                f"config key 'model' is 'mlp' but dataset {config.dataset!r} has inputs of "
                f"shape {tuple(in_shape)}; use model=resnet18 or resnet34 for images"
            )
        return MLP(
            in_shape[0], out_dim, depth=config.depth, width=config.width,
            activation=config.activation,
        )  # fmt: skip
    if len(in_shape) != 3:
        raise ValueError(
            f"config key 'model' is {config.model!r} but dataset {config.dataset!r} has inputs "
            f"of shape {tuple(in_shape)}, not images (C×H×W)"
        )
    model = resnet(
        config.model, out_dim, small_input=config.small_input, activation=config.activation
    )
    if config.pretrained is not None:
        model.load_pretrained(config.pretrained)
    return model


def make_optimizer(config: TrainConfig, model: nn.Module) -> torch.optim.SGD:
    """SGD with `config.momentum` (Table 2: 0; Table 3: 0.9). Its `weight_decay` adds wd·p to
    each gradient, which is exactly the gradient of the authors' explicit (wd/2)·Σ‖p‖² over all
    parameters (paper.md §5.1)."""
    wd = config.weight_decay if config.regularization == "weight_decay" else 0.0
    return torch.optim.SGD(
        model.parameters(), lr=config.lr, momentum=config.momentum, weight_decay=wd
    )


def lr_at(config: TrainConfig, epoch: int) -> float:
    """Learning rate of the epoch after `epoch` completed ones: lr·lr_gamma^(milestones passed).

    The same as torch's MultiStepLR stepped once per epoch (Table 3), as a pure function of the
    epoch so that a resumed run needs no scheduler state.
    """
    return config.lr * config.lr_gamma ** sum(epoch >= m for m in config.milestones)


def loss_fn(
    model: RegressionModel, x: torch.Tensor, y: torch.Tensor, config: TrainConfig
) -> torch.Tensor:
    """(1/2)·MSE, plus in "ufm" mode (λ_H/2)·‖H‖²_F/B + (λ_W/2)·‖W‖²_F (paper eq. 1, §5.3)."""
    h = model.features(x)
    loss = 0.5 * F.mse_loss(model.head(h), y)
    if config.regularization == "ufm":
        loss = loss + 0.5 * config.lambda_h * h.pow(2).sum() / x.shape[0]
        loss = loss + 0.5 * config.lambda_w * model.head.weight.pow(2).sum()
    return loss


def epoch_batches(
    x: torch.Tensor, y: torch.Tensor, batch_size: int, generator: torch.Generator
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Shuffled mini-batches of one epoch: one gather per epoch, then contiguous slices (the last
    batch may be smaller, as a DataLoader without drop_last)."""
    perm = torch.randperm(x.shape[0], generator=generator)
    xs, ys = x[perm], y[perm]
    for start in range(0, x.shape[0], batch_size):
        yield xs[start : start + batch_size], ys[start : start + batch_size]


@torch.no_grad()
def recalibrate_batchnorm(model: nn.Module, x: torch.Tensor, batch_size: int) -> None:
    """Replace every BatchNorm's running mean/variance by their average over `x` ("precise BN").

    Running statistics are exponential averages over past batches of earlier weights; under a
    large lr·wd they lag the weights and eval-mode outputs drift from train-mode ones. This pass
    (train mode, cumulative average over batches) changes no parameter, so training is unchanged.
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


@torch.no_grad()
def evaluate(model: RegressionModel, data: Tensors, config: TrainConfig) -> dict[str, Any]:
    """One metrics row: the CollapseReport of the whole training set plus train/test MSE, R².

    The model is measured in eval mode (BatchNorm running statistics, no dropout) and put back
    into the mode it was in; with `config.recalibrate_bn` the running statistics are first
    recomputed over the training set (`recalibrate_batchnorm`).
    """
    if config.recalibrate_bn:
        recalibrate_batchnorm(model, data.x_train, config.batch_size)  # type: ignore[arg-type]
    was_training = model.training  # type: ignore[attr-defined]
    model.eval()  # type: ignore[attr-defined]
    stats = CollapseStats()
    bs = config.eval_batch_size
    for start in range(0, data.x_train.shape[0], bs):
        h = model.features(data.x_train[start : start + bs])
        stats.update(h, data.y_train[start : start + bs], predictions=model.head(h))
    head = model.head
    gamma_ufm = config.lambda_w * config.lambda_h if config.regularization == "ufm" else None
    report = stats.compute(
        head.weight, head.bias, gamma=gamma_ufm, convention=Convention(features=config.convention)
    )
    sq_err = sum(
        float((model(data.x_test[s : s + bs]) - data.y_test[s : s + bs]).double().pow(2).sum())
        for s in range(0, data.x_test.shape[0], bs)
    )
    model.train(was_training)  # type: ignore[attr-defined]
    row = report.to_dict()
    row["train_mse"], row["train_r2"] = row.pop("mse"), row.pop("r2")
    row.update(test_mse=sq_err / data.y_test.numel(), activation=config.activation)
    return row


def paper_protocol(rows: list[dict[str, Any]]) -> tuple[float | None, list[float | None]]:
    """The paper's NRC3 (App. A.3): γ optimal for the final W, then that γ for every saved W.

    NRC3 depends on W only through WWᵀ, so each saved WWᵀ stands in for W via its PSD square root.
    Returns (γ, one value per row); (None, Nones) when n = 1 or the final W is zero.
    """
    sigma = rundir.row_matrix(rows[-1], "sigma")
    wwt = [rundir.row_matrix(r, "wwt") for r in rows]
    if sigma.shape[0] == 1 or not np.any(wwt[-1]):
        return None, [None] * len(rows)
    gamma, _ = optimal_gamma(sqrtm_psd(wwt[-1]), sigma)
    return gamma, [nrc3_at(sqrtm_psd(g), sigma, gamma) if np.any(g) else None for g in wwt]


class Trainer:
    """Trains `model` on `data` under `config`, writing the run directory `run_dir`.

    Generic over the model: it needs only `features(x)` and a linear `head` (`RegressionModel`).
    """

    def __init__(
        self, config: TrainConfig, model: RegressionModel, data: Tensors, run_dir: Path
    ) -> None:
        if not isinstance(model, RegressionModel):
            raise ValueError("model must expose features(x) and a linear `head` (RegressionModel)")
        self.config, self.model, self.data, self.run_dir = config, model, data, Path(run_dir)
        self.optimizer = make_optimizer(config, model)  # type: ignore[arg-type]
        self.generator = torch.Generator().manual_seed(config.seed)
        self.epoch, self.step, self.elapsed = 0, 0, 0.0
        self.rows: list[dict[str, Any]] = []

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

    def restore(self, state: dict[str, Any], rows: list[dict[str, Any]]) -> None:
        """Continue from a checkpoint `state`; keep the metrics rows it had written."""
        self.model.load_state_dict(state["model"])  # type: ignore[attr-defined]
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["data_rng"])
        torch.set_rng_state(state["torch_rng"])
        self.epoch, self.step, self.elapsed = state["epoch"], state["step"], state["elapsed"]
        self.rows = [r for r in rows if r["epoch"] <= self.epoch]
        if len(self.rows) != self.epoch // self.config.eval_every + 1:
            raise ValueError(
                f"run {self.run_dir}: metrics table has {len(self.rows)} rows up to epoch "
                f"{self.epoch}, expected {self.epoch // self.config.eval_every + 1}; it is corrupt"
            )

    def _record(self) -> None:
        row = {"epoch": self.epoch, "step": self.step} | evaluate(
            self.model, self.data, self.config
        )
        self.rows.append(row)
        log.info(
            "epoch %d step %d: train MSE %.4g test MSE %.4g R2 %.4f NRC1 %.3g NRC2 %.3g NRC3 %s",
            self.epoch, self.step, row["train_mse"], row["test_mse"], row["train_r2"],
            row["nrc1"], row["nrc2"], "n/a" if row["nrc3"] is None else f"{row['nrc3']:.3g}",
        )  # fmt: skip

    def _save(self) -> None:
        rundir.write_progress(self.run_dir, self.rows, self.state())

    def train(self, progress: bool = True) -> Path:
        """Train to `config.epochs`, evaluating and checkpointing; finish the run directory."""
        cfg, model = self.config, self.model
        if not self.rows:
            self._record()
            self._save()
        bar = tqdm(total=cfg.epochs, initial=self.epoch, disable=not progress, unit="ep")
        x, y = self.data.x_train, self.data.y_train
        started = time.perf_counter() - self.elapsed
        while self.epoch < cfg.epochs:
            for group in self.optimizer.param_groups:
                group["lr"] = lr_at(cfg, self.epoch)
            for xb, yb in epoch_batches(x, y, cfg.batch_size, self.generator):
                loss = loss_fn(model, xb, yb, cfg)
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                self.optimizer.step()
                self.step += 1
            if not math.isfinite(loss.item()):
                raise FloatingPointError(
                    f"training diverged at epoch {self.epoch + 1}: loss {loss}"
                )
            self.epoch += 1
            bar.update()
            if self.epoch % cfg.eval_every == 0:
                self._record()
                row = self.rows[-1]
                bar.set_postfix(
                    mse=row["train_mse"], nrc1=row["nrc1"], nrc2=row["nrc2"], refresh=False
                )
            if self.epoch % cfg.checkpoint_every == 0 or self.epoch == cfg.epochs:
                self.elapsed = time.perf_counter() - started
                self._save()
        bar.close()
        gamma, nrc3_paper = paper_protocol(self.rows)
        rundir.finish(self.run_dir, self.rows, gamma, nrc3_paper, self.elapsed)
        return self.run_dir
