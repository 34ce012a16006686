"""RegressionCollapse: equal to nrc.metrics.compute on the concatenated data, in one process and
summed over two gloo processes by torchmetrics' own sync; usable in a MetricCollection."""

from __future__ import annotations

import os

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torchmetrics import MetricCollection

from nrc.integrations.torchmetrics import RegressionCollapse
from nrc.metrics import compute

KEYS = ("nrc1", "nrc2", "nrc3", "gamma", "gamma_ratio", "evr_1", "r2", "mse", "lambda_min")


def case(m: int = 300, d: int = 8, n: int = 3) -> tuple[nn.Linear, torch.Tensor, torch.Tensor]:
    """A head and features with a large mean (so the shifted sums matter) and their targets."""
    g = torch.Generator().manual_seed(1)
    torch.manual_seed(1)  # the same head in every process
    head = nn.Linear(d, n)
    h = 50.0 + torch.randn(m, d, generator=g) @ torch.randn(d, d, generator=g)
    y = head(h).detach() + 0.1 * torch.randn(m, n, generator=g)
    return head, h, y


def reference(head: nn.Linear, h: torch.Tensor, y: torch.Tensor, preds: bool) -> dict:
    w, b = head.weight.detach(), head.bias.detach()
    p = head(h).detach() if preds else None
    return compute(h, w, y, b, predictions=p).to_dict()


@pytest.mark.parametrize("preds", [True, False])
def test_metric_equals_compute_on_the_concatenated_data(preds: bool) -> None:
    head, h, y = case()
    metric = RegressionCollapse(head)
    for hb, yb in zip(h.split(70), y.split(70), strict=True):
        metric.update(hb, yb, head(hb).detach() if preds else None)
    got, want = metric.compute(), reference(head, h, y, preds)
    assert got["nrc1"].dtype == torch.float64
    for key in KEYS:
        assert float(got[key]) == pytest.approx(want[key], rel=1e-9, abs=1e-14), key
    assert set(got) == {k for k, v in want.items() if isinstance(v, int | float)} - {"epoch"}
    metric.reset()
    assert int(metric.count) == 0


def test_forward_and_metric_collection_accumulate_like_update() -> None:
    head, h, y = case()
    metric, collection = RegressionCollapse(head), MetricCollection([RegressionCollapse(head)])
    for hb, yb in zip(h.split(100), y.split(100), strict=True):
        batch = metric(hb, yb)  # forward: the batch's value, and accumulates
        collection.update(hb, yb)
    assert float(batch["nrc1"]) == pytest.approx(reference(head, h[200:], y[200:], False)["nrc1"])
    want = reference(head, h, y, False)
    assert float(metric.compute()["nrc2"]) == pytest.approx(want["nrc2"], rel=1e-9)
    assert float(collection.compute()["nrc2"]) == pytest.approx(want["nrc2"], rel=1e-9)


def test_the_metric_does_not_own_the_head() -> None:
    head, _, _ = case()
    metric = RegressionCollapse(head)
    assert metric.head is head
    assert list(metric.parameters()) == [] and metric.state_dict() == {}


def test_bad_input_names_what_was_expected() -> None:
    head, h, y = case()
    with pytest.raises(TypeError, match=r"head: expected a torch.nn.Linear head.*Conv1d"):
        RegressionCollapse(nn.Conv1d(2, 2, 1))  # type: ignore[arg-type]
    metric = RegressionCollapse(head)
    with pytest.raises(ValueError, match=r"targets: shape \(3, 300\), expected \(300, 3\)"):
        metric.update(h, y.T)
    with pytest.raises(ValueError, match=r"features: shape \(300, 7\), expected \(B, 8\)"):
        metric.update(h[:, :7], y)


def _worker(rank: int, world: int, init_file: str, queue) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    head, h, y = case()
    metric = RegressionCollapse(head)
    shard = slice(0, 110) if rank == 0 else slice(110, 300)  # unequal shards, other shifts
    for hb, yb in zip(h[shard].split(40), y[shard].split(40), strict=True):
        metric.update(hb, yb, head(hb).detach())
    values = {k: float(v) for k, v in metric.compute().items()}
    queue.put((rank, values, int(metric.count)))  # count: back to the local state after compute
    dist.destroy_process_group()


def test_two_gloo_processes_sync_to_the_single_process_values(tmp_path) -> None:
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    head, h, y = case()
    mp.start_processes(
        _worker, args=(2, str(tmp_path / "rdv"), queue), nprocs=2, join=True, start_method="spawn"
    )
    results = sorted(queue.get() for _ in range(2))
    want = reference(head, h, y, True)
    assert [count for *_, count in results] == [110, 190]
    for _, values, _ in results:
        assert values["count"] == 300
        for key in KEYS:
            assert values[key] == pytest.approx(want[key], rel=1e-9, abs=1e-14), key
