"""Experiment trackers for nrc's own training loop (owns ``MetricsLogger`` and its sinks).

``MetricsLogger`` is a :class:`nrc.train.loop.Callback` placed after the run's
``CollapseMonitor``: at each evaluation it writes the monitor's new row to TensorBoard, W&B or
MLflow as ``nrc/<metric>`` with the epoch as the step, and at the end the paper's NRC3 protocol
(``nrc/nrc3_paper``, ``nrc/gamma_paper``, App. A.3) for every evaluated epoch. The tracker is
opened in ``on_start``, so the callback pickles before training starts; a resumed run does not
write again the rows it restored.
"""

from __future__ import annotations

import netrc
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from nrc.integrations.common import metric_items
from nrc.train.callbacks import CollapseMonitor
from nrc.train.config import to_dict
from nrc.train.loop import Callback, Loop

KINDS = ("tensorboard", "wandb", "mlflow")
# Entries the monitor adds to every row at the end of a run (paper App. A.3).
PAPER_PROTOCOL = ("nrc3_paper", "gamma_paper")


class Sink(Protocol):
    """Where scalars go: one tracker run."""

    def log(self, values: Mapping[str, float], step: int) -> None:
        """Record ``values`` at ``step``."""

    def close(self) -> None:
        """Flush and end the tracker run."""


class TensorBoardSink:
    """Event files under ``log_dir`` (``SummaryWriter.add_scalar``)."""

    def __init__(self, log_dir: Path) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(str(log_dir))

    def log(self, values: Mapping[str, float], step: int) -> None:
        for key, value in values.items():
            self.writer.add_scalar(key, value, global_step=step)

    def close(self) -> None:
        self.writer.close()


def wandb_mode(env: Mapping[str, str], netrc_file: Path) -> str:
    """``WANDB_MODE`` if set; else ``"online"`` when logged in (``WANDB_API_KEY``, or a key that
    ``wandb login`` stored in ``netrc_file`` for ``WANDB_BASE_URL``'s host), else
    ``"offline"``."""
    if env.get("WANDB_MODE"):
        return env["WANDB_MODE"]
    if env.get("WANDB_API_KEY"):
        return "online"
    host = env.get("WANDB_BASE_URL", "https://api.wandb.ai").split("://")[-1].split("/")[0]
    try:
        return "online" if netrc.netrc(netrc_file).authenticators(host) else "offline"
    except (OSError, netrc.NetrcParseError):
        return "offline"


class WandbSink:
    """A W&B run in ``log_dir`` (offline unless logged in, :func:`wandb_mode`); ``epoch`` is
    the step metric of every ``nrc/`` series."""

    def __init__(self, log_dir: Path, name: str, config: Mapping[str, Any]) -> None:
        import wandb

        mode = wandb_mode(os.environ, Path.home() / ".netrc")
        self.run = wandb.init(
            dir=str(log_dir), project="nrc", name=name, config=dict(config), mode=mode
        )
        self.run.define_metric("epoch")
        self.run.define_metric("nrc/*", step_metric="epoch")

    def log(self, values: Mapping[str, float], step: int) -> None:
        self.run.log({**values, "epoch": step})

    def close(self) -> None:
        self.run.finish()


class MlflowSink:
    """An MLflow run in the local file store ``log_dir/mlruns``, experiment ``nrc``.

    MLflow ≥ 3.17 keeps the file store only behind ``MLFLOW_ALLOW_FILE_STORE=true``; it is set
    for this process unless the environment already says otherwise (no database server needed).
    """

    def __init__(self, log_dir: Path, name: str, config: Mapping[str, Any]) -> None:
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        from mlflow.entities import Param
        from mlflow.tracking import MlflowClient

        self.client = MlflowClient(tracking_uri=(log_dir / "mlruns").resolve().as_uri())
        experiment = self.client.get_experiment_by_name("nrc")
        experiment_id = (
            self.client.create_experiment("nrc") if experiment is None else experiment.experiment_id
        )
        self.run_id = self.client.create_run(experiment_id, run_name=name).info.run_id
        params = [Param(k, str(v)) for k, v in config.items()]
        self.client.log_batch(self.run_id, params=params)

    def log(self, values: Mapping[str, float], step: int) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [Metric(k, v, now, step) for k, v in values.items()]
        self.client.log_batch(self.run_id, metrics=metrics)

    def close(self) -> None:
        self.client.set_terminated(self.run_id)


def open_sink(kind: str, log_dir: Path, name: str, config: Mapping[str, Any]) -> Sink:
    """The tracker ``kind`` (one of :data:`KINDS`) writing under ``log_dir``."""
    log_dir.mkdir(parents=True, exist_ok=True)
    if kind == "tensorboard":
        return TensorBoardSink(log_dir)
    if kind == "wandb":
        return WandbSink(log_dir, name, config)
    if kind == "mlflow":
        return MlflowSink(log_dir, name, config)
    raise ValueError(f"kind: {kind!r} is not one of {KINDS}")


class MetricsLogger(Callback):
    """Send ``monitor``'s rows to the tracker ``kind`` ("tensorboard", "wandb" or "mlflow")
    under ``log_dir``: ``nrc/<metric>`` for each numeric field, step = epoch. ``name`` names the
    tracker run (default: ``log_dir``'s name); the run's config is recorded by W&B and MLflow.
    Register it after ``monitor`` in the loop's callbacks."""

    def __init__(
        self, kind: str, log_dir: Path | str, monitor: CollapseMonitor, name: str | None = None
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"kind: {kind!r} is not one of {KINDS}")
        self.kind, self.log_dir, self.monitor = kind, Path(log_dir), monitor
        self.name = name or self.log_dir.resolve().name
        self.written = 0
        self.sink: Sink | None = None

    def __getstate__(self) -> dict[str, Any]:
        """Pickle the configuration; an open tracker stays with its process."""
        return self.__dict__ | {"sink": None}

    def on_start(self, loop: Loop) -> None:
        self.sink = open_sink(self.kind, self.log_dir, self.name, to_dict(loop.config))
        self.written = len(self.monitor.rows)

    def on_evaluate(self, loop: Loop) -> None:
        assert self.sink is not None, "MetricsLogger: on_start was not called"
        for row in self.monitor.rows[self.written :]:
            self.sink.log(metric_items(row), step=row["epoch"])
        self.written = len(self.monitor.rows)

    def on_end(self, loop: Loop) -> None:
        assert self.sink is not None, "MetricsLogger: on_start was not called"
        for row in self.monitor.rows:
            paper = metric_items({k: row.get(k) for k in PAPER_PROTOCOL})
            if paper:
                self.sink.log(paper, step=row["epoch"])
        self.sink.close()
        self.sink = None
