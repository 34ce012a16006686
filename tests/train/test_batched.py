"""Batched training: each member of a stack is the run it would be alone (its table, checkpoint,
files), a killed stack resumes to the identical tables, group constraints name the key."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from nrc.train import RunSpec, TrainConfig, batched, build_model, is_complete, load_run, run, sweep
from nrc.train import store as store_module
from nrc.train.batched import Member, Stack, check_group, train_stack
from nrc.train.launch import Batched
from nrc.train.loop import epoch_batches
from nrc.train.store import RunStore
from tests.train.conftest import make_data

ROOT = Path(__file__).parents[2]
# float32: the stack's batched products round differently from nn.Linear's; over 200 epochs
# the worst relative difference measured was 6e-5 (NRC3), with an absolute floor for values
# near float32's rounding level.
F32_RTOL, F32_ATOL = 5e-4, 1e-6
# float64: 1e-9 relative; EVR/NRC1 tails of ~1e-8 (of a unit total) differ at 1e-17 absolute.
F64_RTOL, F64_ATOL = 1e-9, 1e-15


def _members(base: TrainConfig, values: list[dict]) -> list[TrainConfig]:
    return [dataclasses.replace(base, **v) for v in values]


def _specs(configs: list[TrainConfig], root: Path) -> list[RunSpec]:
    return [RunSpec(f"m{i}", c, root / f"m{i}") for i, c in enumerate(configs)]


def assert_same_table(mine: pd.DataFrame, ref: pd.DataFrame, rtol: float, atol: float) -> None:
    """Same columns and non-float values; floats equal to `rtol` relative (or `atol`)."""
    assert list(mine.columns) == list(ref.columns)
    for col in ref.columns:
        if ref[col].dtype.kind == "f":
            np.testing.assert_allclose(
                mine[col].to_numpy(), ref[col].to_numpy(), rtol=rtol, atol=atol, err_msg=col
            )
        else:
            pd.testing.assert_series_equal(mine[col], ref[col])


def _check_against_separate(
    configs: list[TrainConfig], data: SimpleNamespace, root: Path, rtol: float, atol: float
) -> None:
    status = train_stack(_specs(configs, root / "stack"), data=data)
    assert all(s == {"status": "complete", "error": None} for s in status.values()), status
    for i, config in enumerate(configs):
        member = root / "stack" / f"m{i}"
        alone = run(config, root / f"alone{i}", data=data)
        assert is_complete(member) and RunStore(member).has_artifacts()
        assert_same_table(load_run(member)[1], load_run(alone)[1], rtol, atol)
        for name in ("residuals.npz", "wwt.npz", "targets.npz"):
            mine, ref = RunStore(member).read_arrays(name), RunStore(alone).read_arrays(name)
            for key in ref:
                np.testing.assert_allclose(mine[key], ref[key], rtol=rtol, atol=atol)


@pytest.fixture
def tiny64(tiny: TrainConfig) -> TrainConfig:
    return dataclasses.replace(tiny, dtype="float64", epochs=200, eval_every=10)


@pytest.mark.parametrize("chunk", [4, 3], ids=["one-chunk", "chunks-of-3-and-1"])
def test_each_member_of_a_float64_stack_matches_its_separate_run(
    tiny64: TrainConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    torch.set_num_threads(1)
    monkeypatch.setattr(batched, "CPU_CHUNK", chunk)
    configs = _members(
        tiny64,
        [
            {"weight_decay": 1e-2, "lr": 0.1, "seed": 0},
            {"weight_decay": 0.0, "lr": 0.05, "seed": 1},
            {"weight_decay": 3e-2, "lr": 0.2, "seed": 2},
            {"weight_decay": 5e-3, "lr": 0.1, "seed": 3},
        ],
    )
    data = make_data(m=100)  # 100 rows, batch 32: the last batch of every epoch has 4 rows
    _check_against_separate(configs, data, tmp_path, F64_RTOL, F64_ATOL)


@pytest.mark.parametrize(
    "values",
    [
        [
            {"regularization": "ufm", "weight_decay": 0.0, "lambda_h": 1e-2, "lambda_w": 1e-2},
            {"regularization": "ufm", "weight_decay": 0.0, "lambda_h": 1e-3, "lambda_w": 5e-2,
             "seed": 1},
        ],
        [
            {"momentum": 0.9, "lr": 0.02, "milestones": (30, 60), "lr_gamma": 0.3},
            {"momentum": 0.5, "lr": 0.05, "seed": 1},
            {"momentum": 0.0, "lr": 0.1, "seed": 2, "milestones": (50,)},
        ],
    ],
    ids=["ufm", "momentum-milestones"],
)  # fmt: skip
def test_ufm_penalties_momentum_and_schedules_are_per_member(
    tiny64: TrainConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, values: list[dict]
) -> None:
    torch.set_num_threads(1)
    monkeypatch.setattr(batched, "CPU_CHUNK", 2)  # chunks of 2 and 1 for three members
    configs = _members(dataclasses.replace(tiny64, epochs=100), values)
    _check_against_separate(configs, make_data(m=100), tmp_path, F64_RTOL, F64_ATOL)


def test_a_float32_stack_matches_separate_runs_within_the_stated_tolerance(
    tiny: TrainConfig, tmp_path: Path
) -> None:
    torch.set_num_threads(1)
    base = dataclasses.replace(tiny, epochs=200, eval_every=10)
    configs = _members(base, [{"weight_decay": 1e-2}, {"weight_decay": 0.0, "seed": 1, "lr": 0.05}])
    _check_against_separate(configs, make_data(m=100), tmp_path, F32_RTOL, F32_ATOL)


def test_a_member_draws_the_permutations_of_its_separate_run(tiny: TrainConfig) -> None:
    data = make_data()
    config = dataclasses.replace(tiny, seed=7)
    model = build_model(config, (data.x_train.shape[1],), 2)
    member = Member("m", RunStore("unused"), config, model, data)  # type: ignore[arg-type]
    alone = torch.Generator().manual_seed(7)
    for _ in range(3):
        expected = torch.cat([xb for xb, _ in epoch_batches(data.x_train, data.y_train, 32, alone)])
        perm = torch.randperm(data.x_train.shape[0], generator=member.generator)
        torch.testing.assert_close(data.x_train[perm], expected, rtol=0, atol=0)


@pytest.mark.parametrize("chunk", [0, -1, 1.5])
def test_a_chunk_that_is_not_a_positive_integer_is_refused(tiny: TrainConfig, chunk) -> None:
    data = make_data()
    model = build_model(tiny, (data.x_train.shape[1],), 2)
    member = Member("m", RunStore("unused"), tiny, model, data)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="chunk must be a positive integer"):
        Stack([member], data.x_train, data.y_train, chunk=chunk)


def test_a_member_checkpoint_is_its_single_run_checkpoint(
    tiny64: TrainConfig, data: SimpleNamespace, tmp_path: Path
) -> None:
    configs = _members(
        dataclasses.replace(tiny64, epochs=40, momentum=0.9, lr=0.02),
        [{"seed": 0}, {"seed": 1, "weight_decay": 0.0}],
    )
    train_stack(_specs(configs, tmp_path / "stack"), data=data)
    for i, config in enumerate(configs):
        mine = RunStore(tmp_path / "stack" / f"m{i}").read_checkpoint()
        ref = RunStore(run(config, tmp_path / f"alone{i}", data=data)).read_checkpoint()
        assert mine is not None and ref is not None
        assert set(mine) == set(ref)
        assert (mine["epoch"], mine["step"]) == (ref["epoch"], ref["step"])
        assert torch.equal(mine["data_rng"], ref["data_rng"])
        assert torch.equal(mine["torch_rng"], ref["torch_rng"])
        assert mine["optimizer"]["param_groups"] == ref["optimizer"]["param_groups"]
        for key, value in ref["model"].items():
            assert mine["model"][key].shape == value.shape  # its own weights, not the stack's
            torch.testing.assert_close(mine["model"][key], value, rtol=1e-9, atol=1e-12)
        for key, value in ref["optimizer"]["state"].items():
            torch.testing.assert_close(
                mine["optimizer"]["state"][key]["momentum_buffer"],
                value["momentum_buffer"],
                rtol=1e-9,
                atol=1e-12,
            )


SCRIPT = """
import sys, torch
from pathlib import Path
from nrc.train import RunSpec, TrainConfig
from nrc.train.batched import train_stack
from tests.train.conftest import make_data
torch.set_num_threads(1)
configs = [TrainConfig(**c) for c in {configs}]
root = Path(sys.argv[1])
train_stack([RunSpec(f"m{{i}}", c, root / f"m{{i}}") for i, c in enumerate(configs)],
            data=make_data())
