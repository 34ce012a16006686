"""Batched training on CUDA (skipped without a GPU): the captured epoch graph gives each member
the table of its separate CPU run, in float64, and the stack's step needs no host sync."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from nrc.train import TrainConfig, load_run, run
from nrc.train.batched import train_stack
from tests.train.conftest import make_data
from tests.train.test_batched import F64_ATOL, _members, _specs, assert_same_table

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def test_a_cuda_stack_matches_the_separate_cpu_runs(tiny: TrainConfig, tmp_path: Path) -> None:
    base = dataclasses.replace(tiny, dtype="float64", epochs=200, eval_every=10)
    configs = _members(
        base,
        [{"seed": 0}, {"seed": 1, "weight_decay": 0.0, "lr": 0.05},
         {"seed": 2, "momentum": 0.9, "lr": 0.02, "milestones": (100,)}],
    )  # fmt: skip
    data = make_data(m=100)  # a smaller last batch: its own static shape inside the graph
    status = train_stack(_specs(configs, tmp_path / "gpu"), data=data, device="cuda")
    assert {s["status"] for s in status.values()} == {"complete"}, status
    for i, config in enumerate(configs):
        alone = run(config, tmp_path / f"cpu{i}", data=data)
        # GPU kernels reduce in another order than CPU BLAS: float64 to 1e-7 relative
        assert_same_table(
            load_run(tmp_path / "gpu" / f"m{i}")[1], load_run(alone)[1], 1e-7, F64_ATOL
        )


def test_a_diverging_member_fails_alone_on_cuda(tiny: TrainConfig, tmp_path: Path) -> None:
    configs = _members(tiny, [{"seed": 0}, {"lr": 1e6}])
    status = train_stack(_specs(configs, tmp_path), data=make_data(), device="cuda")
    assert status["m0"]["status"] == "complete"
    assert status["m1"]["status"] == "failed" and "diverged" in status["m1"]["error"]
