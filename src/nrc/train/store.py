"""The run directory (`RunStore`): what one run owns on disk, its lock, and reading it back.

config.json      the resolved TrainConfig
metrics.parquet  one row per evaluation (the row schema of `nrc.metrics.schema`, plus epoch,
                 step, train/test MSE, R², activation; at the end gamma_paper, nrc3_paper)
layers.parquet   with `layers` other than "last": one row per evaluation and probed layer
                 (epoch, step, layer and the LayerReport of `nrc.metrics.layers`)
checkpoint.pt    the latest checkpoint (model, optimizer, RNG states, epoch); weights_only
wwt.npz          the WWᵀ history (epochs, wwt: T×n×n), written at the end
data.json        the data the run trained on: dataset, provenance, shapes, target scaling
targets.npz      the training targets as loaded (before scaling), for Table 1 and the UFM
residuals.npz    residuals ŷ − y on the training set at the first and last evaluation (Fig. 11)
snapshots/       with `snapshots="log"`: the model at log-spaced epochs (epoch_NNNNNNN.pt)
geometry.json    with `geometry`: TwoNN intrinsic dimension of the final features and targets
analysis.parquet rows of `nrc analyze`: the layers of each snapshot, measured afterwards
train.log        the log of the run
summary.json     written last: status "complete", nrc version, rows, last epoch, seconds, the
                 final row
.lock            held (flock) by the one process that trains the run

A run is complete only when summary.json exists and the table agrees with it and with the
config (row count, last epoch, paper-protocol columns); an inconsistent run is an error, never
reused (docs/reliability.md).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from nrc import __version__
from nrc.io import atomic_write, write_json
from nrc.train.config import TrainConfig, from_dict, to_dict

CONFIG = "config.json"
METRICS = "metrics.parquet"
LAYERS = "layers.parquet"
WWT = "wwt.npz"
CHECKPOINT = "checkpoint.pt"
LOG = "train.log"
SUMMARY = "summary.json"
DATA = "data.json"
TARGETS = "targets.npz"
RESIDUALS = "residuals.npz"
LOCK = ".lock"
SNAPSHOTS = "snapshots"
ANALYSIS = "analysis.parquet"
GEOMETRY = "geometry.json"


class RunInUseError(BlockingIOError):
    """Another live process holds the run directory's lock (taking it would block)."""


def safe_component(text: str, what: str) -> str:
    """`text` as one path component of a run directory name; refuses separators and `..`."""
    if not text or "/" in text or "\\" in text or "\0" in text or text in (".", ".."):
        raise ValueError(f"{what} {text!r} cannot name a run directory (no '/', '\\' or '..')")
    return text


def expected_rows(config: TrainConfig) -> int:
    """Rows of a complete run: epoch 0 and every `eval_every` epochs up to `epochs`."""
    return config.epochs // config.eval_every + 1


def snapshot_epochs(epochs: int, count: int = 30) -> list[int]:
    """Epoch 0 and `count` log-spaced epochs up to `epochs` (Deep NRC's checkpoint protocol),
    without repeats."""
    spaced = np.unique(np.round(np.logspace(0, np.log10(epochs), count)).astype(int))
    return [0, *(int(e) for e in spaced if 0 < e <= epochs)]


def write_table(path: Path, rows: list[dict[str, Any]]) -> None:
    """Atomically write metrics rows as Parquet."""
    atomic_write(path, lambda tmp: pd.DataFrame.from_records(rows).to_parquet(tmp, index=False))


def read_table(path: Path) -> pd.DataFrame:
    """A Parquet table; a damaged file raises ValueError naming it."""
    try:
        return pd.read_parquet(path)
    except Exception as err:  # pyarrow raises several types for a damaged file
        raise ValueError(f"{path}: corrupt metrics table ({err})") from err