"""


def test_kill_9_of_a_stack_and_resume_gives_the_identical_tables(
    tiny: TrainConfig, data: SimpleNamespace, tmp_path: Path
) -> None:
    torch.set_num_threads(1)
    base = dataclasses.replace(tiny, epochs=600, eval_every=20, checkpoint_every=40)
    configs = _members(base, [{"seed": 0}, {"seed": 1, "weight_decay": 0.0}, {"lr": 0.05}])
    reference = tmp_path / "ref"
    train_stack(_specs(configs, reference), data=data)
    killed = tmp_path / "killed"
    code = SCRIPT.format(configs=[dataclasses.asdict(c) for c in configs])
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-c", code, str(killed)], env=env, cwd=ROOT)
    deadline = time.monotonic() + 60
    last = killed / "m2"
    while not (last / "checkpoint.pt").is_file() or len(load_run(last)[1]) < 3:
        assert proc.poll() is None and time.monotonic() < deadline, "stack ended early"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not any(is_complete(killed / f"m{i}") for i in range(3)), "nothing was tested"
    status = train_stack(_specs(configs, killed), data=data)
    assert {s["status"] for s in status.values()} == {"complete"}
    for i in range(3):
        pd.testing.assert_frame_equal(
            load_run(killed / f"m{i}")[1], load_run(reference / f"m{i}")[1]
        )


def test_members_left_at_different_epochs_catch_up_and_match(
    tiny: TrainConfig, data: SimpleNamespace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A kill between two members' checkpoint writes leaves them one interval apart: the
    laggard trains alone up to the leader's epoch, then both continue as one stack."""
    base = dataclasses.replace(tiny, epochs=120, eval_every=10, checkpoint_every=20)
    configs = _members(base, [{"seed": 0}, {"seed": 1, "lr": 0.05}])
    reference = tmp_path / "ref"
    train_stack(_specs(configs, reference), data=data)
    writes = {"n": 0}
    original = store_module.atomic_write

    def crashing(path: Path, write) -> None:  # type: ignore[no-untyped-def]
        if path.name == "checkpoint.pt":
            writes["n"] += 1
            if writes["n"] == 6:  # epochs 0, 20 of both and 40 of member 0 are written
                raise KeyboardInterrupt("simulated kill")
        original(path, write)

    monkeypatch.setattr(store_module, "atomic_write", crashing)
    with pytest.raises(KeyboardInterrupt):
        train_stack(_specs(configs, tmp_path / "crashed"), data=data)
    monkeypatch.setattr(store_module, "atomic_write", original)
    epochs = [RunStore(tmp_path / "crashed" / f"m{i}").read_checkpoint()["epoch"] for i in (0, 1)]
    assert epochs == [40, 20]
    train_stack(_specs(configs, tmp_path / "crashed"), data=data)
    for i in range(2):
        pd.testing.assert_frame_equal(
            load_run(tmp_path / "crashed" / f"m{i}")[1], load_run(reference / f"m{i}")[1]
        )


