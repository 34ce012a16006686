"""The run directory: one process per run (a real second process is refused), a finished run is
reused only when its files agree, run-directory names cannot leave their folder, and a failed
start leaves no directory behind (docs/reliability.md)."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from nrc.train import RunInUseError, RunStore, TrainConfig, expand, is_complete, run, sweep
from nrc.train.store import METRICS, safe_component, write_table
from tests.train.conftest import make_data

ROOT = Path(__file__).parents[2]
HOLDER = """
import sys, torch
from nrc.train import TrainConfig, run
from tests.train.conftest import make_data
torch.set_num_threads(1)
run(TrainConfig(**{config}), sys.argv[1], data=make_data())
"""


def _long(tiny: TrainConfig) -> TrainConfig:
    return dataclasses.replace(tiny, epochs=100_000, eval_every=20, checkpoint_every=20)


def _start_holder(config: TrainConfig, run_dir: Path) -> subprocess.Popen:
    """A real process training `config` into `run_dir`; returns once it has checkpointed."""
    code = HOLDER.format(config=dataclasses.asdict(config))
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-c", code, str(run_dir)], env=env, cwd=ROOT)
    deadline = time.monotonic() + 60
    while not (run_dir / "checkpoint.pt").is_file():
        assert proc.poll() is None and time.monotonic() < deadline, "holder did not start"
        time.sleep(0.05)
    return proc


def test_a_second_process_on_a_running_run_is_refused_naming_the_holder(
    tiny: TrainConfig, data: SimpleNamespace, tmp_path: Path
) -> None:
    config = _long(tiny)
    holder = _start_holder(config, tmp_path / "r")
    try:
        in_use = rf"r is in use by another process \(pid {holder.pid}\)"
        with pytest.raises(RunInUseError, match=in_use):
            run(config, tmp_path / "r", data=data)
        assert not (tmp_path / "r" / "summary.json").exists()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    # the kernel released the dead holder's lock: the run can be continued now
    store = RunStore(tmp_path / "r")
    with store.locked():
        assert (tmp_path / "r" / ".lock").read_text() == str(os.getpid())


def test_the_cli_reports_a_run_in_use_as_an_error(
    tiny: TrainConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from nrc.cli import main

    config = _long(dataclasses.replace(tiny, dataset="reacher", train_size=64, test_size=16))
    holder = _start_holder(config, tmp_path / "r")
    try:
        path = tmp_path / "c.json"
        path.write_text(json.dumps(dataclasses.asdict(config)))
        assert main(["train", str(path), "--out", str(tmp_path / "r"), "--no-progress"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("nrc: error: run directory") and f"pid {holder.pid}" in err
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()


@pytest.mark.parametrize("damage", ["truncated table", "summary says running", "no paper column"])
def test_a_finished_run_whose_files_disagree_is_reported_never_reused(
    tiny: TrainConfig, data: SimpleNamespace, tmp_path: Path, damage: str
) -> None:
    run_dir = run(tiny, tmp_path / "r", data=data)
    table = pd.read_parquet(run_dir / METRICS)
    if damage == "truncated table":  # the reported case: 16 of 21 rows, summary "complete"
        write_table(run_dir / METRICS, table.iloc[:-2].to_dict("records"))
    elif damage == "summary says running":
        summary = json.loads((run_dir / "summary.json").read_text())
        (run_dir / "summary.json").write_text(json.dumps(summary | {"status": "running"}))
    else:
        write_table(run_dir / METRICS, table.drop(columns=["nrc3_paper"]).to_dict("records"))
    with pytest.raises(ValueError, match="inconsistent"):
        is_complete(run_dir)
    with pytest.raises(ValueError, match="inconsistent"):
        run(tiny, run_dir, data=data)
    result = sweep(tiny, {"seed": [0]}, tmp_path / "s", data=data)
    assert result.status.status.tolist() == ["complete"]
    (tmp_path / "s" / "seed=0" / "summary.json").write_text('{"status": "complete"}')
    write_table(tmp_path / "s" / "seed=0" / METRICS, table.iloc[:2].to_dict("records"))
    again = sweep(tiny, {"seed": [0]}, tmp_path / "s", data=data)
    assert again.status.status.tolist() == ["failed"]
    assert "inconsistent" in again.status.error.iloc[0] and again.table.empty


def test_summaries_from_before_the_row_count_are_checked_against_the_config(
    tiny: TrainConfig, data: SimpleNamespace, tmp_path: Path
) -> None:
    run_dir = run(tiny, tmp_path / "r", data=data)
    summary = json.loads((run_dir / "summary.json").read_text())
    old = {k: v for k, v in summary.items() if k not in ("rows", "last_epoch")}
    (run_dir / "summary.json").write_text(json.dumps(old))
    assert is_complete(run_dir)


@pytest.mark.parametrize("name", ["x/../../../e", "../e", "..", "a\\b", ""])
def test_unsafe_names_cannot_name_a_run_directory(name: str) -> None:
    with pytest.raises(ValueError, match="cannot name a run directory"):
        safe_component(name, "dataset")


def test_grid_and_config_values_cannot_escape_the_output_folder(
    tiny: TrainConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nrc.cli import main

    with pytest.raises(ValueError, match="cannot name a run directory"):
        expand(tiny, {"dataset": ["../../e"]})
    monkeypatch.chdir(tmp_path)
    (tmp_path / "inner").mkdir()
    config = tmp_path / "inner" / "c.json"
    config.write_text(json.dumps(dataclasses.asdict(tiny) | {"dataset": "x/../../../e"}))
    assert main(["train", str(config), "--no-progress"]) == 2
    sweep_args = ["sweep", str(config), "--grid", "dataset=../../../e", "--out", "inner/s"]
    assert main(sweep_args) == 2
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["c.json", "inner"]
    assert not list(tmp_path.parent.glob("e-*"))  # where runs/c-x/../../../e-<hash> would land


def test_a_failed_start_leaves_no_run_directory(
    tiny: TrainConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from nrc.cli import main

    bad = make_data()
    bad.y_train[0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        run(tiny, tmp_path / "nan", data=bad)
    assert not (tmp_path / "nan").exists()
    out, path = tmp_path / "cli", tmp_path / "c.json"
    path.write_text(json.dumps(dataclasses.asdict(tiny) | {"dataset": "no-such-set"}))
    assert main(["train", str(path), "--out", str(out), "--no-progress"]) == 2
    assert not out.exists() and "no-such-set" in capsys.readouterr().err
    # the corrected command then starts a fresh run
    good = dataclasses.replace(tiny, epochs=20)
    assert is_complete(run(good, tmp_path / "nan", data=make_data()))


def test_a_read_only_output_folder_is_an_error_not_a_traceback(
    tiny: TrainConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from nrc.cli import main

    if os.geteuid() == 0:  # root ignores file modes; /sys refuses new entries even to root
        out = Path("/sys/nrc-test-run")
    else:
        (tmp_path / "ro").mkdir(mode=0o555)
        out = tmp_path / "ro" / "run"
    path = tmp_path / "c.json"
    path.write_text(json.dumps(dataclasses.asdict(tiny) | {"dataset": "reacher"}))
    assert main(["train", str(path), "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"nrc: error: {out}") and "Traceback" not in err


def test_a_binary_config_file_is_an_error_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from nrc.cli import main

    path = tmp_path / "c.json"
    path.write_bytes(bytes(range(256)))
    assert main(["train", str(path), "--no-progress"]) == 2
    assert f"config file {path} is not valid JSON text" in capsys.readouterr().err


def test_the_lock_file_is_the_only_trace_of_a_lock(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "r")
    with store.locked():
        with pytest.raises(RunInUseError):  # flock is per open file: a second open is refused
            with RunStore(tmp_path / "r").locked():
                pass
    assert (tmp_path / "r" / ".lock").read_text() == ""


def test_a_run_finished_by_an_older_nrc_gets_its_artifacts_written_on_reuse(
    tiny: TrainConfig, data: SimpleNamespace, tmp_path: Path
) -> None:
    """Run directories written before data.json, targets.npz and residuals.npz existed stay
    usable: reusing them writes the artifacts, equal to those of a new run."""
    import numpy as np

    run_dir = run(tiny, tmp_path / "r", data=data)
    names = ("data.json", "targets.npz", "residuals.npz")
    before = {n: (run_dir / n).read_bytes() for n in names if n.endswith(".json")}
    arrays = {n: dict(np.load(run_dir / n)) for n in names if n.endswith(".npz")}
    table = (run_dir / METRICS).read_bytes()
    for n in names:
        (run_dir / n).unlink()
    run(tiny, run_dir, data=data)
    assert (run_dir / METRICS).read_bytes() == table  # not retrained
    assert {n: (run_dir / n).read_bytes() for n in before} == before
    for n, stored in arrays.items():
        again = np.load(run_dir / n)
        assert set(again.files) == set(stored)
        for key, value in stored.items():
            np.testing.assert_array_equal(again[key], value)


@pytest.mark.parametrize("name", ["metrics.parquet", "config.json", "summary.json"])
def test_a_damaged_run_file_is_an_error_naming_it(
    tiny: TrainConfig, data: SimpleNamespace, tmp_path: Path, name: str
) -> None:
    run_dir = run(tiny, tmp_path / "r", data=data)
    (run_dir / name).write_bytes(b"\x00\xff garbage")
    with pytest.raises(ValueError, match=rf"{name}: corrupt"):
        run(tiny, run_dir, data=data)
