"""Batched training throughput: K Table 2 MLPs stacked (`nrc.train.batched`) against K separate
loops, in model-steps per second.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_batched.py [--ks 1,4,16,64] [--epochs 5]

Data shaped like Reacher (1,000 × 11 inputs, n = 2), 3×256 MLP, batch 256 (4 steps per epoch,
the last one of 232 rows), SGD with a different weight decay and seed per model, no evaluation.
CPU rows: one thread, timed in CPU seconds of this process (the 2 cores are shared), alternating
rounds, best kept; "separate" is the trainer's own `Loop` run once per model, one after the
other, which is what each of K separate single-thread processes does per model-step; the stack
is timed in its default chunks of `CPU_CHUNK` models and as one chunk of K (CUDA's form). CUDA rows
(when a GPU is present): wall time after a warm-up epoch (the graph capture), against one eager
`Loop` on the same GPU. Ratio = stacked model-steps/s ÷ separate model-steps/s.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from collections.abc import Callable
from types import SimpleNamespace

import torch

from nrc.train import Loop, RunStore, TrainConfig, build_model
from nrc.train.batched import CPU_CHUNK, Member, Stack
from nrc.train.setup import Tensors, check_tensors

M, D_IN, N_OUT = 1000, 11, 2


def make_data(device: str) -> Tensors:
    """Reacher-shaped synthetic tensors on `device`."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(M + M // 5, D_IN, generator=g)
    y = torch.tanh(x @ torch.randn(D_IN, N_OUT, generator=g)) * 0.1
    data = check_tensors(SimpleNamespace(x_train=x[:M], y_train=y[:M], x_test=x[M:], y_test=y[M:]))
    return Tensors(*(t.to(device) for t in dataclasses.astuple(data)))


def configs(k: int, epochs: int) -> list[TrainConfig]:
    """K Table 2 configs with different weight decays and seeds."""
    base = TrainConfig(dataset="bench", lr=1e-2, epochs=epochs, eval_every=epochs)
    return [dataclasses.replace(base, weight_decay=1e-4 * (i + 1), seed=i) for i in range(k)]


def _clock(device: str) -> Callable[[], float]:
    """CPU seconds of this process on CPU; wall seconds after a device sync on CUDA."""
    if device == "cpu":
        return time.process_time

    def wall() -> float:
        torch.cuda.synchronize()
        return time.perf_counter()

    return wall


def stacked(k: int, epochs: int, data: Tensors, device: str, chunk: int | None = None) -> float:
    """Seconds for `epochs` epochs of a K stack stepped `chunk` models at a time (default: the
    stack's own choice), one warm-up epoch first, not timed."""
    shape = (D_IN,)
    members = [
        Member(f"m{i}", RunStore("unused"), c, build_model(c, shape, N_OUT).to(device), data)
        for i, c in enumerate(configs(k, epochs + 1))
    ]
    stack = Stack(members, data.x_train, data.y_train, chunk=chunk)
    stack.run_epoch(0)
    clock = _clock(device)
    start = clock()
    for epoch in range(1, epochs + 1):
        stack.run_epoch(epoch)
    return clock() - start


def separate(k: int, epochs: int, data: Tensors, device: str) -> float:
    """Seconds for K trainer loops of `epochs` epochs, one after the other."""
    clock, total = _clock(device), 0.0
    for config in configs(k, epochs):
        loop = Loop(config, build_model(config, (D_IN,), N_OUT).to(device), data)
        start = clock()
        loop.run()
        total += clock() - start
    return total


def table(device: str, ks: list[int], epochs: int, repeats: int) -> None:
    """Print one row per K for `device`."""
    data = make_data(device)
    separate(1, 1, data, device)  # warm-up: the first optimizer step imports torch._dynamo
    steps = epochs * -(-M // 256)
    print(f"\n{device}: {steps} steps per model, model-steps/s (ratio = stacked / separate)")
    cpu = device == "cpu"
    head = (
        ["  K", f"stacked (chunks of {CPU_CHUNK})", "one chunk of K"] if cpu else ["  K", "stacked"]
    )
    head += ["separate", "ratio"]
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join("-" * (len(h) + 2) for h in head) + "|")
    one_eager = None
    for k in ks:
        best_stack, best_whole, best_sep = float("inf"), float("inf"), float("inf")
        for _ in range(repeats):
            best_stack = min(best_stack, stacked(k, epochs, data, device))
            if cpu:
                best_whole = min(best_whole, stacked(k, epochs, data, device, chunk=k))
            sep_k = k if cpu else 1  # on CUDA: one eager model is the baseline
            best_sep = min(best_sep, separate(sep_k, epochs, data, device) / sep_k * k)
        rate_stack, rate_sep = k * steps / best_stack, k * steps / best_sep
        one_eager = one_eager or rate_sep / k
        cells = [f"{k}", f"{rate_stack:.0f}"] + ([f"{k * steps / best_whole:.0f}"] if cpu else [])
        cells += [f"{rate_sep:.0f}", f"{rate_stack / rate_sep:.2f}"]
        print("| " + " | ".join(c.rjust(len(h)) for c, h in zip(cells, head, strict=True)) + " |")
    if device == "cuda" and one_eager:
        print(f"(CUDA separate = K × one eager model on this GPU, {one_eager:.0f} steps/s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ks", default="1,4,16,64")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", choices=("all", "cpu", "cuda"), default="all")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    ks = [int(k) for k in args.ks.split(",")]
    print(f"torch {torch.__version__}, {args.threads} thread(s), M = {M}, 3×256 MLP, batch 256")
    if args.device in ("all", "cpu"):
        table("cpu", ks, args.epochs, args.repeats)
    if args.device in ("all", "cuda") and torch.cuda.is_available():
        table("cuda", ks, args.epochs * 20, args.repeats)
    elif args.device == "cuda":
        raise SystemExit("--device cuda: torch sees no CUDA GPU")


if __name__ == "__main__":
    main()
