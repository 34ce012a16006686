"""Training throughput: the trainer against a bare loop and an authors'-style loop, and
a weight-decay grid of K models stacked with torch.func against K separate runs.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_train.py [--epochs 100] [--k 8]

Data shaped like Reacher (1,000 × 11 inputs, n = 2), the Table 2 MLP (3×256), batch 256, SGD.
Prints steps/s and the ratio to the bare loop measured in the same run. In-process loops are
timed in CPU seconds of this process (`time.process_time`), in alternating rounds, best round
kept: the machine is shared, and wall time there measures the other jobs more than the loop.
Separate processes are timed in wall seconds and in the CPU seconds of their loops.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import copy
import multiprocessing
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import torch
from torch import nn
from torch.func import functional_call, grad, stack_module_state, vmap
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from nrc.train import CollapseMonitor, Loop, RunStore, RunWriter, TrainConfig, build_model
from nrc.train.setup import check_tensors

M, D_IN, N_OUT, BATCH = 1000, 11, 2, 256
WDS = (0.0, 5e-6, 5e-5, 5e-4, 1.5e-3, 3e-3, 5e-3, 1e-2)


def make_data(seed: int = 0) -> SimpleNamespace:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(M + M // 5, D_IN, generator=g)
    y = torch.tanh(x @ torch.randn(D_IN, N_OUT, generator=g)) * 0.1
    return SimpleNamespace(x_train=x[:M], y_train=y[:M], x_test=x[M:], y_test=y[M:])


def config(epochs: int, wd: float = 1.5e-3) -> TrainConfig:
    return TrainConfig(
        dataset="bench", activation="none", weight_decay=wd, lr=1e-2, batch_size=BATCH,
        epochs=epochs, eval_every=100, checkpoint_every=epochs,
    )  # fmt: skip


def steps_per_epoch() -> int:
    return -(-M // BATCH)


def bare_loop(epochs: int, data: SimpleNamespace, wd: float = 1.5e-3) -> float:
    """(a) forward/backward/step on preloaded tensors, batches indexed from a permutation."""
    model = build_model(config(epochs, wd), (D_IN,), N_OUT)
    opt = torch.optim.SGD(model.parameters(), lr=1e-2, weight_decay=wd)
    g = torch.Generator().manual_seed(0)
    x, y = data.x_train, data.y_train
    start = time.process_time()
    for _ in range(epochs):
        perm = torch.randperm(M, generator=g)
        for i in range(0, M, BATCH):
            idx = perm[i : i + BATCH]
            loss = 0.5 * nn.functional.mse_loss(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return time.process_time() - start


class PerItem(Dataset):
    """The authors' style: a tensor built per item from numpy rows."""

    def __init__(self, data: SimpleNamespace) -> None:
        self.x, self.y = data.x_train.numpy(), data.y_train.numpy()

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.tensor(self.x[i]), torch.tensor(self.y[i])


def authors_loop(epochs: int, data: SimpleNamespace) -> float:
    """(b) a Dataset of per-item tensors, a DataLoader and a tqdm bar per epoch."""
    model = build_model(config(epochs), (D_IN,), N_OUT)
    opt = torch.optim.SGD(model.parameters(), lr=1e-2)
    loader = DataLoader(PerItem(data), batch_size=BATCH, shuffle=True)
    start = time.process_time()
    for _ in range(epochs):
        for xb, yb in tqdm(loader, leave=False, disable=False, file=open("/dev/null", "w")):
            l2 = sum(p.pow(2).sum() for p in model.parameters())
            loss = 0.5 * nn.functional.mse_loss(model(xb), yb) + 0.5 * 1.5e-3 * l2
            opt.zero_grad()
            loss.backward()
            opt.step()
    return time.process_time() - start


def trainer(epochs: int, data: SimpleNamespace, wd: float = 1.5e-3) -> float:
    """(c) nrc.train's loop with its callbacks: the paper's evaluation every 100 epochs (and at
    epoch 0) and the run directory's checkpoints and final files, all included."""
    cfg = config(epochs, wd)
    with tempfile.TemporaryDirectory() as tmp:
        monitor = CollapseMonitor(cfg)
        callbacks = [monitor, RunWriter(RunStore(Path(tmp)), monitor)]
        loop = Loop(cfg, build_model(cfg, (D_IN,), N_OUT), check_tensors(data), callbacks)
        start = time.process_time()
        loop.run()
        return time.process_time() - start


