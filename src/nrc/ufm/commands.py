"""The `nrc ufm solve` and `nrc ufm phase` sub-commands: the UFM theory (paper §4) on the user's
own targets, read from a file or a shipped dataset."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from nrc.metrics.convention import TARGET_CONVENTIONS
from nrc.metrics.files import first_bytes, read_npy
from nrc.metrics.targets import target_covariance
from nrc.ufm.phase import phase_diagram
from nrc.ufm.solver import minimize, relative_gap
from nrc.ufm.theory import check_targets, solve

FILE_SUFFIXES = (".npy", ".csv")


def _read_file(path: Path) -> np.ndarray:
    if path.suffix == ".npy":
        return read_npy(path)
    first_bytes(path, "a CSV of M rows × n columns")
    try:
        return np.loadtxt(path, delimiter=",", ndmin=2)
    except ValueError:
        try:  # one header line of column names
            return np.loadtxt(path, delimiter=",", ndmin=2, skiprows=1)
        except ValueError as err:
            raise ValueError(f"{path}: not a numeric CSV of M rows × n columns ({err})") from err


def load_targets(spec: str) -> np.ndarray:
    """Targets (M×n float64) from a .npy/.csv file or the training targets of a shipped dataset.

    A 1-D array is read as n = 1. Dataset names go to ``nrc.data.load(name).y_train``.
    """
    path = Path(spec)
    if path.suffix in FILE_SUFFIXES or path.exists():
        if not path.is_file():
            raise FileNotFoundError(f"--targets: no such file {path}")
        if path.suffix not in FILE_SUFFIXES:
            raise ValueError(f"--targets: {path} must be a .npy or .csv file")
        arr = _read_file(path)
        arr = arr[:, None] if arr.ndim == 1 else arr
        return check_targets(arr, str(path))
    try:
        from nrc.data import load  # imported here: the datasets module is heavy and optional
    except ImportError as err:
        raise ValueError(f"--targets: {spec!r} is not a file and nrc.data is unavailable") from err
    try:
        y = load(spec).y_train
    except (KeyError, ValueError, FileNotFoundError) as err:
        raise ValueError(
            f"--targets: {spec!r} is neither a .npy/.csv file nor a known dataset ({err})"
        ) from err
    return check_targets(y.double().numpy(), spec)


def _solve(args: argparse.Namespace) -> int:
    y = load_targets(args.targets)
    convention = args.target_convention
    sol = solve(y, args.lambda_w, args.lambda_h, args.d, targets=convention)
    print(f"targets: M = {y.shape[0]}, n = {y.shape[1]}; features d = {args.d}")
    print(f"target convention: {sol.target_convention}")
    print(f"lambda_min = {sol.lambda_min:.6g}, lambda_max = {sol.lambda_max:.6g}")
    print(f"c = lambda_W * lambda_H = {sol.c:.6g} (c / lambda_min = {sol.c / sol.lambda_min:.4g})")
    print(f"regime: {sol.regime}; rank of W: {sol.rank}; unique up to rotation: {sol.unique}")
    print(f"loss (closed form): {sol.loss:.10g}")
    print(f"b = {np.array2string(sol.b, precision=6)}")
    print("W W^T =")
    print(np.array2string(sol.W @ sol.W.T, precision=6))
    if args.check:
        run = minimize(y, args.lambda_w, args.lambda_h, args.d, seed=args.seed, targets=convention)
        loss = float(run.loss[0])
        gap = relative_gap(loss, sol.loss, target_covariance(y, convention=convention))
        print(
            f"solver: loss {loss:.10g}, relative gap {gap:.2e}, "
            f"{int(run.iterations[0])} L-BFGS iterations, {run.seconds:.2f} s"
        )
    return 0


def _phase(args: argparse.Namespace) -> int:
    y = load_targets(args.targets)
    table = phase_diagram(
        y,
        d=args.d,
        lambda_ratio=args.lambda_ratio,
        points_per_decade=args.points_per_decade,
        seed=args.seed,
        out=args.out,
    )
    out = Path(args.out)
    print(f"{len(table)} values of c; largest |relative loss gap| {table.loss_gap.abs().max():.2e}")
    print(f"wrote {out / 'phase.csv'} and {out / 'phase.png'}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add `nrc ufm solve` and `nrc ufm phase`."""
    ufm = sub.add_parser("ufm", help="Unconstrained Feature Model: closed forms, solver, phases")
    cmds = ufm.add_subparsers(dest="ufm_command", required=True)
    targets_help = "targets: a .npy/.csv file (M rows × n columns) or a shipped dataset name"

    p = cmds.add_parser("solve", help="closed-form UFM minimum for given targets and lambdas")
    p.add_argument("--targets", required=True, help=targets_help)
    p.add_argument("--lambda-w", type=float, required=True, help="λ_W ≥ 0")
    p.add_argument("--lambda-h", type=float, required=True, help="λ_H ≥ 0")
    p.add_argument("--d", type=int, default=16, help="feature width d ≥ n (default 16)")
    p.add_argument(
        "--target-convention",
        choices=TARGET_CONVENTIONS,
        default="centered",
        help="Σ of the problem: centred covariance with a bias (paper, default) or "
        "uncentred YᵀY/M without a bias",
    )
    p.add_argument("--check", action="store_true", help="also run the gradient solver")
    p.add_argument("--seed", type=int, default=0, help="solver initialisation seed")
    p.set_defaults(func=_solve)

    p = cmds.add_parser("phase", help="phase diagram over c = λ_W·λ_H: theory vs solver")
    p.add_argument("--targets", required=True, help=targets_help)
    p.add_argument("--out", required=True, help="output folder for phase.csv and phase.png")
    p.add_argument("--d", type=int, default=16, help="feature width d ≥ n (default 16)")
    p.add_argument("--lambda-ratio", type=float, default=1.0, help="λ_H/λ_W (default 1)")
    p.add_argument("--points-per-decade", type=int, default=6, help="grid density (default 6)")
    p.add_argument("--seed", type=int, default=0, help="solver initialisation seed")
    p.set_defaults(func=_phase)