def read_json(path: Path) -> Any:
    """A JSON file; a damaged or non-text file raises ValueError naming it."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: corrupt JSON ({err})") from err


class RunStore:
    """The files of one run directory (see the module docstring)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock_fd: int | None = None

    def file(self, name: str) -> Path:
        """The path of one of the run's files."""
        return self.path / name

    @contextlib.contextmanager
    def locked(self) -> Iterator[RunStore]:
        """Hold the run's exclusive lock for the block (the kernel drops it if the process dies).

        A second process gets `RunInUseError` naming the run and the holder's pid.
        """
        self.path.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.file(LOCK), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise RunInUseError(
                f"run directory {self.path} is in use by another process (pid {holder})"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._lock_fd = fd
        try:
            yield self
        finally:
            self._lock_fd = None
            os.ftruncate(fd, 0)
            os.close(fd)

    def has_config(self) -> bool:
        """Whether the directory holds a run config."""
        return self.file(CONFIG).is_file()

    def read_config(self) -> TrainConfig:
        """The config of the run (validated)."""
        path = self.file(CONFIG)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such run config (is {self.path} a run directory?)")
        values = read_json(path)
        if not isinstance(values, dict):
            raise ValueError(f"{path}: a run config must be a JSON object")
        return from_dict(values)

    def write_config(self, config: TrainConfig) -> None:
        """Write config.json of a new run."""
        write_json(self.file(CONFIG), to_dict(config))

    def read_rows(self) -> list[dict[str, Any]]:
        """The metrics rows written so far (empty if none)."""
        path = self.file(METRICS)
        return read_table(path).to_dict("records") if path.is_file() else []

    def table(self) -> pd.DataFrame:
        """The metrics table (finished or not)."""
        path = self.file(METRICS)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: the run has no metrics yet")
        return read_table(path)

    def read_layer_rows(self) -> list[dict[str, Any]]:
        """The per-layer rows written so far (empty if none)."""
        path = self.file(LAYERS)
        return read_table(path).to_dict("records") if path.is_file() else []

    def _write_tables(self, rows: list[dict[str, Any]], layer_rows: list[dict[str, Any]]) -> None:
        if layer_rows:
            write_table(self.file(LAYERS), layer_rows)
        write_table(self.file(METRICS), rows)

    def write_progress(
        self,
        rows: list[dict[str, Any]],
        state: dict[str, Any],
        layer_rows: list[dict[str, Any]] | None = None,
    ) -> None:
        """Tables first, then checkpoint: the checkpoint's epoch never runs ahead of a table."""
        self._write_tables(rows, layer_rows or [])
        atomic_write(self.file(CHECKPOINT), lambda tmp: torch.save(state, tmp))

    def read_checkpoint(self) -> dict[str, Any] | None:
        """The latest checkpoint (loaded with weights_only=True), or None if there is none."""
        path = self.file(CHECKPOINT)
        if not path.is_file():
            return None
        try:
            return torch.load(path, weights_only=True)
        except Exception as err:  # torch raises several types for a damaged or foreign file
            raise ValueError(f"{path}: corrupt checkpoint ({err})") from err

    def write_snapshot(self, epoch: int, model_state: dict[str, Any]) -> None:
        """Keep the model of `epoch` for measuring afterwards."""
        path = self.file(SNAPSHOTS) / f"epoch_{epoch:07d}.pt"
        atomic_write(path, lambda tmp: torch.save({"epoch": epoch, "model": model_state}, tmp))

    def snapshots(self) -> dict[int, Path]:
        """The kept models by epoch."""
        folder = self.file(SNAPSHOTS)
        files = sorted(folder.glob("epoch_*.pt")) if folder.is_dir() else []
        return {int(p.stem.removeprefix("epoch_")): p for p in files}

    def write_arrays(self, name: str, arrays: Mapping[str, np.ndarray]) -> None:
        """Atomically write named arrays as one .npz artifact."""
        atomic_write(self.file(name), lambda tmp: np.savez(tmp.open("wb"), **arrays))

    def read_arrays(self, name: str) -> dict[str, np.ndarray]:
        """A .npz artifact written by `write_arrays` (no pickles)."""
        path = self.file(name)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: the run has no {name} (trained by an older nrc?)")
        try:
            with np.load(path, allow_pickle=False) as arrays:
                return {k: arrays[k] for k in arrays.files}
        except Exception as err:  # numpy raises several types for a damaged file
            raise ValueError(f"{path}: corrupt array file ({err})") from err

    def write_data(self, info: Mapping[str, Any], y_train: np.ndarray) -> None:
        """The data artifact: `info` as data.json, the raw training targets as targets.npz."""
        write_json(self.file(DATA), dict(info) | {"nrc_version": __version__})
        self.write_arrays(TARGETS, {"y_train": y_train})

    def write_residuals(
        self, initial: torch.Tensor, final: torch.Tensor, y_train: torch.Tensor
    ) -> None:
        """The residuals artifact: ŷ − y of the first and last evaluation and the targets."""
        arrays = {"initial": initial, "final": final, "y_train": y_train}
        self.write_arrays(RESIDUALS, {k: v.double().numpy() for k, v in arrays.items()})

    def write_geometry(self, geometry: Mapping[str, Any]) -> None:
        """The geometry artifact (intrinsic dimensions of the final features and targets)."""
        write_json(self.file(GEOMETRY), dict(geometry))

    def read_geometry(self) -> dict[str, Any]:
        """geometry.json of the run."""
        path = self.file(GEOMETRY)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: the run measured no geometry (geometry=false)")
        return read_json(path)

    def has_artifacts(self) -> bool:
        """Whether the data and residual artifacts exist (runs of older nrc versions lack them)."""
        return all(self.file(name).is_file() for name in (DATA, TARGETS, RESIDUALS))

    def read_data(self) -> dict[str, Any]:
        """data.json of the run."""
        path = self.file(DATA)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: the run has no {DATA} (trained by an older nrc?)")
        return read_json(path)

    def finish(
        self,
        rows: list[dict[str, Any]],
        wwt: np.ndarray,
        elapsed: float,
        layer_rows: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Write the final tables, the WWᵀ history and (last) the summary; returns the summary."""
        self._write_tables(rows, layer_rows or [])
        epochs = np.array([r["epoch"] for r in rows])
        self.write_arrays(WWT, {"epochs": epochs, "wwt": wwt})
        last = {k: v for k, v in rows[-1].items() if isinstance(v, int | float | str) or v is None}
        summary = {
            "status": "complete",
            "nrc_version": __version__,
            "rows": len(rows),
            "last_epoch": int(rows[-1]["epoch"]),
            "train_seconds": elapsed,
            "final": last,
        }
        write_json(self.file(SUMMARY), summary)
        return summary

    def is_complete(self) -> bool:
        """Whether the run finished and its files agree; an inconsistent run raises ValueError.

        Summaries written before the row count was recorded are checked against the config.
        """
        path = self.file(SUMMARY)
        if not path.is_file():
            return False
        summary = read_json(path)
        config = self.read_config()
        table = self.table()
        want = summary.get("rows", expected_rows(config)) if isinstance(summary, dict) else None
        problems = []
        if not isinstance(summary, dict) or summary.get("status") != "complete":
            problems.append("summary.json does not say 'complete'")
        if want != expected_rows(config) or len(table) != want:
            problems.append(f"{len(table)} metrics rows, expected {expected_rows(config)}")
        if len(table) and int(table["epoch"].iloc[-1]) != config.epochs:
            problems.append(f"last epoch {int(table['epoch'].iloc[-1])} != {config.epochs}")
        if "nrc3_paper" not in table.columns:
            problems.append("no paper-protocol column nrc3_paper")
        if config.layers != "last":
            layer_epochs = sorted({int(r["epoch"]) for r in self.read_layer_rows()})
            if layer_epochs != sorted(int(e) for e in table["epoch"]):
                problems.append(f"{LAYERS} does not cover every evaluation")
        if problems:
            raise ValueError(
                f"run {self.path} is inconsistent ({'; '.join(problems)}); it is not reused — "
                "delete the directory to train it again"
            )
        return True


def load_run(run_dir: Path | str) -> tuple[TrainConfig, pd.DataFrame]:
    """(config, metrics table) of a run, finished or not."""
    store = RunStore(run_dir)
    return store.read_config(), store.table()


def is_complete(run_dir: Path | str) -> bool:
    """Whether the run in `run_dir` finished (and is consistent)."""
    return RunStore(run_dir).is_complete()
