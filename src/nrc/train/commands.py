"""`nrc train` and `nrc sweep` (docs/training.md)."""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path
from typing import Any

import torch

from nrc.train.config import to_dict
from nrc.train.distributed import close_process_group, ranks_from_environment
from nrc.train.launch import Launcher, check_threads, threads_for
from nrc.train.presets import PRESETS, resolve
from nrc.train.progress import Watched
from nrc.train.ray_launch import LAUNCHERS, launcher_from_options
from nrc.train.runner import check_tracker, resume, run
from nrc.train.store import RunStore, load_run, safe_component
from nrc.train.sweep import expand, run_points

SHOWN = ("epoch", "train_mse", "test_mse", "train_r2", "nrc1", "nrc2", "nrc3", "nrc3_paper")


def register(sub: Any) -> None:
    """Add the `train` and `sweep` sub-commands."""
    p = sub.add_parser("train", help="train one model, measuring collapse (a run directory)")
    p.add_argument("config", nargs="?", help=f"preset {PRESETS} or a JSON config file")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument(
        "--out", type=Path, help="run directory (default runs/<config>-<dataset>-<hash>)"
    )
    p.add_argument("--resume", type=Path, metavar="RUN", help="continue the run directory RUN")
    p.add_argument(
        "--pretrained",
        type=Path,
        metavar="PATH",
        help="ResNet weights: a torchvision/ImageNet state dict (same as --set pretrained=PATH)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_threads(p)
    add_tracker(p)
    p.set_defaults(func=train_command)

    s = sub.add_parser("sweep", help="many runs over a grid of config values, one table")
    s.add_argument("config", help=f"preset {PRESETS} or a JSON config file")
    s.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="KEY=V1,V2",
        help="values of one key (weight_decay=paper: the paper's grid; lambda_h=fig10: Fig. 10)",
    )
    s.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    s.add_argument("--out", type=Path, required=True, help="sweep directory")
    s.add_argument("--jobs", type=int, default=1, help="runs in parallel (processes)")
    add_batched(s)
    add_threads(s)
    add_tracker(s)
    add_launcher(s)
    s.set_defaults(func=sweep_command)


def add_batched(parser: argparse.ArgumentParser) -> None:
    """The `--batched/--no-batched` option (default: batched on CUDA only)."""
    parser.add_argument(
        "--batched",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="train the MLP runs that share architecture and dataset as one stack "
        "(default: on CUDA yes, on CPU separate runs)",
    )


def add_threads(parser: argparse.ArgumentParser) -> None:
    """The `--threads N` option (default: 1 per MLP run, a share of the cores per ResNet run)."""
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads per run (default: 1 for an MLP, cores/jobs for a ResNet)",
    )


def add_launcher(parser: argparse.ArgumentParser) -> None:
    """The `--launcher process|ray`, `--address`, `--cpus-per-run`, `--gpus-per-run` options
    (docs/distributed.md)."""
    parser.add_argument(
        "--launcher",
        choices=LAUNCHERS,
        default="process",
        help="process: --jobs worker processes; ray: one Ray task per run",
    )
    parser.add_argument(
        "--address",
        default=None,
        help="a running Ray cluster (auto or HEAD:6379); without it --launcher ray starts a "
        "local instance of --jobs CPUs",
    )
    parser.add_argument(
        "--cpus-per-run", type=int, default=None, help="Ray: CPUs and torch threads per run"
    )
    parser.add_argument(
        "--gpus-per-run",
        type=float,
        default=None,
        help="Ray: GPUs per run; fractions below 1 share a GPU (default 0)",
    )


def launcher_of(args: argparse.Namespace, out: Path) -> Launcher:
    """The launcher the command line's options describe, every option checked."""
    return launcher_from_options(
        args.launcher,
        args.jobs,
        args.address,
        args.cpus_per_run,
        args.gpus_per_run,
        out,
        batched=args.batched,
        threads=args.threads,
    )


def add_tracker(parser: argparse.ArgumentParser) -> None:
    """The `--log tensorboard|wandb|mlflow` option (docs/integrations.md)."""
    parser.add_argument(
        "--log",
        dest="tracker",
        default=None,
        metavar="TRACKER",
        help="also send every run's metrics to tensorboard, wandb (offline unless logged in) "
        "or mlflow, as nrc/<metric> by epoch, under RUN/logs",
    )


