"""Killed at any point, a resumed run ends with the metrics table of an uninterrupted one."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import torch

from nrc.train import TrainConfig, is_complete, load_run, resume, run
from tests.train.conftest import crash_at_checkpoint

SCRIPT = """
import sys, torch
from nrc.train import TrainConfig, run
from tests.train.conftest import make_data
torch.set_num_threads(1)
run(TrainConfig(**{config}), sys.argv[1], data=make_data())
"""


def _config(tiny: TrainConfig) -> TrainConfig:
    return dataclasses.replace(tiny, epochs=600, eval_every=20, checkpoint_every=40)


def test_resume_after_kill_9_gives_the_identical_table(
    tiny: TrainConfig, data: SimpleNamespace, tmp_path: Path
) -> None:
    torch.set_num_threads(1)
    config = _config(tiny)
    reference = load_run(run(config, tmp_path / "ref", data=data))[1]
    killed = tmp_path / "killed"
    code = SCRIPT.format(config=dataclasses.asdict(config))
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(killed)], env=env, cwd=Path(__file__).parents[2]
    )
    deadline = time.monotonic() + 60
    while not (killed / "checkpoint.pt").is_file() or len(load_run(killed)[1]) < 3:
        assert proc.poll() is None and time.monotonic() < deadline, (
            "training subprocess ended early"
        )
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not is_complete(killed), "the run finished before it was killed; nothing was tested"
    resumed = load_run(resume(killed, data=data))[1]
    pd.testing.assert_frame_equal(resumed, reference)


@pytest.mark.parametrize(
    ("crash_at_save", "schedule"),
    [(2, {}), (5, {}), (3, {"momentum": 0.9, "milestones": (30, 50), "lr_gamma": 0.3})],
)
def test_crash_between_table_and_checkpoint_write(
    tiny: TrainConfig,
    data: SimpleNamespace,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    crash_at_save: int,
    schedule: dict,
) -> None:
    """The table is written before the checkpoint; a crash in between leaves extra rows that a
    resume must drop and recompute (not duplicate). Momentum buffers and the multistep schedule
    (Table 3) continue as if uninterrupted."""
    config = dataclasses.replace(tiny, epochs=120, eval_every=10, checkpoint_every=20, **schedule)
    reference = load_run(run(config, tmp_path / "ref", data=data))[1]
    undo = crash_at_checkpoint(monkeypatch, crash_at_save)
    with pytest.raises(KeyboardInterrupt):
        run(config, tmp_path / "crashed", data=data)
    undo()
    partial = load_run(tmp_path / "crashed")[1]
    assert (
        partial["epoch"].max()
        > torch.load(tmp_path / "crashed" / "checkpoint.pt", weights_only=True)["epoch"]
    )
    pd.testing.assert_frame_equal(
        load_run(run(config, tmp_path / "crashed", data=data))[1], reference
    )


def test_finished_run_is_reused_not_retrained(
    tiny: TrainConfig, data: SimpleNamespace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_dir = run(tiny, tmp_path / "r", data=data)
    before = (run_dir / "metrics.parquet").stat().st_mtime_ns
    monkeypatch.setattr("nrc.train.runner._train", lambda *a, **k: pytest.fail("retrained"))
    assert run(tiny, run_dir, data=data) == run_dir
    assert resume(run_dir, data=data) == run_dir
    assert (run_dir / "metrics.parquet").stat().st_mtime_ns == before


def test_corrupt_checkpoint_is_reported(
    tiny: TrainConfig, data: SimpleNamespace, tmp_path: Path
) -> None:
    run_dir = tmp_path / "r"
    run(dataclasses.replace(tiny, epochs=40), run_dir, data=data)
    (run_dir / "summary.json").unlink()
    (run_dir / "checkpoint.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="checkpoint.pt: corrupt checkpoint"):
        resume(run_dir, data=data)
