"""Measuring after training: snapshots at log-spaced epochs, `nrc analyze RUN` gives the rows
the monitor gives during training for the same models."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from nrc.cli import main
from nrc.train import TrainConfig, build_model, run
from nrc.train.analyze import analyze_checkpoints, analyze_run
from nrc.train.store import LAYERS, RunStore, snapshot_epochs


def test_snapshot_epochs_are_log_spaced_with_zero_and_the_end() -> None:
    epochs = snapshot_epochs(1000, count=7)
    assert epochs == [0, 1, 3, 10, 32, 100, 316, 1000]
    assert snapshot_epochs(3) == [0, 1, 2, 3]


def test_analysis_of_snapshots_equals_the_monitor_at_the_same_epochs(
    tiny: TrainConfig, data: SimpleNamespace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = dataclasses.replace(tiny, epochs=100, eval_every=10, checkpoint_every=20)
    config = dataclasses.replace(config, snapshots="log", layers="all")
    run_dir = run(config, tmp_path / "r", data=data)
    kept = RunStore(run_dir).snapshots()
    assert list(kept) == snapshot_epochs(100)
    table = analyze_run(run_dir, "all", data=data)
    during = pd.read_parquet(run_dir / LAYERS)
    common = sorted(set(kept) & set(during.epoch))
    assert common == [0, 20, 100]
    after = table[table.epoch.isin(common)].reset_index(drop=True)
    before = during[during.epoch.isin(common)].drop(columns="step").reset_index(drop=True)
    pd.testing.assert_frame_equal(after[before.columns], before)
    monkeypatch.setattr("nrc.train.setup.load_dataset", lambda c: data)
    assert main(["analyze", str(run_dir), "--layers", "body.3"]) == 0
    assert set(pd.read_parquet(run_dir / "analysis.parquet").layer) == {"body.3"}


def test_a_users_own_checkpoints_are_analyzed_with_a_model_factory(
    tiny: TrainConfig, data: SimpleNamespace, tmp_path: Path
) -> None:
    import torch

    config = dataclasses.replace(tiny, layers="all")
    models = {e: build_model(dataclasses.replace(config, seed=e), (5,), 2) for e in (1, 2)}
    paths = {}
    for e, model in models.items():
        paths[e] = tmp_path / f"m{e}.pt"
        torch.save(model.state_dict(), paths[e])
    table = analyze_checkpoints(paths, lambda: build_model(config, (5,), 2), data, config)
    assert list(table.epoch) == [1, 1, 2, 2]  # depth 2: body.1, body.3
    assert table[table.epoch == 1].nrc1.tolist() != table[table.epoch == 2].nrc1.tolist()
    (tmp_path / "bad.pt").write_bytes(b"nope")
    with pytest.raises(ValueError, match=r"bad.pt: not a readable checkpoint"):
        analyze_checkpoints({3: tmp_path / "bad.pt"}, lambda: models[1], data, config)
