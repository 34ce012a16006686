"""The run directory: files, atomic writes and reading a run back.

config.json      the resolved TrainConfig
metrics.parquet  one row per evaluation (epoch, step, train/test MSE, R², every CollapseReport
                 field incl. WWᵀ as wwt_i_j, activation; at the end gamma_paper, nrc3_paper)
wwt.npz          the WWᵀ history (epochs, wwt: T×n×n), written at the end
checkpoint.pt    the latest checkpoint (model, optimizer, RNG states, epoch); weights_only
train.log        the log of the run
summary.json     written last: status "complete", training seconds, the final row
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from nrc.io import atomic_write, write_json
from nrc.train.config import TrainConfig, from_dict, to_dict

CONFIG = "config.json"
METRICS = "metrics.parquet"
WWT = "wwt.npz"
CHECKPOINT = "checkpoint.pt"
LOG = "train.log"
SUMMARY = "summary.json"


def write_table(path: Path, rows: list[dict[str, Any]]) -> None:
    """Atomically write metrics rows as Parquet."""
    atomic_write(path, lambda tmp: pd.DataFrame.from_records(rows).to_parquet(tmp, index=False))


def read_config(run_dir: Path) -> TrainConfig:
    """The config of a run (validated)."""
    path = Path(run_dir) / CONFIG
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such run config (is {run_dir} a run directory?)")
    try:
        values = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: corrupt JSON ({err})") from err
    return from_dict(values)


def write_config(run_dir: Path, config: TrainConfig) -> None:
    """Write config.json of a new run."""
    write_json(Path(run_dir) / CONFIG, to_dict(config))


def read_rows(run_dir: Path) -> list[dict[str, Any]]:
    """The metrics rows written so far (empty if none)."""
    path = Path(run_dir) / METRICS
    if not path.is_file():
        return []
    try:
        frame = pd.read_parquet(path)
    except Exception as err:  # pyarrow raises several types for a damaged file
        raise ValueError(f"{path}: corrupt metrics table ({err})") from err
    return frame.to_dict("records")


def write_progress(run_dir: Path, rows: list[dict[str, Any]], state: dict[str, Any]) -> None:
    """Table first, then checkpoint: the checkpoint's epoch never runs ahead of the table."""
    write_table(Path(run_dir) / METRICS, rows)
    atomic_write(Path(run_dir) / CHECKPOINT, lambda tmp: torch.save(state, tmp))


def read_checkpoint(run_dir: Path) -> dict[str, Any] | None:
    """The latest checkpoint (loaded with weights_only=True), or None if there is none."""
    path = Path(run_dir) / CHECKPOINT
    if not path.is_file():
        return None
    try:
        return torch.load(path, weights_only=True)
    except Exception as err:  # torch raises several types for a damaged or foreign file
        raise ValueError(f"{path}: corrupt checkpoint ({err})") from err


def finish(
    run_dir: Path,
    rows: list[dict[str, Any]],
    gamma_paper: float | None,
    nrc3_paper: list[float | None],
    elapsed: float,
) -> None:
    """Add the paper-protocol NRC3 columns, write the WWᵀ history and the summary (last)."""
    run_dir = Path(run_dir)
    final = [
        r | {"gamma_paper": gamma_paper, "nrc3_paper": v}
        for r, v in zip(rows, nrc3_paper, strict=True)
    ]
    write_table(run_dir / METRICS, final)
    wwt = np.array([row_matrix(r, "wwt") for r in rows])
    epochs = np.array([r["epoch"] for r in rows])
    atomic_write(run_dir / WWT, lambda tmp: np.savez(tmp.open("wb"), epochs=epochs, wwt=wwt))
    last = {k: v for k, v in final[-1].items() if isinstance(v, int | float | str) or v is None}
    write_json(run_dir / SUMMARY, {"status": "complete", "train_seconds": elapsed, "final": last})


def row_matrix(row: dict[str, Any], key: str) -> np.ndarray:
    """Rebuild the n×n matrix that `CollapseReport.to_dict` flattened as key_i_j (1-based)."""
    n = int(row["n"])
    return np.array([[row[f"{key}_{i}_{j}"] for j in range(1, n + 1)] for i in range(1, n + 1)])


def is_complete(run_dir: Path) -> bool:
    """Whether the run finished (its summary.json exists)."""
    return (Path(run_dir) / SUMMARY).is_file()


def load_run(run_dir: Path) -> tuple[TrainConfig, pd.DataFrame]:
    """(config, metrics table) of a run, finished or not."""
    config = read_config(run_dir)
    path = Path(run_dir) / METRICS
    if not path.is_file():
        raise FileNotFoundError(f"{path}: the run has no metrics yet")
    return config, pd.read_parquet(path)
