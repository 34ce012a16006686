"""The collapse monitor at every layer: one row per evaluation and layer, equal to the layer
report of the features computed directly; the layer before the head agrees with the head's
report; resume keeps the layer table (docs/training.md, "Every layer")."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import torch

from nrc.metrics import Convention, layer_report
from nrc.train import RunStore, TrainConfig, build_model, load_run, run
from nrc.train import store as store_module
from nrc.train.callbacks import measure
from nrc.train.setup import check_tensors
from tests.train.conftest import crash_at_checkpoint

LAYER_FIELDS = ("noise_fraction", "cka", "alignment", "probe_mse", "stable_rank_h", "nrc1")


def test_every_mlp_layer_is_measured_as_its_direct_layer_report(
    tiny: TrainConfig, data: SimpleNamespace
) -> None:
    config = dataclasses.replace(tiny, depth=3, layers="all")
    model = build_model(config, (5,), 2)
    tensors = check_tensors(data)
    measured = measure(model, tensors, config)
    assert [r["layer"] for r in measured.layers] == ["body.1", "body.3", "body.5"]
    with torch.no_grad():
        outputs = [model.body[: 2 * k + 2](tensors.x_train) for k in range(3)]
        predictions = model(tensors.x_train)
    nexts = [model.body[2].weight, model.body[4].weight, model.head.weight]
    for row, h, w in zip(measured.layers, outputs, nexts, strict=True):
        direct = layer_report(h, tensors.y_train, w, predictions=predictions,
                              convention=Convention(features=config.convention))  # fmt: skip
        for field in LAYER_FIELDS:
            assert row[field] == pytest.approx(getattr(direct, field), rel=1e-9, abs=1e-12)
    assert measured.layers[-1]["nrc1"] == pytest.approx(measured.row["nrc1"], rel=1e-12)
    last = dataclasses.replace(config, layers="last")
    assert measure(model, tensors, last).layers == []
    assert measure(model, tensors, last).row == measured.row


def test_named_layers_and_a_resnet_stage_per_layer() -> None:
    config = TrainConfig(dataset="x", model="resnet18", activation="relu", layers="all")
    model = build_model(config, (3, 16, 16), 2)
    g = torch.Generator().manual_seed(0)
    images = SimpleNamespace(
        x_train=torch.rand(12, 3, 16, 16, generator=g), y_train=torch.randn(12, 2, generator=g),
        x_test=torch.rand(4, 3, 16, 16, generator=g), y_test=torch.randn(4, 2, generator=g),
    )  # fmt: skip
    measured = measure(model, check_tensors(images), config)
    assert [r["layer"] for r in measured.layers] == ["layer1", "layer2", "layer3", "layer4"]
    assert [r["d"] for r in measured.layers] == [64, 128, 256, 512]
    assert measured.layers[-1]["nrc1"] == pytest.approx(measured.row["nrc1"], rel=1e-12)
    assert measured.layers[0]["alignment"] is None and measured.layers[-1]["alignment"] is not None
    named = dataclasses.replace(config, layers=("layer2",))
    assert [r["layer"] for r in measure(model, check_tensors(images), named).layers] == ["layer2"]


def test_a_run_writes_and_resumes_its_layer_table(
    tiny: TrainConfig, data: SimpleNamespace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = dataclasses.replace(tiny, layers="all", epochs=60, eval_every=10, checkpoint_every=20)
    reference = run(config, tmp_path / "ref", data=data)
    layers = pd.read_parquet(reference / store_module.LAYERS)
    assert len(layers) == 7 * 2 and set(layers.layer) == {"body.1", "body.3"}
    assert sorted(set(layers.epoch)) == list(load_run(reference)[1].epoch)
    undo = crash_at_checkpoint(monkeypatch, 3)
    with pytest.raises(KeyboardInterrupt):
        run(config, tmp_path / "crashed", data=data)
    undo()
    resumed = run(config, tmp_path / "crashed", data=data)
    pd.testing.assert_frame_equal(pd.read_parquet(resumed / store_module.LAYERS), layers)
    assert RunStore(resumed).is_complete()
    (resumed / store_module.LAYERS).unlink()
    with pytest.raises(ValueError, match="layers.parquet does not cover"):
        RunStore(resumed).is_complete()
