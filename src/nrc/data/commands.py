"""`nrc data ...` sub-commands: train and ship experts, collect datasets, print Table-1 rows."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from nrc.data.images import rendered
from nrc.data.mujoco.collect import collect_dataset
from nrc.data.mujoco.envs import task
from nrc.data.mujoco.experts import evaluate, load_policy, ship_expert, shipped_dir
from nrc.data.registry import SPECS, data_dir, names
from nrc.data.regression import load
from nrc.data.stats import input_type, table1_row


def register(sub: argparse._SubParsersAction) -> None:
    """Add `nrc data` and its sub-commands to the CLI."""
    data = sub.add_parser("data", help="MuJoCo behaviour-cloning datasets (paper §4)")
    cmds = data.add_subparsers(dest="data_command", required=True)

    train = cmds.add_parser("train-expert", help="train or resume an expert (swimmer, hopper)")
    train.add_argument("env")
    train.add_argument("--algorithm", choices=["ars", "ppo"], help="default: ars (new runs)")
    train.add_argument("--steps", type=int, default=3_000_000, help="total environment steps")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--out", type=Path, help="run folder (default: $NRC_DATA_DIR/experts/ENV)")
    train.add_argument("--checkpoint-every", type=int, default=50_000)
    train.set_defaults(func=train_expert_cmd)

    ship = cmds.add_parser("ship-expert", help="evaluate an expert and store it in the package")
    ship.add_argument("env")
    ship.add_argument("--run", type=Path, help="train-expert run folder (none for reacher)")
    ship.add_argument("--episodes", type=int, default=100)
    ship.set_defaults(func=ship_expert_cmd)

    ev = cmds.add_parser("evaluate", help="mean return of a policy")
    ev.add_argument("env")
    ev.add_argument("--policy", default="expert", help="expert | ik-pd | path to .npz")
    ev.add_argument("--episodes", type=int, default=100)
    ev.add_argument("--seed", type=int, default=0)
    ev.set_defaults(func=evaluate_cmd)

    col = cmds.add_parser("collect", help="roll out a policy into Minari train/test datasets")
    col.add_argument("env")
    col.add_argument("--policy", default="expert", help="expert | ik-pd | path to .npz")
    col.add_argument("--episodes", type=int, required=True, help="training episodes")
    col.add_argument("--seed", type=int, default=0)
    col.add_argument("--out", type=Path, help="Minari root (default: $NRC_DATA_DIR/minari)")
    col.add_argument("--name", help="dataset prefix (default: ENV-expert-nEPISODES-sSEED)")
    col.set_defaults(func=collect_cmd)

    ship_data = cmds.add_parser("ship", help="rebuild the paper-sized shipped datasets")
    ship_data.add_argument("envs", nargs="*", default=sorted(names("mujoco")))
    ship_data.add_argument("--seed", type=int, default=0)
    ship_data.set_defaults(func=ship_cmd)

    stats = cmds.add_parser("stats", help="Table 1 row of a dataset (training targets)")
    stats.add_argument("name", help="swimmer | reacher | hopper | collected prefix | KIND:PATH")
    stats.add_argument("--train-size", type=int)
    stats.add_argument("--subset", default="first", choices=["first", "random"])
    stats.add_argument("--seed", type=int, default=0)
    stats.set_defaults(func=stats_cmd)

    render = cmds.add_parser("render", help="render a MuJoCo image regression set (64 px, cached)")
    render.add_argument("name", choices=sorted(rendered.RENDERED))
    render.add_argument("--count", type=int, default=10_000, help="number of frames")
    render.add_argument("--size", type=int, default=64, help="image side in pixels")
    render.add_argument("--seed", type=int, default=0)
    render.add_argument("--policy", help="'ik-pd', 'sine-pd', 'expert' or an .npz policy")
    render.add_argument("--out", type=Path, help="folder (default: $NRC_DATA_DIR/rendered)")
    render.add_argument("--regenerate", action="store_true", help="ignore a cached file")
    render.set_defaults(func=render_cmd)


def train_expert_cmd(args: argparse.Namespace) -> int:
    """Handler of `nrc data train-expert`."""
    # Imported here: stable-baselines3 takes seconds to import and only this command needs it.
    from nrc.data.mujoco.training import train_expert

    out = args.out or data_dir() / "experts" / task(args.env).name
    state = train_expert(
        args.env, out, args.steps, args.seed, args.checkpoint_every, algorithm=args.algorithm
    )
    print(json.dumps({"out": str(out), "steps": state["steps"], "best": state["best"]}))
    return 0


def ship_expert_cmd(args: argparse.Namespace) -> int:
    """Handler of `nrc data ship-expert`."""
    payload = ship_expert(args.env, args.run, args.episodes)
    print(json.dumps({"env": args.env, **payload["evaluation"]}))
    return 0


def evaluate_cmd(args: argparse.Namespace) -> int:
    """Handler of `nrc data evaluate`."""
    returns = evaluate(load_policy(args.policy, args.env), args.env, args.episodes, args.seed)
    print(
        f"{args.env} {args.policy}: mean return {returns.mean():.2f} ± {returns.std():.2f} "
        f"over {args.episodes} episodes"
    )
    return 0


def collect_cmd(args: argparse.Namespace) -> int:
    """Handler of `nrc data collect`."""
    name = task(args.env).name
    prefix = args.name or f"{name}-expert-n{args.episodes}-s{args.seed}"
    root = args.out or data_dir() / "minari"
    paths = collect_dataset(name, args.policy, args.episodes, args.seed, root, prefix)
    print(json.dumps({split: str(path) for split, path in paths.items()}))
    return 0


def ship_cmd(args: argparse.Namespace) -> int:
    """Handler of `nrc data ship`: paper-sized train/test sets from the shipped experts."""
    for env in args.envs:
        spec = task(env)
        root = shipped_dir() / "minari"
        collect_dataset(
            spec.name,
            "expert",
            spec.train_episodes,
            args.seed,
            root,
            f"{spec.name}-expert",
            min_train_transitions=spec.train_size,
        )
        print(f"{spec.name}: shipped under {root}")
    return 0


def stats_cmd(args: argparse.Namespace) -> int:
    """Handler of `nrc data stats`: our Table 1 row, and the paper's where it has one."""
    data = load(args.name, train_size=args.train_size, subset=args.subset, seed=args.seed)
    row = table1_row(data.name, data.y_train, input_type(data.x_train))
    corr = ", ".join(f"{c:.4g}" for c in row.target_corr) or "NA"
    print("| dataset | size | input type | n | target correlation | λmin (centred, ÷M) |")
    print("|---|---|---|---|---|---|")
    print(
        f"| {row.name} (ours) | {row.size:,} | {row.input_type} | {row.n} | [{corr}] "
        f"| {row.lambda_min:.4g} |"
    )
    spec = SPECS.get(row.name)
    if spec is not None:
        paper = spec.paper_row
        corr = ", ".join(f"{c:.4g}" for c in paper.target_corr)
        print(
            f"| {paper.name} (paper) | {paper.size:,} | {paper.input_type} | {paper.n} "
            f"| [{corr}] | {paper.lambda_min:.4g} |"
        )
    return 0


def render_cmd(args: argparse.Namespace) -> int:
    """Handler of `nrc data render`: generate (or find cached) one rendered set."""
    data = rendered.load_rendered(
        args.name, args.count, args.size, args.seed, args.policy, args.out, args.regenerate
    )
    path = rendered.cache_path(args.name, args.count, args.size, args.seed, args.policy, args.out)
    print(f"{path}: {len(data)} images {data.images.shape[1:3]}, targets {data.target_names}")
    return 0