def test_finished_members_are_reused_and_a_diverging_member_fails_alone(
    tiny: TrainConfig, data: SimpleNamespace, tmp_path: Path
) -> None:
    configs = _members(tiny, [{"seed": 0}, {"lr": 1e6}, {"seed": 2}])
    status = train_stack(_specs(configs, tmp_path), data=data)
    assert [s["status"] for s in status.values()] == ["complete", "failed", "complete"]
    assert "diverged" in status["m1"]["error"]
    assert_same_table(
        load_run(tmp_path / "m2")[1], load_run(run(configs[2], tmp_path / "alone", data=data))[1],
        F32_RTOL, F32_ATOL,
    )  # fmt: skip
    before = (tmp_path / "m0" / "metrics.parquet").stat().st_mtime_ns
    specs = _specs(configs, tmp_path)
    again = train_stack([specs[0], specs[2]], data=data)
    assert {s["status"] for s in again.values()} == {"complete"}
    assert (tmp_path / "m0" / "metrics.parquet").stat().st_mtime_ns == before


def test_a_held_member_fails_and_the_others_train(
    tiny: TrainConfig, data: SimpleNamespace, tmp_path: Path
) -> None:
    configs = _members(tiny, [{"seed": 0}, {"seed": 1}])
    with RunStore(tmp_path / "m1").locked():
        status = train_stack(_specs(configs, tmp_path), data=data)
    assert status["m0"]["status"] == "complete"
    assert status["m1"]["status"] == "failed" and "in use" in status["m1"]["error"]


