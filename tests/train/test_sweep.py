"""Sweeps: grid expansion (paper grids), one gathered table, reuse and failure isolation."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from nrc.train import PAPER_WD_GRIDS, TrainConfig, expand, load_run, run, sweep
from nrc.train.presets import FIG10_LAMBDA_H, FIG10_LAMBDA_W


def test_paper_weight_decay_grid_follows_each_dataset() -> None:
    points = expand("paper", {"dataset": ["reacher", "hopper"], "weight_decay": ["paper"]})
    by_dataset: dict[str, list[float]] = {}
    for _, config in points:
        by_dataset.setdefault(config.dataset, []).append(config.weight_decay)
    assert by_dataset == {d: list(PAPER_WD_GRIDS[d]) for d in ("reacher", "hopper")}
    hopper = [c for _, c in points if c.dataset == "hopper"]
    assert {c.epochs for c in hopper} == {200_000}  # the preset is resolved per dataset
    names = [n for n, _ in points]
    assert "dataset=reacher,weight_decay=0.0" in names


def test_fig10_grid_is_ufm_with_fixed_lambda_w() -> None:
    overrides = {"regularization": "ufm", "weight_decay": 0, "lambda_w": FIG10_LAMBDA_W}
    points = expand("quick", {"lambda_h": ["fig10"], "seed": [0, 1]}, overrides)
    assert len(points) == 2 * len(FIG10_LAMBDA_H)
    assert {c.lambda_h for _, c in points} == set(FIG10_LAMBDA_H)
    assert {(c.regularization, c.lambda_w, c.weight_decay) for _, c in points} == {
        ("ufm", 0.01, 0.0)
    }


def test_bad_grid_values_fail_before_training(tiny: TrainConfig, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="lr"):
        sweep(tiny, {"lr": [0.1, -1.0]}, tmp_path)
    assert not any(tmp_path.iterdir())
    with pytest.raises(ValueError, match="no paper grid"):
        expand(tiny, {"weight_decay": ["paper"]})


def test_sweep_gathers_reuses_and_survives_a_failed_run(
    tiny: TrainConfig, data: SimpleNamespace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    grid = {"weight_decay": [0.0, 1e-2], "lr": [0.1, 1e6]}  # lr = 1e6 diverges
    result = sweep(tiny, grid, tmp_path / "sweep", data=data, jobs=2)
    status = result.status.set_index("run")["status"]
    good = ["weight_decay=0.0,lr=0.1", "weight_decay=0.01,lr=0.1"]
    assert list(status[status == "complete"].index) == good
    assert status.value_counts().to_dict() == {"complete": 2, "failed": 2}
    assert result.status["error"].dropna().str.contains("diverged").all()
    table = pd.read_parquet(tmp_path / "sweep" / "sweep.parquet")
    assert len(table) == 2 * 5 and set(table["weight_decay"]) == {0.0, 1e-2}
    # a run in a worker process gives the same rows as the same run here
    alone = load_run(
        run(dataclasses.replace(tiny, weight_decay=1e-2), tmp_path / "alone", data=data)
    )[1]
    mine = table[table["run"] == good[1]].reset_index(drop=True)[alone.columns]
    pd.testing.assert_frame_equal(mine, alone)
    # a second call asks run() for every point again: run() reuses the finished ones
    launch_module = sys.modules["nrc.train.launch"]
    calls: list[float] = []
    monkeypatch.setattr(
        launch_module, "run", lambda config, run_dir, **kwargs: calls.append(config.lr)
    )
    sweep(tiny, grid, tmp_path / "sweep", data=data)
    assert calls == [0.1, 1e6, 0.1, 1e6]
