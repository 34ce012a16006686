"""Feature capture on a real module, and summing statistics across torch.distributed ranks."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from nrc.metrics import CollapseStats, FeatureCapture, compute
from tests.metrics.conftest import make_case


def test_capture_records_head_inputs_and_outputs() -> None:
    torch.manual_seed(0)
    body = nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh())
    head = nn.Linear(16, 2)
    model = nn.Sequential(body, head).double()
    x = torch.randn(300, 5, dtype=torch.float64)
    y = torch.randn(300, 2, dtype=torch.float64) + x[:, :2]
    stats = CollapseStats()
    with FeatureCapture(head, stats) as capture, torch.no_grad():
        for xb, yb in zip(x.split(64), y.split(64), strict=True):
            capture.targets = yb
            model(xb)
    with torch.no_grad():
        expected = compute(body(x), head.weight, y, head.bias)
    got = stats.compute(head.weight.detach(), head.bias.detach())
    assert got.residual_source == "predictions"
    for key in ("nrc1", "nrc2", "nrc3", "mse", "r2"):
        assert getattr(got, key) == pytest.approx(getattr(expected, key), rel=1e-10)
    with FeatureCapture(head, CollapseStats()), pytest.raises(RuntimeError, match="targets"):
        model(x[:4])
    model(x[:4])  # the hook is removed on exit


def _worker(rank: int, world: int, init_file: str, queue) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    h, w, b, y = make_case(9, 3, 10, 400)
    shard = slice(rank * 150, 400 if rank == world - 1 else (rank + 1) * 150)
    stats = CollapseStats().update(h[shard], y[shard])
    report = stats.all_reduce().compute(w, b)
    queue.put((rank, report.nrc1, report.nrc2, report.nrc3, report.mse))
    dist.destroy_process_group()


def test_all_reduce_over_two_ranks_equals_full_data(tmp_path) -> None:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    init_file = str(tmp_path / "rendezvous")
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    mp.start_processes(
        _worker, args=(2, init_file, queue), nprocs=2, join=True, start_method="spawn"
    )
    results = sorted(queue.get() for _ in range(2))
    h, w, b, y = make_case(9, 3, 10, 400)
    full = compute(h, w, y, b)
    for _, *values in results:
        np.testing.assert_allclose(values, [full.nrc1, full.nrc2, full.nrc3, full.mse], rtol=1e-10)


def test_all_reduce_without_process_group_is_an_error() -> None:
    h, _, _, y = make_case(0, 2, 8, 20)
    with pytest.raises(RuntimeError, match="no initialised process group"):
        CollapseStats().update(h, y).all_reduce()
