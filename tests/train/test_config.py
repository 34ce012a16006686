"""Config validation, overrides and presets (paper Table 2)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from nrc.data import registry
from nrc.train import TrainConfig, apply_overrides, from_dict, preset, resolve
from nrc.train.commands import parse_assignments
from nrc.train.presets import PAPER_WD_GRIDS


@pytest.mark.parametrize(
    ("values", "key"),
    [
        ({"lr": 0.0}, "lr"),
        ({"lr": float("nan")}, "lr"),
        ({"weight_decay": -1e-3}, "weight_decay"),
        ({"epochs": 0}, "epochs"),
        ({"batch_size": 2.5}, "batch_size"),
        ({"activation": "gelu"}, "activation"),
        ({"regularization": "dropout"}, "regularization"),
        ({"convention": "whitened"}, "convention"),
        ({"epochs": 150, "eval_every": 100}, "epochs"),
        ({"eval_every": 10, "checkpoint_every": 15}, "checkpoint_every"),
        ({"regularization": "ufm", "weight_decay": 1e-3}, "weight_decay"),
        ({"lambda_h": 1e-3}, "lambda_h"),
        ({"train_size": 0}, "train_size"),
        ({"seed": -1}, "seed"),
        ({"dataset": ""}, "dataset"),
        ({"no_such_key": 1}, "no_such_key"),
        ({"model": "vgg16"}, "model"),
        ({"small_input": True}, "small_input"),
        ({"pretrained": "w.pth"}, "pretrained"),
        ({"model": "resnet18", "small_input": 1}, "small_input"),
        ({"momentum": 1.0}, "momentum"),
        ({"momentum": -0.1}, "momentum"),
        ({"lr_gamma": 0.0}, "lr_gamma"),
        ({"lr_gamma": 2.0}, "lr_gamma"),
        ({"milestones": [50, 25]}, "milestones"),
        ({"milestones": [0]}, "milestones"),
        ({"epochs": 100, "eval_every": 10, "milestones": [100]}, "milestones"),
        ({"milestones": [1.5]}, "milestones"),
        ({"warmup_epochs": -1}, "warmup_epochs"),
        ({"warmup_epochs": 2.5}, "warmup_epochs"),
        ({"epochs": 100, "eval_every": 10, "warmup_epochs": 101}, "warmup_epochs"),
        ({"target_scaling": "log"}, "target_scaling"),
        ({"image_size": 4}, "image_size"),
        ({"image_normalization": "cifar"}, "image_normalization"),
        ({"dtype": "float16"}, "dtype"),
        ({"layers": "first"}, "layers"),
        ({"layers": []}, "layers"),
        ({"layers": ["fc", "fc"]}, "layers"),
        ({"layers": [""]}, "layers"),
        ({"snapshots": "linear"}, "snapshots"),
    ],
)
def test_bad_values_fail_naming_the_key(values: dict, key: str) -> None:
    with pytest.raises(ValueError, match=key):
        from_dict(values)


def test_overrides_parse_json_and_strings() -> None:
    values = parse_assignments(["lr=1", "activation=leaky_relu", "train_size=null", "seed=3"])
    assert values == {"lr": 1, "activation": "leaky_relu", "train_size": None, "seed": 3}
    config = apply_overrides(TrainConfig(), values)
    assert config.lr == 1.0 and isinstance(config.lr, float)
    assert config.activation == "leaky_relu"
    assert config.train_size is None and config.seed == 3
    assert parse_assignments(["pretrained=None", 'dataset="x"']) == {
        "pretrained": None,
        "dataset": "x",
    }
    with pytest.raises(ValueError, match="key=value"):
        parse_assignments(["lr"])
    with pytest.raises(TypeError, match="mapping"):
        apply_overrides(TrainConfig(), ["lr=1"])  # type: ignore[arg-type]


def test_paper_preset_is_table2() -> None:
    expected = {
        "reacher": (1_500_000, 1.5e-3),
        "swimmer": (1_000_000, 1e-2),
        "hopper": (200_000, 1e-2),
    }
    for dataset, (epochs, wd) in expected.items():
        c = preset("paper", dataset)
        assert (c.depth, c.width, c.activation, c.lr, c.batch_size) == (3, 256, "relu", 1e-2, 256)
        assert (c.epochs, c.weight_decay, c.regularization) == (epochs, wd, "weight_decay")


def test_preset_follows_the_dataset_override_and_then_applies_overrides() -> None:
    c = resolve("paper", {"dataset": "hopper", "seed": 2})
    assert (c.dataset, c.epochs, c.weight_decay, c.seed) == ("hopper", 200_000, 1e-2, 2)
    q = resolve("quick", {"dataset": "swimmer"})
    assert q.activation == "none" and q.weight_decay > 0


def test_config_file(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"dataset": "swimmer", "lr": 0.05}))
    c = resolve(path, {"epochs": 200})
    assert (c.dataset, c.lr, c.epochs) == ("swimmer", 0.05, 200)
    path.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        resolve(path)
    with pytest.raises(FileNotFoundError, match="neither a preset"):
        resolve(tmp_path / "missing.json")


def test_paper_wd_grids_contain_zero_and_table2_value() -> None:
    for dataset, grid in PAPER_WD_GRIDS.items():
        assert 0.0 in grid
        assert preset("paper", dataset).weight_decay in grid


def test_milestones_round_trip_through_json_and_overrides(tmp_path: Path) -> None:
    """A list in JSON (config.json, --set) becomes the tuple that the frozen config holds."""
    values = parse_assignments(["model=resnet18", "milestones=[100, 200]", "momentum=0.9"])
    config = apply_overrides(preset("quick", "reacher"), values)
    assert config.milestones == (100, 200) and config.momentum == 0.9
    path = tmp_path / "c.json"
    path.write_text(json.dumps(dataclasses.asdict(config)))
    assert resolve(path) == config


def test_image_presets_are_table3_and_cover_every_image_dataset() -> None:
    carla = preset("paper", "carla-2d")
    assert (carla.model, carla.activation, carla.momentum) == ("resnet18", "relu", 0.9)
    assert carla.lr == 1e-3 and carla.milestones == (25, 50)
    assert (carla.batch_size, carla.epochs, carla.lr_gamma) == (512, 100, 0.1)
    assert preset("paper", "utkface").model == "resnet34"
    for name in registry.IMAGE:
        quick = preset("quick", name)
        assert quick.model == "resnet18" and quick.epochs % quick.eval_every == 0
        assert 0.0 in PAPER_WD_GRIDS[name]
    with pytest.raises(ValueError, match="defined for datasets"):
        preset("quick", "imagenet")


def test_layer_lists_round_trip_as_tuples() -> None:
    config = from_dict({"layers": ["body.0", "body.2"], "dtype": "float64"})
    assert config.layers == ("body.0", "body.2") and config.dtype == "float64"
    assert from_dict(dataclasses.asdict(config)) == config
