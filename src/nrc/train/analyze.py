"""Measuring collapse after training (Deep NRC's protocol): every kept model of a run, or a
user's own checkpoints, measured at every layer; `nrc analyze RUN`.

A run trained with `snapshots="log"` keeps its model at log-spaced epochs; without snapshots
its final checkpoint is measured. The rows are those of the monitor's `layers.parquet`
(epoch, layer and the LayerReport of `nrc.metrics.layers`), written to `RUN/analysis.parquet`.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from nrc.models.mlp import RegressionModel
from nrc.train.callbacks import measure
from nrc.train.config import TrainConfig
from nrc.train.runner import ModelFactory
from nrc.train.setup import build_model, check_tensors, training_data
from nrc.train.store import ANALYSIS, RunStore, write_table


def _load_state(path: Path) -> dict[str, Any]:
    """A model state dict from a snapshot ({"model": ...}) or a plain state-dict file."""
    try:
        state = torch.load(path, weights_only=True)
    except Exception as err:  # torch raises several types for a damaged or foreign file
        raise ValueError(f"{path}: not a readable checkpoint ({err})") from err
    return state["model"] if isinstance(state, dict) and "model" in state else state


def analyze_checkpoints(
    checkpoints: Mapping[int, Path],
    model_factory: Callable[[], RegressionModel],
    data: Any,
    config: TrainConfig,
) -> pd.DataFrame:
    """The layer rows of each checkpoint (epoch -> state-dict file) of a model that
    `model_factory()` builds, on `data` (x_train, y_train, x_test, y_test tensors), measured with
    `config.layers` and `config.convention` (`measure`)."""
    if not checkpoints:
        raise ValueError("checkpoints: give at least one epoch -> state-dict file")
    tensors = check_tensors(data)
    rows = []
    for epoch in sorted(checkpoints):
        model = model_factory()
        model.load_state_dict(_load_state(Path(checkpoints[epoch])))  # type: ignore[attr-defined]
        rows += [
            {"epoch": epoch} | r for r in measure(model, tensors, config, residuals=False).layers
        ]
    return pd.DataFrame(rows)


def analyze_run(
    run_dir: Path | str,
    layers: str | tuple[str, ...] = "all",
    *,
    data: Any | None = None,
    model_factory: ModelFactory = build_model,
) -> pd.DataFrame:
    """Measure every kept model of the run at `layers`; writes and returns analysis.parquet."""
    store = RunStore(run_dir)
    config = dataclasses.replace(store.read_config(), layers=layers)
    prepared = training_data(config, data)
    checkpoints = store.snapshots()
    if not checkpoints:
        state = store.read_checkpoint()
        if state is None:
            raise FileNotFoundError(f"run {store.path} has neither snapshots nor a checkpoint")
        checkpoints = {state["epoch"]: store.file("checkpoint.pt")}
    shape = tuple(prepared.tensors.x_train.shape[1:])
    n = prepared.tensors.y_train.shape[1]
    table = analyze_checkpoints(
        checkpoints, lambda: model_factory(config, shape, n), prepared.tensors, config
    )
    write_table(store.file(ANALYSIS), table.to_dict("records"))
    return table


def register(sub: Any) -> None:
    """Add the `analyze` sub-command."""
    p = sub.add_parser("analyze", help="measure collapse at every layer of a run's kept models")
    p.add_argument("run", type=Path, help="run directory")
    p.add_argument(
        "--layers", default="all", help="all (default), last, or comma-separated module names"
    )
    p.set_defaults(func=_analyze_command)


def _analyze_command(args: argparse.Namespace) -> int:
    layers = args.layers if args.layers in ("all", "last") else tuple(args.layers.split(","))
    table = analyze_run(args.run, layers)
    shown = ["epoch", "layer", "noise_fraction", "cka", "alignment", "probe_mse", "nrc1"]
    print(table[shown].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print(f"table: {Path(args.run) / ANALYSIS} ({len(table)} rows)")
    return 0
