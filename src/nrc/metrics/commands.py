"""The `nrc metrics` (report for saved arrays) and `nrc demo` (the metrics end to end on a
constructed case) sub-commands."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np

from nrc.io import atomic_write, write_json
from nrc.metrics.convention import FEATURE_CONVENTIONS
from nrc.metrics.files import read_npz
from nrc.metrics.nrc3 import sqrtm_psd
from nrc.metrics.report import CollapseReport
from nrc.metrics.stats import compute
from nrc.metrics.targets import target_covariance

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `metrics` and `demo` sub-commands."""
    p = sub.add_parser("metrics", help="NRC report for arrays saved in an .npz (H, W, Y[, b])")
    p.add_argument("npz", type=Path, help="file with arrays H (M×d), W (n×d), Y (M×n), optional b")
    p.add_argument("--gamma", type=float, default=None, help="fix γ for NRC3 (default: optimal)")
    p.add_argument("--convention", choices=FEATURE_CONVENTIONS, default="normalized")
    p.add_argument("--out", type=Path, default=None, help="write the report as JSON here")
    p.set_defaults(func=_metrics)
    p = sub.add_parser(
        "demo", help="the metrics on a collapsed and an uncollapsed constructed case"
    )
    p.add_argument("--out", type=Path, default=Path("out/demo"))
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_demo)


def _metrics(args: argparse.Namespace) -> int:
    a = read_npz(args.npz, ("H", "W", "Y"))
    try:
        report = compute(
            a["H"], a["W"], a["Y"], a.get("b"), gamma=args.gamma, convention=args.convention
        )
    except ValueError as err:  # the message names features (H), targets (Y) or W
        raise ValueError(f"{args.npz}: {err}") from err
    print(format_report(report))
    if args.out:
        write_json(args.out, report.to_dict())
    return 0


def format_report(report: CollapseReport) -> str:
    """A short human-readable summary of a report."""

    def f(v: float | None) -> str:
        return "—" if v is None else f"{v:.3e}"

    lines = [
        f"M = {report.count}, d = {report.d}, n = {report.n}, convention = {report.convention}",
        f"NRC1 = {f(report.nrc1)}   NRC2 = {f(report.nrc2)}   NRC3 = {f(report.nrc3)}"
        + (f"  ({report.nrc3_reason})" if report.nrc3_reason else ""),
        f"γ = {f(report.gamma)} ({report.gamma_protocol}), γ/λmin = {f(report.gamma_ratio)}, "
        f"λmin = {f(report.lambda_min)}, λmax = {f(report.lambda_max)}",
        "EVR = " + " ".join(f"{v:.3f}" for v in report.evr[:5]),
    ]
    if report.mse is not None:
        lines.append(f"MSE = {f(report.mse)}   R² = {report.r2:.4f}")
    return "\n".join(lines)


def demo_arrays(seed: int, noise: float) -> dict[str, np.ndarray]:
    """UFM-style collapsed case (Corollary 4.2) with features perturbed by ``noise``."""
    rng = np.random.default_rng(seed)
    m, d, n, c = 2000, 64, 3, 1e-3
    a = rng.normal(size=(n, n))
    y = rng.multivariate_normal(np.zeros(n), a @ a.T / n + 0.2 * np.eye(n), size=m)
    yc = y - y.mean(0)
    root = sqrtm_psd(target_covariance(y))
    r = np.linalg.qr(rng.normal(size=(d, n)))[0].T
    w = sqrtm_psd(root - np.sqrt(c) * np.eye(n)) @ r
    h = yc @ np.linalg.inv(root) @ w + noise * rng.normal(size=(m, d))
    return {"H": h, "W": w, "Y": y, "b": y.mean(0)}


def _demo(args: argparse.Namespace) -> int:
    for name, noise in (("collapsed", 0.0), ("uncollapsed", 1.0)):
        arrays = demo_arrays(args.seed, noise)
        path = args.out / f"{name}.npz"
        atomic_write(path, lambda tmp, a=arrays: np.savez(tmp.open("wb"), **a))
        report = compute(arrays["H"], arrays["W"], arrays["Y"], arrays["b"])
        write_json(args.out / f"{name}.json", report.to_dict())
        print(f"— {name} (features + N(0, {noise}²) noise) —\n{format_report(report)}\n")
    print(f"arrays and reports written to {args.out}/ (re-run one with `nrc metrics FILE.npz`)")
    return 0
