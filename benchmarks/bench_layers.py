"""Cost of measuring every layer: `measure` with layers="all" against layers="last" on the
Table 2 MLP (3×256, ReLU), one thread, the same process and data. Prints a table with the ratio;
the goal is ≤ 1.5× (docs/benchmarks.md, "Every layer").

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_layers.py [--sizes 1000 10000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from types import SimpleNamespace

import torch

from nrc.train import TrainConfig, build_model
from nrc.train.callbacks import measure
from nrc.train.setup import check_tensors


def best_seconds(call, repeats: int) -> float:  # type: ignore[no-untyped-def]
    """The fastest of `repeats` calls (the least disturbed by other work)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    last = TrainConfig(dataset="bench", activation="relu")
    every = dataclasses.replace(last, layers="all")
    model = build_model(last, (11,), 3)
    print("| M | last layer s | all layers s | all / last |")
    print("|---|---|---|---|")
    for m in args.sizes:
        g = torch.Generator().manual_seed(0)
        data = check_tensors(SimpleNamespace(
            x_train=torch.randn(m, 11, generator=g), y_train=torch.randn(m, 3, generator=g),
            x_test=torch.randn(m // 5, 11, generator=g), y_test=torch.randn(m // 5, 3, generator=g),
        ))  # fmt: skip
        t_last = best_seconds(lambda d=data: measure(model, d, last), args.repeats)
        t_all = best_seconds(lambda d=data: measure(model, d, every), args.repeats)
        print(f"| {m:,} | {t_last:.4f} | {t_all:.4f} | {t_all / t_last:.2f} |")


if __name__ == "__main__":
    main()
