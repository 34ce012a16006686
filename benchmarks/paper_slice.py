"""A timed slice of the paper protocol: every Reacher weight decay of Fig. 7 × seeds 0–2 (15 runs,
Table 2's config) for a fraction of Table 2's epochs, batched on the default device, with the
evaluation every 100 epochs and the run directories included; then the full MuJoCo paper grid
(every weight decay of Figs. 5/7 × seeds 0–2 × Reacher, Swimmer, Hopper) extrapolated from the
measured model-steps/s.

    .venv/bin/python benchmarks/paper_slice.py [--fraction 0.01]

The extrapolation assumes the slice's rate for every dataset (Swimmer's and Hopper's stacks
have other K and sizes), so it is an estimate. The authors report about 16 h per Reacher run
on their CPU workers (1.5 M epochs × 4 steps: ≈ 104 steps/s), the baseline of the last ratio.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import torch

from nrc.data import registry
from nrc.train import PAPER_WD_GRIDS, preset
from nrc.train.batched import default_device
from nrc.train.launch import Batched
from nrc.train.sweep import run_points

AUTHORS_STEPS_PER_S = 1_500_000 * 4 / (16 * 3600)
SEEDS = (0, 1, 2)


def steps_per_epoch(dataset: str) -> int:
    """Optimizer steps per epoch of Table 2's batch on `dataset`'s training set."""
    config = preset("paper", dataset)
    size = config.train_size or registry.spec(dataset).train_size or 1
    return -(-size // config.batch_size)


def grid_model_steps() -> int:
    """Model-steps of the full MuJoCo paper grid."""
    total = 0
    for dataset, wds in PAPER_WD_GRIDS.items():
        if dataset in registry.MUJOCO:
            total += (
                len(wds) * len(SEEDS) * preset("paper", dataset).epochs * steps_per_epoch(dataset)
            )
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fraction", type=float, default=0.01, help="of Table 2's epochs")
    args = parser.parse_args()
    base = preset("paper", "reacher")
    eval_every = base.eval_every if base.epochs * args.fraction >= base.eval_every else 10
    epochs = max(eval_every, round(base.epochs * args.fraction / eval_every) * eval_every)
    configs = [
        (f"wd={wd},seed={s}", dataclasses.replace(
            base, weight_decay=wd, seed=s, epochs=epochs, eval_every=eval_every,
            checkpoint_every=max(eval_every, min(base.checkpoint_every, epochs)),
        ))
        for wd in PAPER_WD_GRIDS["reacher"] for s in SEEDS
    ]  # fmt: skip
    device = default_device()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        result = run_points(configs, Path(tmp), launcher=Batched(device=device), progress=False)
        seconds = time.perf_counter() - start
    assert result.status["status"].eq("complete").all(), result.status
    rate = len(configs) * epochs * steps_per_epoch("reacher") / seconds
    grid = grid_model_steps()
    print(f"device {device} ({torch.cuda.get_device_name() if device.type == 'cuda' else 'cpu'})")
    print(f"slice: {len(configs)} Reacher runs × {epochs} epochs (evaluation every {eval_every})"
          f" in {seconds:.1f} s: {rate:.0f} model-steps/s")  # fmt: skip
    print(
        f"full MuJoCo paper grid: {grid:.3g} model-steps ≈ {grid / rate / 3600:.2f} h at that rate"
    )
    print(f"per-run throughput vs the authors' ≈ {AUTHORS_STEPS_PER_S:.0f} steps/s per run: "
          f"{rate / AUTHORS_STEPS_PER_S:.1f}×")  # fmt: skip


if __name__ == "__main__":
    main()
