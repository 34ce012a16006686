"""Shipped presets (`paper`, `quick`) and the paper's sweep grids (Tables 2, 3; Figs. 7, 8, 10).

A CONFIG argument is a preset name or a JSON file. Presets depend on the dataset, so they are
resolved for `dataset` (default "reacher"); overrides apply afterwards. Which datasets exist,
their kind and their paper grids come from `nrc.data.registry`; why the quick values are what
they are is in docs/training.md and docs/images.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nrc.data import registry
from nrc.train.config import TrainConfig, apply_overrides, from_dict, load_file

# Table 2 exactly: 3×256 ReLU MLP, SGD lr 1e-2, batch 256, per-dataset epochs and weight decay.
PAPER: dict[str, dict[str, Any]] = {
    "reacher": {"epochs": 1_500_000, "weight_decay": 1.5e-3},
    "swimmer": {"epochs": 1_000_000, "weight_decay": 1e-2},
    "hopper": {"epochs": 200_000, "weight_decay": 1e-2},
}
PAPER_COMMON: dict[str, Any] = {
    "depth": 3,
    "width": 256,
    "activation": "relu",
    "lr": 1e-2,
    "batch_size": 256,
    "eval_every": 100,
    "checkpoint_every": 10_000,
}
PAPER_SEEDS = (0, 1, 2)

# Chosen here on the shipped datasets; docs/training.md ("The quick preset") gives the reasons.
QUICK: dict[str, dict[str, Any]] = {
    "reacher": {"epochs": 12_000, "weight_decay": 5e-4, "lr": 0.3},
    "swimmer": {"epochs": 1_200, "weight_decay": 3e-2, "lr": 0.1},
    "hopper": {"epochs": 300, "weight_decay": 1e-2, "lr": 0.1},
}
QUICK_COMMON: dict[str, Any] = {
    "depth": 3,
    "width": 256,
    "activation": "none",
    "batch_size": 256,
}
QUICK_EVALS = 60

# The paper's weight-decay grids of each dataset (Figs. 7, 8; 0 included).
PAPER_WD_GRIDS: dict[str, tuple[float, ...]] = {
    name: registry.spec(name).wd_grid for name in registry.names()
}
# Fig. 10: λ_W = 0.01 fixed, λ_H varies (UFM-style regularisation, paper §5).
FIG10_LAMBDA_W = 0.01
FIG10_LAMBDA_H = (1e-1, 1e-2, 1e-3, 1e-4, 1e-5)

# Table 3: ResNet-18 (CARLA) / ResNet-34 (UTKFace); where the paper is silent (milestones,
# pretrained weights, target scaling, weight decay) docs/images.md says what was chosen.
PAPER_IMAGE_COMMON: dict[str, Any] = {
    "model": "resnet18",
    "activation": "relu",
    "momentum": 0.9,
    "lr": 1e-3,
    "milestones": (25, 50),
    "lr_gamma": 0.1,
    "batch_size": 512,
    "epochs": 100,
    "weight_decay": 1e-2,
    "target_scaling": "minmax",
    "eval_every": 1,
    "checkpoint_every": 5,
    "eval_batch_size": 512,
}
PAPER_IMAGE: dict[str, dict[str, Any]] = {
    "reacher-fingertip": {},
    "hopper-height": {},
    "reacher-arm": {},
    "carla-2d": {},
    "carla-1d": {},
    "utkface": {"model": "resnet34"},
}
# Chosen here on the rendered sets; docs/images.md ("The quick preset") gives the reasons.
QUICK_IMAGE_COMMON: dict[str, Any] = {
    "model": "resnet18",
    "activation": "relu",
    "train_size": 2_000,
    "test_size": 400,
    "image_size": 32,
    "target_scaling": "minmax",
    "recalibrate_bn": True,
    "momentum": 0.9,
    "lr": 2e-2,
    "batch_size": 128,
    "epochs": 75,
    "weight_decay": 5e-2,
    "eval_every": 5,
    "checkpoint_every": 15,
    "eval_batch_size": 500,
}
QUICK_IMAGE: dict[str, dict[str, Any]] = {
    "reacher-fingertip": {},
    "hopper-height": {"lr": 1e-2, "weight_decay": 1e-1},
    "reacher-arm": {"lr": 4e-2, "weight_decay": 3e-2, "warmup_epochs": 5, "epochs": 60},
    "carla-2d": {},
    "carla-1d": {"lr": 1e-2, "weight_decay": 1e-1},
    "utkface": {"lr": 1e-2, "weight_decay": 1e-1},
}

# Deep Neural Regression Collapse's default MLP and optimiser (Rangamani & Unal, CPAL 2026):
# 8 layers of 512 without biases, SGD lr 0.1 with momentum 0.9, weight decay 5e-4, batch 512,
# 1,000 epochs; collapse is measured at every layer.
DEEP: dict[str, Any] = {
    "depth": 8,
    "width": 512,
    "bias": False,
    "activation": "relu",
    "lr": 0.1,
    "momentum": 0.9,
    "weight_decay": 5e-4,
    "batch_size": 512,
    "epochs": 1000,
    "eval_every": 20,
    "checkpoint_every": 100,
    "layers": "all",
}

PRESETS = ("paper", "quick", "deep")


def preset(name: str, dataset: str = "reacher") -> TrainConfig:
    """The preset `name` ("paper", "quick" or "deep") for `dataset` ("deep": MuJoCo sets)."""
    if name not in PRESETS:
        raise ValueError(f"preset must be one of {PRESETS}, got {name!r}")
    kind = registry.spec(dataset).kind if dataset in registry.names() else None
    if name == "deep" and kind == "mujoco":
        return from_dict({"dataset": dataset, **DEEP})
    if name == "deep":
        raise ValueError(
            f"preset 'deep' is defined for datasets {registry.MUJOCO}, got {dataset!r}"
        )
    if kind == "image":
        if name == "paper":
            return from_dict({"dataset": dataset, **PAPER_IMAGE_COMMON, **PAPER_IMAGE[dataset]})
        return from_dict({"dataset": dataset, **QUICK_IMAGE_COMMON, **QUICK_IMAGE[dataset]})
    if kind != "mujoco":
        raise ValueError(
            f"preset {name!r} is defined for datasets {registry.names()}, got {dataset!r}"
        )
    if name == "paper":
        return from_dict({"dataset": dataset, **PAPER_COMMON, **PAPER[dataset]})
    values = {"dataset": dataset, **QUICK_COMMON, **QUICK[dataset]}
    every = values["epochs"] // QUICK_EVALS
    return from_dict(values | {"eval_every": every, "checkpoint_every": every * 5})


def resolve(spec: str | Path, overrides: Mapping[str, Any] | None = None) -> TrainConfig:
    """A config from a preset name or a JSON file, then the `{key: value}` overrides.

    For a preset the dataset is taken from the overrides first (`{"dataset": "hopper"}` selects
    Hopper's epochs and weight decay), then every override is applied.
    """
    overrides = dict(overrides or {})
    if str(spec) in PRESETS:
        base = preset(str(spec), overrides.get("dataset", "reacher"))
    else:
        path = Path(spec)
        if not path.is_file():
            raise FileNotFoundError(f"CONFIG {spec!r} is neither a preset {PRESETS} nor a file")
        base = load_file(path)
    return apply_overrides(base, overrides)
