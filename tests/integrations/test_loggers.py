"""MetricsLogger on nrc's own loop: TensorBoard events read back with TensorBoard's own reader,
MLflow's file store read back with its client, W&B offline files; the same values as the
monitor's rows, step = epoch."""

from __future__ import annotations

import pickle

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from nrc.integrations.loggers import MetricsLogger, wandb_mode
from nrc.models.mlp import MLP
from nrc.train import TrainConfig
from nrc.train.callbacks import CollapseMonitor
from nrc.train.loop import Loop
from nrc.train.setup import Tensors
from tests.integrations.conftest import regression_data

CONFIG = TrainConfig(
    dataset="synthetic", depth=2, width=16, activation="none", weight_decay=1e-2, lr=0.1,
    batch_size=32, epochs=20, eval_every=10, checkpoint_every=20,
)  # fmt: skip


def train(kind: str, log_dir) -> CollapseMonitor:
    x, y = regression_data(m=96)
    data = Tensors(x[:64], y[:64], x[64:], y[64:])
    monitor = CollapseMonitor(CONFIG)
    logger = MetricsLogger(kind, log_dir, monitor)
    pickle.dumps(logger)  # configurable in a parent process, opened in the worker
    model = MLP(6, 2, depth=2, width=16, activation="none")
    Loop(CONFIG, model, data, [monitor, logger]).run()
    return monitor


def test_tensorboard_events_hold_the_monitor_rows(tmp_path) -> None:
    monitor = train("tensorboard", tmp_path)
    (events,) = tmp_path.glob("events.out.tfevents.*")
    acc = EventAccumulator(str(events)).Reload()
    for key in ("nrc1", "nrc2", "nrc3", "train_mse", "test_mse", "gamma_ratio", "nrc3_paper"):
        scalars = acc.Scalars(f"nrc/{key}")
        assert [s.step for s in scalars] == [r["epoch"] for r in monitor.rows] == [0, 10, 20]
        assert [s.value for s in scalars] == pytest.approx([r[key] for r in monitor.rows])
    assert "nrc/epoch" not in acc.Tags()["scalars"] and "nrc/step" not in acc.Tags()["scalars"]


def test_mlflow_file_store_holds_the_monitor_rows(tmp_path) -> None:
    from mlflow.tracking import MlflowClient

    monitor = train("mlflow", tmp_path)
    client = MlflowClient(tracking_uri=(tmp_path / "mlruns").as_uri())
    history = client.get_metric_history(logger_run_id(client), "nrc/nrc2")
    assert [(m.step, m.value) for m in history] == [(r["epoch"], r["nrc2"]) for r in monitor.rows]


def logger_run_id(client) -> str:
    (run,) = client.search_runs([client.get_experiment_by_name("nrc").experiment_id])
    assert run.info.status == "FINISHED"
    return run.info.run_id


def test_wandb_writes_an_offline_run(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    train("wandb", tmp_path)
    (run_file,) = tmp_path.glob("wandb/offline-run-*/run-*.wandb")
    assert run_file.stat().st_size > 0


def test_wandb_is_offline_unless_logged_in(tmp_path) -> None:
    netrc = tmp_path / "netrc"
    assert wandb_mode({}, netrc) == "offline"
    assert wandb_mode({"WANDB_API_KEY": "x"}, netrc) == "online"
    assert wandb_mode({"WANDB_MODE": "disabled", "WANDB_API_KEY": "x"}, netrc) == "disabled"
    netrc.write_text("machine api.wandb.ai login user password key\n")
    netrc.chmod(0o600)
    assert wandb_mode({}, netrc) == "online"


def test_unknown_kind_is_named(tmp_path) -> None:
    with pytest.raises(ValueError, match=r"kind: 'csv' is not one of \('tensorboard'"):
        MetricsLogger("csv", tmp_path, CollapseMonitor(CONFIG))
