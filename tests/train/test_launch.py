"""Launchers: a killed sweep takes its workers with it and starts nothing after; the serial
launcher loads each dataset once for all its runs (docs/reliability.md)."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nrc.train import RunSpec, Serial, TrainConfig, launcher_for
from nrc.train import setup as train_setup
from tests.train.conftest import make_data

ROOT = Path(__file__).parents[2]
SWEEP = """
import sys
from nrc.train import TrainConfig, sweep
from tests.train.conftest import make_data
sweep(TrainConfig(**{config}), {{"seed": [0, 1, 2, 3, 4, 5]}}, sys.argv[1], data=make_data(),
      jobs=2)
"""


def _children(pid: int) -> set[int]:
    """Live child processes of `pid` (Linux /proc)."""
    out: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        text = (task / "children").read_text() if (task / "children").exists() else ""
        out |= {int(c) for c in text.split()}
    return out


def _alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie waiting for its reaper counts as dead)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux")
def test_killing_a_sweep_kills_its_workers_and_starts_no_queued_point(
    tiny: TrainConfig, tmp_path: Path
) -> None:
    config = dataclasses.replace(tiny, epochs=100_000, eval_every=20, checkpoint_every=20)
    code = SWEEP.format(config=dataclasses.asdict(config))
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    root = tmp_path / "sweep"
    parent = subprocess.Popen([sys.executable, "-c", code, str(root)], env=env, cwd=ROOT)
    deadline = time.monotonic() + 90
    while len(list(root.glob("seed=*/checkpoint.pt"))) < 2:  # both workers are training
        assert parent.poll() is None and time.monotonic() < deadline, "sweep did not start"
        time.sleep(0.1)
    workers = _children(parent.pid)
    assert len(workers) >= 2
    started = sorted(p.name for p in root.glob("seed=*"))
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    try:
        deadline = time.monotonic() + 10
        while any(_alive(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [w for w in workers if _alive(w)], "workers outlived the killed sweep"
        time.sleep(1.0)
        assert sorted(p.name for p in root.glob("seed=*")) == started  # no queued point started
    finally:  # a failing run of this test must not leave orphans behind either
        for w in workers:
            if _alive(w):
                os.kill(w, signal.SIGKILL)


def test_the_serial_launcher_loads_each_dataset_once(
    tiny: TrainConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loads: list[tuple] = []

    def load(config: TrainConfig):  # type: ignore[no-untyped-def]
        loads.append((config.dataset, config.train_size))
        return make_data()

    monkeypatch.setattr(train_setup, "load_dataset", load)
    configs = [dataclasses.replace(tiny, epochs=10, seed=s) for s in range(3)]
    configs.append(dataclasses.replace(tiny, epochs=10, train_size=50))
    specs = [RunSpec(f"r{i}", c, tmp_path / f"r{i}") for i, c in enumerate(configs)]
    done: dict[str, str] = {}
    Serial().launch(specs, lambda spec, status: done.update({spec.name: status["status"]}))
    assert done == {f"r{i}": "complete" for i in range(4)}
    assert loads == [("synthetic", None), ("synthetic", 50)]


@pytest.mark.parametrize("jobs", [0, -1, 1.5, True, "2"])
def test_jobs_must_be_a_positive_integer(jobs: object) -> None:
    with pytest.raises(ValueError, match="jobs must be a positive integer"):
        launcher_for(jobs)  # type: ignore[arg-type]


def test_a_launch_loads_each_variant_of_a_dataset_separately(monkeypatch) -> None:
    """Two runs that differ only in what `nrc.data.load` is asked for (here the expert's
    actions) get their own data, never the first one's (docs/training.md, "Sweeps")."""
    from nrc.train.launch import _Datasets

    calls = []
    monkeypatch.setattr(train_setup, "load_dataset", lambda c: calls.append(c) or c.expert_actions)
    datasets = _Datasets(None)
    base = TrainConfig(dataset="reacher")
    sampled = dataclasses.replace(base, expert_actions="sampled")
    assert [datasets(c) for c in (base, sampled, base, sampled)] == [None, "sampled"] * 2
    assert calls == [base, sampled]
