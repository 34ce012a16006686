"""`nrc data ...` sub-commands: train and ship experts, collect datasets, print Table-1 rows."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from nrc.data.images import rendered
from nrc.data.mujoco.collect import collect_dataset
from nrc.data.mujoco.envs import task
from nrc.data.mujoco.experts import evaluate, load_policy, ship_expert, shipped_dir
from nrc.data.mujoco.sigma import SCORE_FLOOR, SIGMA_GRID, rule_sigma, scan
from nrc.data.registry import EXPERT_ACTIONS, SAMPLED_SIGMA, SPECS, data_dir, names
from nrc.data.regression import load
from nrc.data.stats import input_type, table1_row

NOISE_HELP = "σ of Gaussian action noise around the expert (0: deterministic; docs/datasets.md)"


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
    ev.add_argument("--action-noise", type=float, default=0.0, help=NOISE_HELP)
    ev.set_defaults(func=evaluate_cmd)

    sig = cmds.add_parser("sigma", help="returns and Table 1 rows of sampled actions per σ")
    sig.add_argument("envs", nargs="*", default=list(names("mujoco")))
    sig.add_argument("--sigmas", type=float, nargs="+", default=list(SIGMA_GRID))
    sig.add_argument("--episodes", type=int, default=100, help="evaluation episodes per σ")
    sig.set_defaults(func=sigma_cmd)

    col = cmds.add_parser("collect", help="roll out a policy into Minari train/test datasets")
    col.add_argument("env")
    col.add_argument("--policy", default="expert", help="expert | ik-pd | path to .npz")
    col.add_argument("--episodes", type=int, required=True, help="training episodes")
    col.add_argument("--seed", type=int, default=0)
    col.add_argument("--out", type=Path, help="Minari root (default: $NRC_DATA_DIR/minari)")
    col.add_argument("--name", help="dataset prefix (default: ENV-expert-nEPISODES-sSEED[-σ])")
    col.add_argument("--action-noise", type=float, default=0.0, help=NOISE_HELP)
    col.set_defaults(func=collect_cmd)

    ship_data = cmds.add_parser("ship", help="rebuild the paper-sized shipped datasets")
    ship_data.add_argument("envs", nargs="*", default=sorted(names("mujoco")))
    ship_data.add_argument("--seed", type=int, default=0)
    ship_data.add_argument(
        "--actions", nargs="+", choices=EXPERT_ACTIONS, default=list(EXPERT_ACTIONS),
        help=f"variants to rebuild (sampled: σ = {SAMPLED_SIGMA}; default both)",
    )  # fmt: skip
    ship_data.set_defaults(func=ship_cmd)

    stats = cmds.add_parser("stats", help="Table 1 row of a dataset (training targets)")
    stats.add_argument("name", help="swimmer | reacher | hopper | collected prefix | KIND:PATH")
    stats.add_argument("--train-size", type=int)
    stats.add_argument("--subset", default="first", choices=["first", "random"])
    stats.add_argument("--seed", type=int, default=0)
    stats.add_argument(
        "--expert-actions", choices=EXPERT_ACTIONS, help="shipped MuJoCo sets: the variant"
    )
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
    policy = load_policy(args.policy, args.env)
    returns = evaluate(policy, args.env, args.episodes, args.seed, args.action_noise)
    noise = f" (action noise {args.action_noise:g})" if args.action_noise else ""
    print(
        f"{args.env} {args.policy}{noise}: mean return {returns.mean():.2f} ± "
        f"{returns.std():.2f} over {args.episodes} episodes"
    )
    return 0


def sigma_cmd(args: argparse.Namespace) -> int:
    """Handler of `nrc data sigma`: per σ, each expert's returns and Table 1 row, and the σ that
    the rule of `nrc.data.mujoco.sigma` picks."""
    scans = {}
    print("| task | σ | mean return ± std (min) | score | target correlation | λmin |")
    print("|---|---|---|---|---|---|")
    for env in args.envs:
        floor, rows = scan(env, args.sigmas, args.episodes)
        scans[task(env).name] = rows
        print(f"| {task(env).name} | random | {floor:.2f} | 0 | | |")
        for r in rows:
            corr = ", ".join(f"{c:.3g}" for c in r.row.target_corr)
            print(
                f"| {r.env} | {r.sigma:g} | {r.mean_return:.2f} ± {r.std_return:.2f} "
                f"({r.min_return:.2f}) | {r.score:.3f} | [{corr}] | {r.row.lambda_min:.4g} |"
            )
    print(f"rule (every score >= {SCORE_FLOOR}): σ = {rule_sigma(scans):g}")
    return 0


def collect_cmd(args: argparse.Namespace) -> int:
    """Handler of `nrc data collect`."""
    name = task(args.env).name
    noise = f"-sigma{args.action_noise:g}" if args.action_noise else ""
    prefix = args.name or f"{name}-expert-n{args.episodes}-s{args.seed}{noise}"
    root = args.out or data_dir() / "minari"
    paths = collect_dataset(
        name, args.policy, args.episodes, args.seed, root, prefix, action_noise=args.action_noise
    )
    print(json.dumps({split: str(path) for split, path in paths.items()}))
    return 0


def ship_cmd(args: argparse.Namespace) -> int:
    """Handler of `nrc data ship`: paper-sized train/test sets from the shipped experts, with
    their deterministic and/or sampled (σ = `SAMPLED_SIGMA`) actions."""
    root = shipped_dir() / "minari"
    for env in args.envs:
        spec = task(env)
        for actions in args.actions:
            prefix = spec.minari_prefix(actions)
            collect_dataset(
                spec.name, "expert", int(spec.train_episodes or 1), args.seed, root, prefix,
                min_train_transitions=int(spec.train_size or 0),
                action_noise=SAMPLED_SIGMA if actions == "sampled" else 0.0,
            )  # fmt: skip
            print(f"{spec.name} ({actions}): shipped under {root / prefix}-{{train,test}}-v0")
    return 0


def stats_cmd(args: argparse.Namespace) -> int:
    """Handler of `nrc data stats`: our Table 1 row, and the paper's where it has one."""
    data = load(
        args.name, train_size=args.train_size, subset=args.subset, seed=args.seed,
        expert_actions=args.expert_actions,
    )  # fmt: skip
    row = table1_row(data.name, data.y_train, input_type(data.x_train))
    corr = ", ".join(f"{c:.4g}" for c in row.target_corr) or "NA"
    actions = data.provenance.get("expert_actions")
    ours = f"ours, {actions} actions" if actions else "ours"
    print("| dataset | size | input type | n | target correlation | λmin (centred, ÷M) |")
    print("|---|---|---|---|---|---|")
    print(
        f"| {row.name} ({ours}) | {row.size:,} | {row.input_type} | {row.n} | [{corr}] "
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
