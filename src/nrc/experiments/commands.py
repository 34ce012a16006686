"""`nrc reproduce`: every figure and table of the paper, the claims checked, an HTML report."""

from __future__ import annotations

import argparse
from pathlib import Path

from nrc.experiments.plan import REPRODUCTION_PRESETS, STUDIES
from nrc.train.commands import (
    add_batched,
    add_launcher,
    add_threads,
    add_tracker,
    launcher_of,
    parse_assignments,
)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `reproduce` sub-command."""
    p = sub.add_parser("reproduce", help="run/reuse the paper's runs, figures, claims, report")
    p.add_argument("--preset", choices=REPRODUCTION_PRESETS, default="quick")
    p.add_argument(
        "--study",
        choices=STUDIES,
        default="paper",
        help="paper: Figs. 2–11, Table 1, C1–C8; deep: every layer, low-rank targets, geometry, "
        "D1–D4; all: both",
    )
    p.add_argument(
        "--datasets",
        help="comma-separated names (default: swimmer, reacher, hopper, the rendered image sets, "
        "and CARLA/UTKFace when their files are present)",
    )
    p.add_argument(
        "--out", type=Path, default=None, help="default: out/<preset> (out/<preset>-<study>)"
    )
    p.add_argument("--jobs", type=int, default=2, help="runs trained in parallel")
    p.add_argument("--pdf", action="store_true", help="also write every figure as PDF")
    p.add_argument("--phase-points", type=int, default=6, help="UFM phase diagram: c per decade")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key of every run (after the preset)",
    )
    add_batched(p)
    add_threads(p)
    add_tracker(p)
    add_launcher(p)
    p.set_defaults(func=_reproduce)


def _reproduce(args: argparse.Namespace) -> int:
    from nrc.experiments.plan import default_datasets
    from nrc.experiments.reproduce import reproduce

    default = args.preset if args.study == "paper" else f"{args.preset}-{args.study}"
    out = args.out or Path("out") / default
    launcher = launcher_of(args, out)
    if args.datasets is None:
        datasets = default_datasets()
    else:
        datasets = tuple(d.strip() for d in args.datasets.split(",") if d.strip())
    index = reproduce(
        args.preset,
        datasets,
        out,
        jobs=args.jobs,
        formats=("png", "pdf") if args.pdf else ("png",),
        overrides=parse_assignments(args.set),
        phase_points_per_decade=args.phase_points,
        batched=args.batched,
        threads=args.threads,
        study=args.study,
        tracker=args.tracker,
        launcher=launcher,
    )
    print(f"report: {index.resolve()}")
    return 0