def parse_value(text: str) -> Any:
    """The value of a `KEY=VALUE` argument: JSON (1e-3, 5, "relu", [25, 50], null; `none` is
    null), else the text itself."""
    text = text.strip()
    if text.lower() in ("none", "null"):
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_assignments(items: list[str], option: str = "--set") -> dict[str, Any]:
    """`KEY=VALUE` strings as a dict of config overrides (a key given twice: the last wins)."""
    values: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{option} {item!r} must have the form key=value")
        values[key.strip()] = parse_value(text)
    return values


def _default_dir(spec: str, config_json: str, dataset: str) -> Path:
    """runs/<preset or file stem>-<dataset>-<8 hex of the config hash>."""
    digest = hashlib.sha256(config_json.encode()).hexdigest()[:8]
    name = safe_component(f"{Path(spec).stem}-{dataset}-{digest}", "dataset")
    return Path("runs") / name


def _print_final(run_dir: Path) -> None:
    _, table = load_run(run_dir)
    last = table.iloc[-1]
    print(f"run: {run_dir}")
    print(
        "  ".join(
            f"{k}={last[k]:.4g}" if isinstance(last[k], float) else f"{k}={last[k]}" for k in SHOWN
        )
    )


def train_command(args: argparse.Namespace) -> int:
    """Handler of `nrc train` (under torchrun: one rank of the run, docs/distributed.md)."""
    try:
        return _train_or_resume(args)
    finally:
        close_process_group()


def _train_or_resume(args: argparse.Namespace) -> int:
    """`nrc train CONFIG` or `nrc train --resume RUN`."""
    if args.resume is not None:
        if args.config or args.overrides or args.out or args.pretrained:
            raise ValueError(
                "--resume RUN takes no CONFIG, --set, --out or --pretrained (the run has its "
                "config)"
            )
        config = RunStore(args.resume).read_config()
        torch.set_num_threads(threads_for(config, 1, check_threads(args.threads)))
        run_dir = resume(args.resume, progress=not args.no_progress, tracker=args.tracker)
    else:
        if not args.config:
            raise ValueError("give a CONFIG (preset or file) or --resume RUN")
        overrides = parse_assignments(args.overrides)
        if args.pretrained is not None:
            if not args.pretrained.is_file():
                raise FileNotFoundError(f"--pretrained {args.pretrained}: no such file")
            overrides["pretrained"] = str(args.pretrained.resolve())
        config = resolve(args.config, overrides)
        out = args.out or _default_dir(
            args.config, json.dumps(to_dict(config), sort_keys=True), config.dataset
        )
        torch.set_num_threads(threads_for(config, 1, check_threads(args.threads)))
        run_dir = run(config, out, progress=not args.no_progress, tracker=args.tracker)
    if ranks_from_environment().main:  # under torchrun only rank 0 reports
        _print_final(run_dir)
    return 0


def _parse_grid(items: list[str]) -> dict[str, list[Any]]:
    """`key=v1,v2` strings as {key: [values]} (each value parsed as JSON, else kept as text)."""
    grid: dict[str, list[Any]] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip() or not text.strip():
            raise ValueError(f"--grid {item!r} must have the form key=v1,v2,...")
        if key.strip() in grid:
            raise ValueError(f"--grid key {key.strip()!r} given twice")
        grid[key.strip()] = [parse_value(v) for v in text.split(",")]
    return grid


def sweep_command(args: argparse.Namespace) -> int:
    """Handler of `nrc sweep`."""
    grid, overrides = _parse_grid(args.grid), parse_assignments(args.overrides)
    launcher = launcher_of(args, args.out)
    points = expand(args.config, grid, overrides)
    watched = Watched(launcher, desc=f"runs in {args.out}")  # epochs and ETA of the runs
    tracker = check_tracker(args.tracker)
    result = run_points(points, args.out, launcher=watched, progress=False, tracker=tracker)
    print(result.status[["run", "status", "error"]].to_string(index=False))
    print(f"table: {args.out / 'sweep.parquet'} ({len(result.table)} rows)")
    return 0 if (result.status["status"] == "complete").all() else 1
