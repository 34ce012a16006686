"""Sweeps: many runs over a grid of config values, gathered into one table (paper Figs. 5, 7, 10).

Each grid point is an ordinary run in `root/<key=value,...>`, so a finished run is reused, an
interrupted one resumes and a failed one is recorded without losing the others. The gathered
table is `root/sweep.parquet` (every evaluation row of every finished run, with its config
columns); `root/sweep_status.json` lists each run's status and error.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm import tqdm

from nrc.io import write_json
from nrc.train.config import TrainConfig, apply_overrides, to_row
from nrc.train.launch import Launcher, RunSpec, Status, launcher_for
from nrc.train.presets import FIG10_LAMBDA_H, PAPER_WD_GRIDS, resolve
from nrc.train.runner import check_tracker
from nrc.train.store import RunStore, safe_component, write_table

log = logging.getLogger(__name__)

# Grid values that name a grid of the paper instead of listing numbers.
NAMED_GRIDS = {("weight_decay", "paper"), ("lambda_h", "fig10")}


@dataclass(frozen=True)
class SweepResult:
    """`table`: all evaluation rows of the finished runs; `status`: one row per run."""

    table: pd.DataFrame
    status: pd.DataFrame


def _point_config(
    spec: str | Path | TrainConfig, overrides: Mapping[str, Any], point: Mapping[str, Any]
) -> TrainConfig:
    """The config of one grid point: preset/file/config, then `overrides`, then the point."""
    values = {**overrides, **point}
    if isinstance(spec, TrainConfig):
        return apply_overrides(spec, values)
    return resolve(spec, values)


def point_name(point: Mapping[str, Any]) -> str:
    """The run directory name of a grid point, `key=value,...` ("base" for no keys)."""
    parts = [safe_component(f"{k}={v}", f"grid point {k}") for k, v in point.items()]
    return ",".join(parts) or "base"


def expand(
    spec: str | Path | TrainConfig,
    grid: Mapping[str, Sequence[Any]],
    overrides: Mapping[str, Any] | None = None,
) -> list[tuple[str, TrainConfig]]:
    """(run name, config) for every point of the Cartesian product of `grid`.

    `weight_decay=["paper"]` takes the paper's grid of each point's dataset (Figs. 7, 8; 0
    included); `lambda_h=["fig10"]` takes Fig. 10's λ_H values. Configs are validated here, so a
    bad value fails before any training.
    """
    overrides = dict(overrides or {})
    named = {k for k, v in grid.items() if len(v) == 1 and (k, v[0]) in NAMED_GRIDS}
    plain = {k: list(v) for k, v in grid.items() if k not in named}
    for key, values in plain.items():
        if not values:
            raise ValueError(f"grid key {key!r} has no values")
    points = []
    for combo in itertools.product(*plain.values()):
        point = dict(zip(plain, combo, strict=True))
        if "weight_decay" in named:
            dataset = _point_config(spec, overrides, point).dataset
            if dataset not in PAPER_WD_GRIDS:
                raise ValueError(f"grid weight_decay=paper: no paper grid for dataset {dataset!r}")
            extra = [{"weight_decay": wd} for wd in PAPER_WD_GRIDS[dataset]]
        elif "lambda_h" in named:
            extra = [{"lambda_h": lam} for lam in FIG10_LAMBDA_H]
        else:
            extra = [{}]
        points += [point | e for e in extra]
    out = [(point_name(point), _point_config(spec, overrides, point)) for point in points]
    names = [n for n, _ in out]
    if len(set(names)) != len(names):
        raise ValueError(f"grid has repeated points: {names}")
    return out


def sweep(
    spec: str | Path | TrainConfig,
    grid: Mapping[str, Sequence[Any]],
    root: Path | str,
    *,
    overrides: Mapping[str, Any] | None = None,
    jobs: int = 1,
    data: Any | None = None,
    batched: bool | None = None,
    threads: int | None = None,
    tracker: str | None = None,
) -> SweepResult:
    """Run every grid point under `root` (`jobs` processes at a time, or with `batched` every
    group of points sharing architecture and dataset as one stack; default: batched on CUDA)
    and gather the results. `threads` per run overrides `nrc.train.launch.threads_for`.

    Finished runs are reused, unfinished ones resume; an exception in one run is logged and
    recorded in the status table, the others go on.
    """
    launcher = launcher_for(jobs, data, batched=batched, threads=threads)
    return run_points(expand(spec, grid, overrides), root, launcher=launcher, tracker=tracker)


def run_specs(
    points: Sequence[tuple[str, TrainConfig]], root: Path, tracker: str | None = None
) -> list[RunSpec]:
    """`RunSpec`s of (name, config) points in `root/<name>` (a name may hold sub-folders, each
    a safe path component), their metrics also sent to `tracker`."""
    specs = []
    for name, config in points:
        parts = [safe_component(p, "run name part") for p in name.split("/")]
        specs.append(RunSpec(name, config, root.joinpath(*parts), tracker))
    return specs


def run_points(
    points: Sequence[tuple[str, TrainConfig]],
    root: Path | str,
    *,
    launcher: Launcher | None = None,
    progress: bool = True,
    tracker: str | None = None,
) -> SweepResult:
    """Run (name, config) points in `root/<name>` through `launcher` (default: in this process)
    in the given order, and gather them (see :func:`sweep`). A progress bar counts runs."""
    root = Path(root)
    specs = run_specs(points, root, check_tracker(tracker))
    root.mkdir(parents=True, exist_ok=True)
    status: dict[str, Status] = {}
    bar = tqdm(total=len(specs), unit="run", desc=f"runs in {root}", disable=not progress)

    def done(spec: RunSpec, state: Status) -> None:
        status[spec.name] = state
        bar.update()
        bar.set_postfix_str(f"last: {spec.name} ({state['status']})")

    (launcher or launcher_for(1)).launch(specs, done)
    bar.close()
    return gather(root, [(s.name, s.config, status[s.name]) for s in specs])


def gather(root: Path, runs: Sequence[tuple[str, TrainConfig, Status]]) -> SweepResult:
    """Concatenate the finished runs' tables (plus run name and config columns); write both."""
    frames, rows = [], []
    for name, config, state in runs:
        rows.append({"run": name, **state, **to_row(config)})
        if state["status"] == "complete":
            frame = RunStore(root / name).table()
            frames.append(frame.assign(run=name, **to_row(config)))
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    status = pd.DataFrame(rows)
    write_table(root / "sweep.parquet", table.to_dict("records"))
    write_json(root / "sweep_status.json", status.to_dict("records"))
    failed = status[status["status"] != "complete"]
    if len(failed):
        log.warning("%d of %d runs failed: %s", len(failed), len(status), list(failed["run"]))
    return SweepResult(table=table, status=status)
