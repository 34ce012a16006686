"""One run over several processes (torchrun, DDP): which rank this process is, its share of the
rows, and the few collectives the loop and the measurement need (docs/distributed.md).

Under `torchrun --nproc_per_node=N -m nrc train CONFIG` every rank draws the same permutation
each epoch and trains on its contiguous share of every global batch of `batch_size` rows; the
gradients are averaged by DistributedDataParallel after each rank's loss is weighted by its share
of the batch, so the step is that of one process on the whole batch. Each rank measures its share
of the training set and the moments are summed over the ranks; rank 0 alone writes the run.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


@dataclass(frozen=True)
class Ranks:
    """This process's place in a run: `rank` of `world` processes."""

    rank: int = 0
    world: int = 1

    @property
    def main(self) -> bool:
        """Whether this rank writes the run directory (rank 0)."""
        return self.rank == 0

    def share(self, rows: torch.Tensor) -> torch.Tensor:
        """This rank's contiguous share of `rows` (the whole tensor in a single process)."""
        if self.world == 1:
            return rows
        return torch.tensor_split(rows, self.world)[self.rank]

    def sum(self, value: float) -> float:
        """`value` summed over the ranks."""
        if self.world == 1:
            return value
        total = torch.tensor([value], dtype=torch.float64)
        torch.distributed.all_reduce(total)
        return float(total[0])

    def gather_rows(self, rows: torch.Tensor) -> torch.Tensor:
        """Every rank's `rows` concatenated in rank order (the whole set again)."""
        if self.world == 1:
            return rows
        parts: list[Any] = [None] * self.world
        torch.distributed.all_gather_object(parts, rows.cpu())
        return torch.cat(parts).to(rows.device)

    def decide(self, value: Any) -> Any:
        """Rank 0's `value` on every rank."""
        if self.world == 1:
            return value
        box = [value]
        torch.distributed.broadcast_object_list(box, src=0)
        return box[0]


SINGLE = Ranks()


def die_with_parent(parent: int) -> None:
    """SIGKILL this process when `parent` dies (Linux `PR_SET_PDEATHSIG`); exit at once if it
    already has. Workers of a pool and ranks of torchrun never outlive what started them."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            log.warning("prctl(PR_SET_PDEATHSIG) failed: errno %d", ctypes.get_errno())
    if os.getppid() != parent:
        os._exit(1)


def ranks_from_environment() -> Ranks:
    """The ranks torchrun describes (WORLD_SIZE, RANK), with the process group initialised
    (gloo on CPU, nccl on CUDA) and each rank tied to its torchrun agent; a single process
    without them."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return SINGLE
    import torch.distributed as dist

    if not dist.is_initialized():
        die_with_parent(os.getppid())
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return Ranks(dist.get_rank(), dist.get_world_size())


def close_process_group() -> None:
    """End the process group `ranks_from_environment` started (each rank, before it exits:
    gloo aborts the interpreter when its threads outlive it)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


class FeaturesAndPredictions(nn.Module):
    """A regression model's forward as (h, W h + b), so that DDP sees the features the UFM
    penalty needs (paper eq. 1) pass through its forward."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.model.features(x)  # type: ignore[operator]
        return h, self.model.head(h)  # type: ignore[operator]