@pytest.mark.parametrize(
    ("change", "key"),
    [({"batch_size": 16}, "batch_size"), ({"epochs": 80}, "epochs"), ({"width": 8}, "width"),
     ({"dtype": "float64"}, "dtype"),
     ({"regularization": "ufm", "weight_decay": 0.0}, "regularization")],
)  # fmt: skip
def test_group_constraints_name_the_differing_key(
    tiny: TrainConfig, change: dict, key: str
) -> None:
    with pytest.raises(ValueError, match=f"share config key '{key}'.*'a'.*'b'"):
        check_group([("a", tiny), ("b", dataclasses.replace(tiny, **change))])


def test_unstackable_configs_are_refused_by_name(tiny: TrainConfig) -> None:
    with pytest.raises(ValueError, match="run 'b': config key 'layers'"):
        check_group([("a", tiny), ("b", dataclasses.replace(tiny, layers="all"))])


def test_a_batched_sweep_gives_the_tables_of_a_plain_sweep(
    tiny64: TrainConfig, data: SimpleNamespace, tmp_path: Path
) -> None:
    grid = {"weight_decay": [0.0, 1e-2], "seed": [0, 1]}
    config = dataclasses.replace(tiny64, epochs=40)
    plain = sweep(config, grid, tmp_path / "plain", data=data, batched=False)
    stacked = sweep(config, grid, tmp_path / "stacked", data=data, batched=True)
    assert stacked.status["status"].eq("complete").all()
    assert_same_table(
        stacked.table.sort_values(["run", "epoch"]).reset_index(drop=True),
        plain.table.sort_values(["run", "epoch"]).reset_index(drop=True),
        F64_RTOL, F64_ATOL,
    )  # fmt: skip


def test_the_batched_launcher_trains_groups_and_singles(
    tiny: TrainConfig, data: SimpleNamespace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stacks: list[list[str]] = []
    import nrc.train.launch as launch

    original = launch.train_stack
    monkeypatch.setattr(
        launch, "train_stack", lambda specs, *a: stacks.append([s.name for s in specs])
        or original(specs, *a),
    )  # fmt: skip
    configs = [
        dataclasses.replace(tiny, seed=0),
        dataclasses.replace(tiny, seed=1),
        dataclasses.replace(tiny, width=8),  # another architecture: alone, a single run
    ]
    done: dict[str, str] = {}
    Batched(data).launch(
        _specs(configs, tmp_path), lambda spec, status: done.update({spec.name: status["status"]})
    )
    assert done == {"m0": "complete", "m1": "complete", "m2": "complete"}
    assert stacks == [["m0", "m1"]]
