"""Training configuration: one flat, validated dataclass and overrides given as dicts.

Everything a run needs is in `TrainConfig`, so the resolved config (config.json in the run
directory) is enough to redo it. `validate` raises before any training, naming the key.
Overrides are plain `{key: value}` mappings; `key=value` text is parsed by the command line
only (`nrc.train.commands.parse_assignments`).
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from nrc.data.registry import EXPERT_ACTIONS
from nrc.metrics.convention import FEATURE_CONVENTIONS
from nrc.models.mlp import ACTIVATIONS

REGULARIZATIONS = ("weight_decay", "ufm")
MODELS = ("mlp", "resnet18", "resnet34")
TARGET_SCALINGS = ("none", "standardize", "minmax")
IMAGE_NORMALIZATIONS = ("unit", "imagenet")
DTYPES = ("float32", "float64")
SNAPSHOTS = ("none", "log")
TUPLE_FIELDS = ("milestones", "layers")


@dataclass(frozen=True)
class TrainConfig:
    """A training run (the defaults are the paper's Table 2 on Reacher).

    Model: `mlp` (Table 2, vector inputs) or `resnet18`/`resnet34` (Table 3, image inputs; the
    ImageNet stem unless `small_input`, weights from a torchvision file `pretrained`).
    `activation` is the one on the features h (for a ResNet: after the last residual block).
    Optimiser: SGD with `momentum`; the learning rate is multiplied by `lr_gamma` at each epoch
    of `milestones` (MultiStepLR, Table 3), after rising linearly over the first `warmup_epochs`
    epochs (lr·(e+1)/warmup_epochs in epoch e; docs/images.md, "The quick preset").
    Data: `target_scaling` is fitted on the training targets and applied to both splits (the
    paper min–max scales CARLA's, App. A.2);
    `image_size` resizes images (antialiased), `image_normalization` "imagenet" standardises
    pixels with ImageNet's channel statistics (for pretrained backbones), "unit" keeps [0, 1].
    `expert_actions` picks the targets of a shipped MuJoCo set, "deterministic" or "sampled"
    expert actions (None: the registry's `DatasetSpec.actions`; docs/datasets.md "Sampled
    actions"); other datasets have no variants and take only None.
    `recalibrate_bn` recomputes BatchNorm's running statistics over the training set before each
    evaluation ("precise BN"), so that eval-mode features belong to the current weights.
    `dtype` is the floating type of the model and the data ("float32", or "float64" for exact
    comparisons). `layers` says where collapse is measured: "last" (the head's input, paper
    §3.1), "all" (every hidden layer, docs/training.md "Every layer") or a list of module names.
    `snapshots` "log" keeps the model at log-spaced epochs for measuring afterwards (`nrc
    analyze`). `bias` false builds the MLP without biases (Deep NRC's default). `target_rank`
    r makes the targets effectively rank r (docs/training.md, "Low-rank targets"). `geometry`
    measures the intrinsic dimension (TwoNN) of the final features and of the targets.

    Regularisation (paper §1, §5.3): `weight_decay` adds (wd/2)·‖p‖² over all parameters, biases
    included, as the authors' code; `ufm` adds (lambda_h/2)·‖H_batch‖²_F/B + (lambda_w/2)·‖W‖²_F
    and no weight decay. The data term is (1/2)·MSE averaged over samples and target dimensions.
    """

    dataset: str = "reacher"
    train_size: int | None = None
    test_size: int | None = None
    target_scaling: str = "none"
    expert_actions: str | None = None
    image_size: int | None = None
    image_normalization: str = "unit"
    model: str = "mlp"
    small_input: bool = False
    pretrained: str | None = None
    depth: int = 3
    width: int = 256
    activation: str = "relu"
    regularization: str = "weight_decay"
    weight_decay: float = 1.5e-3
    lambda_h: float = 0.0
    lambda_w: float = 0.0
    lr: float = 1e-2
    momentum: float = 0.0
    milestones: tuple[int, ...] = ()
    lr_gamma: float = 0.1
    warmup_epochs: int = 0
    batch_size: int = 256
    epochs: int = 1_500_000
    seed: int = 0
    eval_every: int = 100
    checkpoint_every: int = 1000
    eval_batch_size: int = 4096
    convention: str = "normalized"
    recalibrate_bn: bool = False
    dtype: str = "float32"
    layers: str | tuple[str, ...] = "last"
    snapshots: str = "none"
    bias: bool = True
    target_rank: int | None = None
    geometry: bool = False


def _check_int(name: str, value: Any, low: int) -> None:
    """Raise unless `value` is an int >= low."""
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"config key {name!r} must be an integer >= {low}, got {value!r}")


def _check_float(name: str, value: Any, *, positive: bool) -> None:
    """Raise unless `value` is a finite real >= 0 (> 0 when `positive`)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"config key {name!r} must be a finite number, got {value!r}")
    if value < 0 or (positive and value == 0):
        raise ValueError(
            f"config key {name!r} must be {'> 0' if positive else '>= 0'}, got {value!r}"
        )


def _check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    """Raise unless `value` is one of `choices`."""
    if value not in choices:
        raise ValueError(f"config key {name!r} must be one of {choices}, got {value!r}")


def _check_milestones(milestones: Any, epochs: int) -> None:
    """Raise unless `milestones` is a strictly increasing tuple of epochs in [1, epochs)."""
    if not isinstance(milestones, tuple) or not all(
        isinstance(m, int) and not isinstance(m, bool) for m in milestones
    ):
        raise ValueError(f"config key 'milestones' must be a list of epochs, got {milestones!r}")
    if any(not 1 <= m < epochs for m in milestones) or list(milestones) != sorted(set(milestones)):
        raise ValueError(
            f"config key 'milestones' must be strictly increasing epochs in [1, {epochs}), "
            f"got {list(milestones)}"
        )


def _check_layers(layers: Any) -> None:
    """Raise unless `layers` is "last", "all" or a non-empty tuple of distinct module names."""
    if layers in ("last", "all"):
        return
    if (
        not isinstance(layers, tuple)
        or not layers
        or not all(isinstance(name, str) and name for name in layers)
        or len(set(layers)) != len(layers)
    ):
        raise ValueError(
            f"config key 'layers' must be 'last', 'all' or a list of distinct module names, "
            f"got {layers!r}"
        )


def validate(config: TrainConfig) -> TrainConfig:
    """Check every key of `config`; raise ValueError naming the first bad key. Returns `config`."""
    if not isinstance(config.dataset, str) or not config.dataset:
        raise ValueError(f"config key 'dataset' must be a non-empty name, got {config.dataset!r}")
    for name in ("train_size", "test_size"):
        if getattr(config, name) is not None:
            _check_int(name, getattr(config, name), 1)
    for name in ("depth", "width", "batch_size", "epochs", "eval_every", "eval_batch_size"):
        _check_int(name, getattr(config, name), 1)
    _check_int("seed", config.seed, 0)
    _check_int("checkpoint_every", config.checkpoint_every, 1)
    if config.epochs % config.eval_every:
        raise ValueError(
            f"config key 'epochs' ({config.epochs}) must be a multiple of 'eval_every' "
            f"({config.eval_every}) so that the last epoch is evaluated"
        )
    if config.checkpoint_every % config.eval_every:
        raise ValueError(
            f"config key 'checkpoint_every' ({config.checkpoint_every}) must be a multiple of "
            f"'eval_every' ({config.eval_every}) so that a resumed run repeats no evaluation"
        )
    _check_choice("activation", config.activation, ACTIVATIONS)
    _check_choice("model", config.model, MODELS)
    _check_choice("target_scaling", config.target_scaling, TARGET_SCALINGS)
    if config.expert_actions is not None and config.expert_actions not in EXPERT_ACTIONS:
        raise ValueError(
            f"config key 'expert_actions' must be one of {EXPERT_ACTIONS} or null (the "
            f"dataset's default), got {config.expert_actions!r}"
        )
    _check_choice("image_normalization", config.image_normalization, IMAGE_NORMALIZATIONS)
    if config.image_size is not None:
        _check_int("image_size", config.image_size, 8)
    if not isinstance(config.recalibrate_bn, bool):
        raise ValueError(
            f"config key 'recalibrate_bn' must be true or false, got {config.recalibrate_bn!r}"
        )
    if not isinstance(config.small_input, bool):
        raise ValueError(
            f"config key 'small_input' must be true or false, got {config.small_input!r}"
        )
    if config.pretrained is not None and (
        not isinstance(config.pretrained, str) or not config.pretrained
    ):
        raise ValueError(f"config key 'pretrained' must be a file path, got {config.pretrained!r}")
    if config.model == "mlp" and (config.small_input or config.pretrained is not None):
        raise ValueError(
            "config keys 'small_input'/'pretrained' apply to a ResNet; 'model' is 'mlp'"
        )
    _check_milestones(config.milestones, config.epochs)
    _check_int("warmup_epochs", config.warmup_epochs, 0)
    if config.warmup_epochs > config.epochs:
        raise ValueError(
            f"config key 'warmup_epochs' must be at most 'epochs' ({config.epochs}), "
            f"got {config.warmup_epochs}"
        )
    _check_choice("dtype", config.dtype, DTYPES)
    _check_choice("snapshots", config.snapshots, SNAPSHOTS)
    _check_layers(config.layers)
    for name in ("bias", "geometry"):
        if not isinstance(getattr(config, name), bool):
            raise ValueError(
                f"config key {name!r} must be true or false, got {getattr(config, name)!r}"
            )
    if config.target_rank is not None:
        _check_int("target_rank", config.target_rank, 1)
    if config.model != "mlp" and not config.bias:
        raise ValueError("config key 'bias' false applies to the MLP; 'model' is a ResNet")
    _check_choice("regularization", config.regularization, REGULARIZATIONS)
    _check_choice("convention", config.convention, FEATURE_CONVENTIONS)
    _check_float("lr", config.lr, positive=True)
    _check_float("momentum", config.momentum, positive=False)
    _check_float("lr_gamma", config.lr_gamma, positive=True)
    if config.momentum >= 1 or config.lr_gamma > 1:
        raise ValueError(
            f"config keys 'momentum' must be < 1 and 'lr_gamma' <= 1, got "
            f"{config.momentum!r} and {config.lr_gamma!r}"
        )
    for name in ("weight_decay", "lambda_h", "lambda_w"):
        _check_float(name, getattr(config, name), positive=False)
    if config.regularization == "ufm" and config.weight_decay:
        raise ValueError(
            "config key 'weight_decay' must be 0 when 'regularization' is 'ufm' (§5.3)"
        )
    if config.regularization == "weight_decay" and (config.lambda_h or config.lambda_w):
        raise ValueError(
            "config keys 'lambda_h'/'lambda_w' must be 0 unless 'regularization' is 'ufm'"
        )
    return config


def from_dict(values: dict[str, Any], base: TrainConfig | None = None) -> TrainConfig:
    """`base` (default `TrainConfig()`) with `values` replaced, validated; unknown keys raise."""
    known = {f.name for f in fields(TrainConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown config key(s) {unknown}; known keys: {sorted(known)}")
    values = {
        k: float(v) if isinstance(v, int) and _is_float_field(k) else v for k, v in values.items()
    }
    for name in TUPLE_FIELDS:
        if isinstance(values.get(name), list):
            values[name] = tuple(values[name])
    return validate(dataclasses.replace(base or TrainConfig(), **values))


def _is_float_field(name: str) -> bool:
    """Whether the TrainConfig field `name` holds a float (so that `--set lr=1` means 1.0)."""
    return {f.name: f.type for f in fields(TrainConfig)}[name] == "float"


def apply_overrides(config: TrainConfig, overrides: Mapping[str, Any]) -> TrainConfig:
    """`config` with the `{key: value}` overrides applied, validated."""
    if not isinstance(overrides, Mapping):
        raise TypeError(f"overrides must be a mapping of config keys, got {type(overrides)}")
    return from_dict(dict(overrides), config)


def to_dict(config: TrainConfig) -> dict[str, Any]:
    """The config as a JSON-ready dict (config.json of a run)."""
    return dataclasses.asdict(config)


def to_row(config: TrainConfig) -> dict[str, Any]:
    """The config as scalar table columns (a list-valued key such as 'milestones' as JSON text)."""
    values = to_dict(config)
    return {k: json.dumps(list(v)) if isinstance(v, tuple) else v for k, v in values.items()}


def load_file(path: Path) -> TrainConfig:
    """A config from a JSON file of keys (missing keys take the TrainConfig defaults)."""
    try:
        values = json.loads(Path(path).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"config file {path} is not valid JSON text: {err}") from err
    if not isinstance(values, dict):
        raise ValueError(f"config file {path} must hold a JSON object of keys")
    return from_dict(values)
