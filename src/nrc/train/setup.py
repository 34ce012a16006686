"""What a run is made of: validated tensors of its dataset, scaled targets, its model.

`training_data(config)` loads `config.dataset` through `nrc.data.load` (paper §4; the registry
in `nrc.data.registry` knows every dataset) or validates user tensors; `build_model` builds the
paper's MLP (Table 2) or ResNet (Table 3).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from nrc.models.mlp import MLP
from nrc.models.resnet import resnet
from nrc.train.config import TrainConfig


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


def as_dtype(data: Tensors, dtype: torch.dtype) -> Tensors:
    """`data` in floating type `dtype` (the same tensors when they already are)."""
    return Tensors(*(t.to(dtype) for t in (data.x_train, data.y_train, data.x_test, data.y_test)))


# The directions a rank-r target keeps are the top r principal directions of the training
# targets; the others are shrunk by this factor (their variance by its square), so that Σ stays
# positive definite and every metric stays defined (docs/training.md, "Low-rank targets").
LOW_RANK_SHRINK = 1e-3


def low_rank_targets(data: Tensors, rank: int) -> Tensors:
    """Targets of effective rank `rank`: ȳ + (y − ȳ)(P + s·(I − P)) with P the projection onto
    the top `rank` principal directions of the training targets and s = LOW_RANK_SHRINK, applied
    to both splits with the training mean and directions."""
    y = data.y_train.double()
    n = y.shape[1]
    if rank >= n:
        raise ValueError(f"config key 'target_rank' ({rank}) must be below n = {n} targets")
    mean = y.mean(0)
    _, _, vt = torch.linalg.svd(y - mean, full_matrices=False)
    keep = vt[:rank].T @ vt[:rank]
    mix = keep + LOW_RANK_SHRINK * (torch.eye(n, dtype=y.dtype) - keep)

    def project(t: torch.Tensor) -> torch.Tensor:
        return ((t.double() - mean) @ mix + mean).to(t.dtype)

    return Tensors(data.x_train, project(data.y_train), data.x_test, project(data.y_test))


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
        mlp = MLP(
            in_shape[0], out_dim, depth=config.depth, width=config.width,
            activation=config.activation, bias=config.bias,
        )  # fmt: skip
        return mlp.to(getattr(torch, config.dtype))
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
    return model.to(getattr(torch, config.dtype))


def load_arguments(config: TrainConfig) -> dict[str, Any]:
    """The keyword arguments of `nrc.data.load` for `config`: everything that decides its data."""
    return {
        "name": config.dataset,
        "train_size": config.train_size,
        "test_size": config.test_size,
        "image_size": config.image_size,
        "normalization": config.image_normalization,
        "expert_actions": config.expert_actions,
    }


def load_dataset(config: TrainConfig) -> Any:
    """`config.dataset` as `nrc.data.load` gives it (tensors and provenance; paper §4)."""
    from nrc import data as nrc_data  # deferred: the data package pulls in MuJoCo

    return nrc_data.load(**load_arguments(config))


@dataclass(frozen=True)
class RunData:
    """The tensors a run trains on (targets scaled), its raw training targets and a
    description for the run directory's data.json."""

    tensors: Tensors
    raw_targets: np.ndarray
    info: dict[str, Any]


def training_data(config: TrainConfig, data: Any | None = None) -> RunData:
    """The data of a run of `config`: `data` (anything with x_train, y_train, x_test, y_test
    tensors and optionally a provenance) or else `load_dataset(config)`, validated, with the
    targets scaled as `config.target_scaling` says."""
    loaded = load_dataset(config) if data is None else data
    raw = check_tensors(loaded)
    tensors, scaling = scale_targets(raw, config.target_scaling)
    if config.target_rank is not None:
        tensors = low_rank_targets(tensors, config.target_rank)
    tensors = as_dtype(tensors, getattr(torch, config.dtype))
    provenance = getattr(loaded, "provenance", None)
    info = {
        "dataset": config.dataset,
        "provenance": provenance,
        "input_shape": list(raw.x_train.shape[1:]),
        "n": raw.y_train.shape[1],
        "train_size": raw.x_train.shape[0],
        "test_size": raw.x_test.shape[0],
        "target_scaling": {"how": config.target_scaling, **scaling},
        # The variant loaded (the registry's default when the key is None; docs/datasets.md).
        "expert_actions": (provenance or {}).get("expert_actions", config.expert_actions),
        "target_rank": config.target_rank,
    }
    return RunData(tensors, raw.y_train.numpy(), info)