def stacked(epochs: int, data: SimpleNamespace, wds: tuple[float, ...]) -> float:
    """K models with stacked parameters, one vmapped forward/backward per step, plain SGD with a
    per-model weight decay; every model sees the same batches."""
    models = [build_model(config(epochs, wd), (D_IN,), N_OUT) for wd in wds]
    params, buffers = stack_module_state(models)
    base = copy.deepcopy(models[0]).to("meta")
    wd = torch.tensor(wds).view(-1, *([1] * 2))

    def loss(p: dict, b: dict, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        return 0.5 * nn.functional.mse_loss(functional_call(base, (p, b), (xb,)), yb)

    step_grad = vmap(grad(loss), in_dims=(0, 0, None, None))
    g = torch.Generator().manual_seed(0)
    x, y = data.x_train, data.y_train
    start = time.process_time()
    with torch.no_grad():
        for _ in range(epochs):
            perm = torch.randperm(M, generator=g)
            for i in range(0, M, BATCH):
                idx = perm[i : i + BATCH]
                grads = step_grad(params, buffers, x[idx], y[idx])
                for k, p in params.items():
                    decay = wd.view(-1, *([1] * (p.ndim - 1)))
                    p.sub_(1e-2 * (grads[k] + decay * p))
    return time.process_time() - start


def _separate_worker(epochs: int, wd: float) -> float:
    torch.set_num_threads(1)
    data = make_data()
    bare_loop(2, data, wd)  # warm-up (first optimizer step imports torch._dynamo)
    return bare_loop(epochs, data, wd)


def separate_processes(epochs: int, wds: tuple[float, ...], jobs: int) -> tuple[float, float]:
    """K bare loops in `jobs` spawned processes: (wall seconds incl. start-up, their CPU seconds
    in the timed loops only)."""
    ctx = multiprocessing.get_context("spawn")
    start = time.perf_counter()
    with cf.ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
        cpu = sum(pool.map(_separate_worker, [epochs] * len(wds), wds))
    return time.perf_counter() - start, cpu


def best_of(repeats: int, fn: Callable[[], float]) -> float:
    return min(fn() for _ in range(repeats))


def alternating(repeats: int, loops: dict[str, Callable[[], float]]) -> dict[str, float]:
    """Best time of each loop over `repeats` rounds that run every loop once, in turn."""
    best = dict.fromkeys(loops, float("inf"))
    for _ in range(repeats):
        for name, fn in loops.items():
            best[name] = min(best[name], fn())
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=200, help="a multiple of 100")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--k", type=int, default=8)
    parser.add_argument("--grid-epochs", type=int, default=50, help="epochs per model in the grid")
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = make_data()
    bare_loop(2, data)  # warm-up
    steps = args.epochs * steps_per_epoch()
    times = alternating(
        args.repeats,
        {
            "(a) bare loop, preloaded tensors": lambda: bare_loop(args.epochs, data),
            "nrc.train Loop (evaluation every 100 epochs, checkpoints)": lambda: trainer(
                args.epochs, data
            ),
            "(b) authors' style: per-item Dataset, DataLoader, tqdm/epoch": lambda: authors_loop(
                args.epochs, data
            ),
        },
    )
    t_bare = times["(a) bare loop, preloaded tensors"]
    rows = list(times.items())
    print(f"one model, {steps} steps of batch {BATCH}, 1 thread, CPU time; ratio = speed / bare")
    print(f"{'loop':62s} {'steps/s':>9s} {'ratio':>6s}")
    for name, seconds in rows:
        print(f"{name:62s} {steps / seconds:9.0f} {t_bare / seconds:6.2f}")

    wds = WDS[: args.k]
    k, epochs = len(wds), args.grid_epochs
    steps = epochs * steps_per_epoch()
    t_seq = sum(bare_loop(epochs, data, wd) for wd in wds)
    t_stack = best_of(args.repeats, lambda: stacked(epochs, data, wds))
    wall_proc, cpu_proc = separate_processes(epochs, wds, jobs=2)
    print(f"\nweight-decay grid, K = {k} models, {steps} steps each; ratio = speed / sequential")
    print(f"{'method':62s} {'model-steps/CPU-s':>17s} {'ratio':>6s}")
    for name, seconds in (
        ("K separate loops, one after another (1 thread)", t_seq),
        ("K stacked, torch.func vmap (1 thread)", t_stack),
        ("K separate processes, 2 at a time (their loops' CPU time)", cpu_proc),
    ):
        print(f"{name:62s} {k * steps / seconds:17.0f} {t_seq / seconds:6.2f}")
    print(f"K separate processes, 2 at a time: {wall_proc:.1f} s wall including start-up")


if __name__ == "__main__":
    main()
