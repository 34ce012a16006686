"""Sweeps: many runs over a grid of config values, gathered into one table (paper Figs. 5, 7, 10).

Each grid point is an ordinary run in `root/<key=value,...>`, so a finished run is reused, an
interrupted one resumes and a failed one is recorded without losing the others. The gathered
table is `root/sweep.parquet` (every evaluation row of every finished run, with its config
columns); `root/sweep_status.json` lists each run's status and error.
"""

from __future__ import annotations

import concurrent.futures as cf
import itertools
import json
import logging
import multiprocessing
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from tqdm import tqdm

from nrc.train import rundir
from nrc.train.config import TrainConfig, apply_overrides, from_dict, to_row
from nrc.train.presets import FIG10_LAMBDA_H, PAPER_WD_GRIDS, resolve
from nrc.train.runner import run

log = logging.getLogger(__name__)

# Grid values that name a grid of the paper instead of listing numbers.
NAMED_GRIDS = {("weight_decay", "paper"), ("lambda_h", "fig10")}


@dataclass(frozen=True)
class SweepResult:
    """`table`: all evaluation rows of the finished runs; `status`: one row per run."""

    table: pd.DataFrame
    status: pd.DataFrame


def _point_config(
    spec: str | Path | TrainConfig, overrides: Sequence[str], point: Mapping[str, Any]
) -> TrainConfig:
    """The config of one grid point: preset/file/config, then `overrides`, then the point."""
    if isinstance(spec, TrainConfig):
        return from_dict(dict(point), apply_overrides(spec, list(overrides)))
    return resolve(spec, [*overrides, *(f"{k}={json.dumps(v)}" for k, v in point.items())])


def expand(
    spec: str | Path | TrainConfig,
    grid: Mapping[str, Sequence[Any]],
    overrides: Sequence[str] = (),
) -> list[tuple[str, TrainConfig]]:
    """(run name, config) for every point of the Cartesian product of `grid`.

    `weight_decay=["paper"]` takes the paper's grid of each point's dataset (paper.md §5.1, 0
    included); `lambda_h=["fig10"]` takes Fig. 10's λ_H values. Configs are validated here, so a
    bad value fails before any training.
    """
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
    out = []
    for point in points:
        name = ",".join(f"{k}={v}" for k, v in point.items()) or "base"
        out.append((name, _point_config(spec, overrides, point)))
    names = [n for n, _ in out]
    if len(set(names)) != len(names):
        raise ValueError(f"grid has repeated points: {names}")
    return out


def _run_one(config: TrainConfig, run_dir: Path, data: Any, threads: int) -> str:
    """Worker: one run with `threads` torch threads; returns "complete"."""
    torch.set_num_threads(threads)
    run(config, run_dir, data=data)
    return "complete"


def sweep(
    spec: str | Path | TrainConfig,
    grid: Mapping[str, Sequence[Any]],
    root: Path | str,
    *,
    overrides: Sequence[str] = (),
    jobs: int = 1,
    data: Any | None = None,
) -> SweepResult:
    """Run every grid point under `root` (`jobs` processes at a time) and gather the results.

    Finished runs are reused, unfinished ones resume; an exception in one run is logged and
    recorded in the status table, the others go on.
    """
    return run_points(expand(spec, grid, overrides), root, jobs=jobs, data=data)


def run_points(
    points: Sequence[tuple[str, TrainConfig]],
    root: Path | str,
    *,
    jobs: int = 1,
    data: Any | None = None,
    progress: bool = True,
) -> SweepResult:
    """Run (name, config) points in `root/<name>` (names may hold sub-folders), `jobs` at a
    time in the given order, and gather them (see :func:`sweep`). A progress bar counts runs."""
    if not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a positive integer, got {jobs!r}")
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    status: dict[str, dict[str, Any]] = {}
    threads = max(1, (os.cpu_count() or 1) // jobs)
    bar = tqdm(total=len(points), unit="run", desc=f"runs in {root}", disable=not progress)

    def done(name: str, state: dict[str, Any]) -> None:
        status[name] = state
        bar.update()
        bar.set_postfix_str(f"last: {name} ({state['status']})")

    if jobs == 1:
        for name, config in points:
            done(name, _attempt(lambda c=config, n=name: _run_one(c, root / n, data, threads)))
    else:
        # A clean interpreter per worker (spawn): no forked torch state.
        ctx = multiprocessing.get_context("spawn")
        with cf.ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
            futures = {pool.submit(_run_one, c, root / n, data, threads): n for n, c in points}
            for future in cf.as_completed(futures):
                done(futures[future], _attempt(future.result))
    bar.close()
    return gather(root, [(n, c, status[n]) for n, c in points])


def _attempt(call: Any) -> dict[str, Any]:
    """Status of one run: complete, or failed with the error (one failure never stops a sweep)."""
    try:
        call()
        return {"status": "complete", "error": None}
    except Exception as err:  # a run may fail in any way; the sweep must record it and go on
        log.exception("sweep run failed")
        return {"status": "failed", "error": f"{type(err).__name__}: {err}"}


def gather(root: Path, runs: Sequence[tuple[str, TrainConfig, dict[str, Any]]]) -> SweepResult:
    """Concatenate the finished runs' tables (plus run name and config columns); write both."""
    frames, rows = [], []
    for name, config, state in runs:
        rows.append({"run": name, **state, **to_row(config)})
        if state["status"] == "complete":
            _, frame = rundir.load_run(root / name)
            frames.append(frame.assign(run=name, **to_row(config)))
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    status = pd.DataFrame(rows)
    rundir.write_table(root / "sweep.parquet", table.to_dict("records"))
    rundir.write_json(root / "sweep_status.json", status.to_dict("records"))
    failed = status[status["status"] != "complete"]
    if len(failed):
        log.warning("%d of %d runs failed: %s", len(failed), len(status), list(failed["run"]))
    return SweepResult(table=table, status=status)
