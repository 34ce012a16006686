"""The Ray launcher against the process pool: the same sweep of short runs on both, and the
start-up of a local Ray instance (docs/distributed.md).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_launchers.py [--runs 4] [--jobs 2]
        [--epochs 1500] [--rounds 2]

Each run is bench_train's: the Table 2 MLP (3×256) on data shaped like Reacher (1,000 × 11
inputs, n = 2, batch 256, 4 steps per epoch), evaluated every 100 epochs. Both launchers train
the same `--runs` points with `--jobs` at a time, in fresh folders, in alternating order per
round. The wall time of `run_points` is measured (for Ray it includes starting and stopping the
local instance), with the training seconds the runs report (`summary.json`). The overhead is
Ray's wall time over the pool's, and each launcher's time outside training: its wall time
less the runs' training seconds divided by `--jobs` (start-up, imports, data, scheduling,
gathering). The local instance's start-up (`ray.init`), its first task (a worker process
importing nrc) and its shutdown are timed on their own first.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import tempfile
import time
from pathlib import Path

from bench_train import config, make_data  # the Reacher-shaped data and Table 2 run

from nrc.train import ProcessPool, TrainConfig, run_points
from nrc.train.ray_launch import RayLauncher


def points(runs: int, epochs: int) -> list[tuple[str, TrainConfig]]:
    """`runs` seeds of bench_train's Table 2 MLP run for `epochs` epochs."""
    return [(f"seed={s}", dataclasses.replace(config(epochs), seed=s)) for s in range(runs)]


def local_startup(jobs: int) -> dict[str, float]:
    """Seconds of `ray.init` (a local instance of `jobs` CPUs), of the first task (a worker
    that imports nrc) and of `ray.shutdown`."""
    import ray

    start = time.perf_counter()
    ray.init(address="local", num_cpus=jobs, include_dashboard=False)
    started = time.perf_counter()
    ray.get(ray.remote(_import_nrc).remote())
    first = time.perf_counter()
    ray.shutdown()
    return {
        "init": started - start,
        "first task": first - started,
        "shutdown": time.perf_counter() - first,
    }


def _import_nrc() -> int:
    """A task that loads what a run's task loads."""
    import nrc.train.ray_launch  # noqa: F401

    return os.getpid()


def timed_sweep(launcher: object, todo: list[tuple[str, TrainConfig]]) -> tuple[float, float]:
    """(wall seconds of the sweep, sum of its runs' training seconds), in a fresh folder."""
    with tempfile.TemporaryDirectory() as root:
        start = time.perf_counter()
        result = run_points(todo, root, launcher=launcher, progress=False)
        wall = time.perf_counter() - start
        assert (result.status["status"] == "complete").all(), result.status
        train = sum(
            json.loads((Path(root) / name / "summary.json").read_text())["train_seconds"]
            for name, _ in todo
        )
    return wall, train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=1500)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    data, todo = make_data(), points(args.runs, args.epochs)
    startup = local_startup(args.jobs)
    print("local Ray instance: " + ", ".join(f"{k} {v:.1f} s" for k, v in startup.items()))
    launchers = {
        "process": lambda: ProcessPool(args.jobs, data),
        "ray": lambda: RayLauncher(num_cpus=args.jobs, data=data),
    }
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in launchers}
    for round_ in range(args.rounds):
        order = list(launchers) if round_ % 2 == 0 else list(reversed(launchers))
        for name in order:
            times[name].append(timed_sweep(launchers[name](), todo))
    print(
        f"{args.runs} runs of {args.epochs} epochs, {args.jobs} at a time, {args.rounds} round(s)"
    )
    print("| launcher | wall s (rounds) | training s per run | outside training s | wall ratio |")
    print("|---|---|---|---|---|")
    base = sum(w for w, _ in times["process"])
    for name, rounds in times.items():
        walls = ", ".join(f"{w:.1f}" for w, _ in rounds)
        per_run = sum(t for _, t in rounds) / (len(rounds) * args.runs)
        outside = sum(w - t / args.jobs for w, t in rounds) / len(rounds)
        ratio = sum(w for w, _ in rounds) / base
        print(f"| {name} | {walls} | {per_run:.1f} | {outside:.1f} | {ratio:.3f} |")


if __name__ == "__main__":
    main()
