"""One run over two processes (torchrun, gloo on CPU): the same metrics table as one process
with the same global batch, to 1e-6 relative in float64 (the sums run in another order), and a
killed torchrun resumes (docs/distributed.md)."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from nrc.train import RunInUseError, RunStore, TrainConfig, is_complete, load_run, run
from nrc.train.distributed import Ranks
from nrc.train.runner import check_ranks

ROOT = Path(__file__).parents[2]
CONFIG = TrainConfig(
    dataset="reacher", train_size=200, test_size=40, depth=2, width=32, activation="none",
    weight_decay=1e-3, lr=0.1, batch_size=48, epochs=40, eval_every=10, checkpoint_every=20,
    dtype="float64",
)  # fmt: skip


def _torchrun(config: TrainConfig, out: Path, tmp: Path, **popen) -> subprocess.Popen:
    path = tmp / f"{out.name}.json"
    path.write_text(json.dumps(dataclasses.asdict(config)))
    args = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    args += ["-m", "nrc", "train", str(path), "--out", str(out), "--no-progress"]
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    return subprocess.Popen(args, cwd=ROOT, env=env, **popen)


def _numeric(table: pd.DataFrame) -> pd.DataFrame:
    return table.select_dtypes("number").astype(float)


def _assert_close(ranks2: pd.DataFrame, single: pd.DataFrame) -> None:
    a, b = _numeric(ranks2), _numeric(single)
    assert list(a.columns) == list(b.columns) and len(a) == len(b)
    np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), rtol=1e-6, atol=1e-12)


def test_two_ranks_give_the_table_of_one_process(tmp_path: Path) -> None:
    single = load_run(run(CONFIG, tmp_path / "one"))[1]
    proc = _torchrun(CONFIG, tmp_path / "two", tmp_path)
    assert proc.wait(timeout=300) == 0
    _assert_close(load_run(tmp_path / "two")[1], single)
    assert sorted(p.name for p in (tmp_path / "two").iterdir() if p.name.startswith("check")) == [
        "checkpoint.pt"
    ]


def test_a_killed_torchrun_resumes(tmp_path: Path) -> None:
    config = dataclasses.replace(CONFIG, epochs=2000, eval_every=20, checkpoint_every=100)
    out = tmp_path / "killed"
    proc = _torchrun(config, out, tmp_path, start_new_session=True)
    deadline = time.monotonic() + 240
    while not (out / "checkpoint.pt").is_file() or len(load_run(out)[1]) < 7:
        assert proc.poll() is None and time.monotonic() < deadline, "torchrun did not start"
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)  # the agent; its ranks follow it (PR_SET_PDEATHSIG)
    proc.wait()
    assert not is_complete(out)
    deadline = time.monotonic() + 10
    while (out / ".lock").read_text() and time.monotonic() < deadline:  # the lock is released
        try:
            with RunStore(out).locked():
                break
        except RunInUseError:
            time.sleep(0.2)
    again = _torchrun(config, out, tmp_path)
    assert again.wait(timeout=600) == 0
    _assert_close(load_run(out)[1], load_run(run(config, tmp_path / "one"))[1])


def test_what_several_ranks_cannot_do_is_refused() -> None:
    with pytest.raises(ValueError, match="last batch has 1"):
        check_ranks(dataclasses.replace(CONFIG, batch_size=199), Ranks(0, 2), 200)
    with pytest.raises(ValueError, match="recalibrate_bn"):
        check_ranks(dataclasses.replace(CONFIG, recalibrate_bn=True), Ranks(0, 2), 200)
    check_ranks(CONFIG, Ranks(0, 2), 200)
    assert Ranks(1, 2).share(torch.arange(5)).tolist() == [3, 4]


def test_a_second_torchrun_on_a_running_run_fails_on_every_rank(tmp_path: Path) -> None:
    """Rank 0 cannot take the lock: every rank ends with the error instead of waiting."""
    config = dataclasses.replace(CONFIG, epochs=4000, eval_every=20, checkpoint_every=100)
    out = tmp_path / "held"
    holder = _torchrun(config, out, tmp_path, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while not (out / "checkpoint.pt").is_file():
            assert holder.poll() is None and time.monotonic() < deadline, "holder did not start"
            time.sleep(0.2)
        second = _torchrun(config, out, tmp_path, stderr=subprocess.PIPE, text=True)
        _, err = second.communicate(timeout=120)
        assert second.returncode != 0 and "in use by another process" in err
    finally:
        os.killpg(holder.pid, signal.SIGKILL)
        holder.wait()
