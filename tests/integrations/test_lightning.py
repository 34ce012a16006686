"""Lightning CollapseMonitor: the logged metrics equal nrc.metrics.compute on the final features,
reach CSVLogger and TensorBoardLogger, are checkpointed, and under strategy="ddp" with two CPU
processes are those of the whole training set."""

from __future__ import annotations

import csv
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import nrc.data
from nrc.integrations.lightning import CollapseMonitor
from nrc.metrics import compute

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "lightning_reacher.py"
KEYS = ("nrc/nrc1", "nrc/nrc2", "nrc/nrc3", "nrc/gamma", "nrc/r2")


def example_module():
    """examples/lightning_reacher.py as a module (its LightningModule)."""
    spec = importlib.util.spec_from_file_location("lightning_reacher", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def final_report(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> dict:
    """compute() on the final model's features of the whole training set."""
    model.eval()
    with torch.no_grad():
        h = model.features(x)
        p = model.head(h)
    return compute(h, model.head.weight, y, model.head.bias, predictions=p).to_dict()


def metrics_csv(root: Path) -> list[dict[str, str]]:
    (path,) = root.rglob("metrics.csv")
    with path.open() as f:
        return [row for row in csv.DictReader(f) if row.get("nrc/nrc1")]


def test_logged_metrics_equal_compute_and_reach_csv_and_tensorboard(tmp_path) -> None:
    pl.seed_everything(0, verbose=False)
    data = nrc.data.load("reacher", train_size=200, test_size=40)
    loader = DataLoader(TensorDataset(data.x_train, data.y_train), batch_size=50, shuffle=True)
    module = example_module().Regressor(11, 2, width=32)
    monitor = CollapseMonitor(every_n_epochs=3)  # no head given: finds model.head
    csv_logger, tb_logger = CSVLogger(tmp_path / "csv"), TensorBoardLogger(tmp_path / "tb")
    trainer = pl.Trainer(
        max_epochs=6, accelerator="cpu", callbacks=[monitor], logger=[csv_logger, tb_logger],
        enable_progress_bar=False, enable_model_summary=False, enable_checkpointing=False,
    )  # fmt: skip
    trainer.fit(module, loader)
    assert [h["epoch"] for h in monitor.history] == [3, 6]
    want = final_report(module.model, data.x_train, data.y_train)
    last = monitor.history[-1]
    for key in KEYS:
        assert last[key] == pytest.approx(want[key.removeprefix("nrc/")], rel=1e-9), key
    rows = metrics_csv(tmp_path / "csv")
    assert [float(r["nrc/nrc1"]) for r in rows] == [h["nrc/nrc1"] for h in monitor.history]
    (events,) = (tmp_path / "tb").rglob("events.out.tfevents.*")
    scalars = EventAccumulator(str(events)).Reload().Scalars("nrc/nrc2")
    assert [s.value for s in scalars] == pytest.approx([h["nrc/nrc2"] for h in monitor.history])

    trainer.save_checkpoint(tmp_path / "last.ckpt")
    state = torch.load(tmp_path / "last.ckpt", weights_only=False)["callbacks"][monitor.state_key]
    restored = CollapseMonitor(every_n_epochs=3)
    restored.load_state_dict(state)
    assert restored.history == monitor.history


def test_every_layer_is_logged_as_its_layer_report(tmp_path) -> None:
    """layers="all": nrc/<layer>/<metric> for each hidden layer of the MLP inside the module,
    equal to nrc.metrics.layer_report of that layer's outputs on the training set."""
    from nrc.metrics import layer_report

    pl.seed_everything(0, verbose=False)
    data = nrc.data.load("reacher", train_size=200, test_size=40)
    loader = DataLoader(TensorDataset(data.x_train, data.y_train), batch_size=50)
    module = example_module().Regressor(11, 2, width=32)
    monitor = CollapseMonitor(every_n_epochs=2, layers="all")
    trainer = pl.Trainer(
        max_epochs=2, accelerator="cpu", callbacks=[monitor], logger=False,
        enable_progress_bar=False, enable_model_summary=False, enable_checkpointing=False,
    )  # fmt: skip
    trainer.fit(module, loader)
    last = monitor.history[-1]
    mlp = module.model
    mlp.eval()
    with torch.no_grad():
        outputs = [mlp.body[: 2 * k + 2](data.x_train) for k in range(3)]
    nexts = [mlp.body[2].weight, mlp.body[4].weight, mlp.head.weight]
    for k, (h, w) in enumerate(zip(outputs, nexts, strict=True)):
        direct = layer_report(h, data.y_train, w)
        key = f"nrc/model.body.{2 * k + 1}/"
        assert last[key + "noise_fraction"] == pytest.approx(direct.noise_fraction, rel=1e-9)
        assert last[key + "cka"] == pytest.approx(direct.cka, rel=1e-9)
    assert "nrc/nrc1" in last


def test_ddp_on_two_cpu_processes_logs_the_whole_training_set(tmp_path) -> None:
    env = os.environ | {"OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": "lo"}
    args = ["--epochs", "5", "--train-size", "200", "--width", "32", "--devices", "2"]
    subprocess.run(
        [sys.executable, str(EXAMPLE), *args, "--out", str(tmp_path)],
        check=True, env=env, cwd=tmp_path, capture_output=True, timeout=120,
    )  # fmt: skip
    data = nrc.data.load("reacher", train_size=200, test_size=40)
    module = example_module().Regressor(11, 2, width=32)
    module.model.load_state_dict(torch.load(tmp_path / "model.pt"))
    want = final_report(module.model, data.x_train, data.y_train)
    (last,) = metrics_csv(tmp_path)
    for key in KEYS:
        assert float(last[key]) == pytest.approx(want[key.removeprefix("nrc/")], rel=1e-9), key


def test_bad_heads_and_settings_are_named() -> None:
    with pytest.raises(ValueError, match="layers: 'last', 'all' or a list of module names"):
        CollapseMonitor(layers="first")
    with pytest.raises(ValueError, match="split: 'test' is not one of"):
        CollapseMonitor(split="test")  # type: ignore[arg-type]
