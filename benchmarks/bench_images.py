"""Images/s of ResNet-18 training at 64x64: the nrc path against a bare loop.

Both train the same freshly seeded network for whole epochs over the same rendered images
(`reacher-fingertip`, n = 2):

- bare: preloaded float32 tensors, in-order slices, forward / MSE / backward / SGD step;
- nrc: `ImageSet` (uint8, from the HDF5 cache) -> `to_tensors` -> the trainer's own per-step code
  (`epoch_batches`, `loss_fn`, `make_optimizer` of `nrc.train.loop`), shuffling included.

Rounds alternate the two so that load from other processes hits both alike; the best epoch of each
is reported with the ratio nrc / bare (target >= 0.9). Single-threaded by default (2 shared cores).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_images.py --images 1024 --rounds 3
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from nrc.data.images.rendered import load_rendered
from nrc.data.images.transforms import to_tensors
from nrc.models.resnet import ResNetRegressor, resnet18
from nrc.train.config import TrainConfig
from nrc.train.loop import epoch_batches, loss_fn, make_optimizer


def bare_epoch(model: ResNetRegressor, x: torch.Tensor, y: torch.Tensor, batch: int) -> float:
    """Seconds for one epoch of the minimal loop over preloaded tensors."""
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9, weight_decay=5e-4)
    start = time.perf_counter()
    for i in range(0, len(x), batch):
        loss = F.mse_loss(model(x[i : i + batch]), y[i : i + batch])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return time.perf_counter() - start


def nrc_epoch(model: ResNetRegressor, x: torch.Tensor, y: torch.Tensor, batch: int) -> float:
    """Seconds for one epoch of the trainer's step code (as in `Loop`)."""
    config = TrainConfig(
        dataset="reacher-fingertip",
        model="resnet18",
        batch_size=batch,
        lr=1e-3,
        momentum=0.9,
        weight_decay=5e-4,
    )
    optimizer = make_optimizer(config, model)
    generator = torch.Generator().manual_seed(0)
    start = time.perf_counter()
    for xb, yb in epoch_batches(x, y, batch, generator):
        loss = loss_fn(model, xb, yb, config)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1024, help="training images per epoch")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--small-input", action="store_true", help="3x3 stem, no max-pool")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    load_start = time.perf_counter()
    data = load_rendered("reacher-fingertip", count=10_000, size=64, seed=0)
    x, y, _, _ = to_tensors(data.subset(range(args.images)), test_fraction=0.0)
    load_seconds = time.perf_counter() - load_start
    times: dict[str, list[float]] = {"bare": [], "nrc": []}
    for _ in range(args.rounds):
        for name, epoch in (("bare", bare_epoch), ("nrc", nrc_epoch)):
            torch.manual_seed(0)
            model = resnet18(2, small_input=args.small_input)
            times[name].append(epoch(model, x, y, args.batch))

    stem = "small-input (3x3, no max-pool)" if args.small_input else "ImageNet (7x7/2 + max-pool)"
    print(f"ResNet-18, {stem} stem, 64x64, batch {args.batch}, {args.images} images/epoch,")
    print(f"{args.threads} thread(s), best of {args.rounds} epochs; cache load + tensors")
    print(f"{load_seconds:.1f} s (10,000 images, once)")
    print(f"{'loop':<6}{'images/s':>10}{'ratio':>8}")
    best = {name: args.images / min(seconds) for name, seconds in times.items()}
    for name, rate in best.items():
        print(f"{name:<6}{rate:>10.1f}{rate / best['bare']:>8.2f}")


if __name__ == "__main__":
    main()
