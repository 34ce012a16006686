"""The UFM phase diagram: theory and solver across c = λ_W·λ_H (paper Theorem 4.1, Fig. 5).
Owns the computation (``c_grid``, ``phase_diagram``) and writing it (``write_phase``); the
figure is drawn by :func:`nrc.plots.phase.plot_phase`.

For one target set, sweep c over a log grid from far below λmin to beyond λmax (so every regime
of Theorem 4.1 appears), solve (1) in closed form and with the gradient solver at each c, and
measure both solutions the same way: rank of W, the loss, NRC1–3 (``nrc.metrics.compute``,
paper convention, NRC3 at γ = c as in the paper's UFM protocol §4.5) and the training MSE
(mean over samples and target dimensions, like ``F.mse_loss``).
"""

from __future__ import annotations

import itertools
import logging
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from nrc.io import atomic_path
from nrc.metrics import compute
from nrc.metrics.validate import real_float64
from nrc.ufm.solver import minimize
from nrc.ufm.theory import center_targets, solve

log = logging.getLogger(__name__)

# A singular value of W counts towards its rank when it exceeds this fraction of the largest
# one W can have, (λ_H/λ_W)^¼·λmax^¼ (reached as c → 0).
RANK_RTOL = 1e-4


def c_grid(
    y: ArrayLike, points_per_decade: int = 6, below: float = 1e-3, above: float = 10.0
) -> np.ndarray:
    """Log-spaced c from ``below``·λmin to ``above``·λmax, covering every regime of Theorem 4.1.

    Where no grid point falls strictly between two consecutive eigenvalues of Σ, their
    geometric mean is added, so each rank j* = n, …, 0 appears at least once.
    """
    if points_per_decade < 1:
        raise ValueError(f"points_per_decade: must be >= 1, got {points_per_decade}")
    if not (0.0 < below < 1.0 < above and np.isfinite(above)):
        raise ValueError(f"below, above: need 0 < below < 1 < above, got {below}, {above}")
    eig = np.sort(center_targets(y).spectrum.eigvals)
    lo, hi = np.log10(below * eig[0]), np.log10(above * eig[-1])
    grid = np.logspace(lo, hi, int(np.ceil((hi - lo) * points_per_decade)) + 1)
    gaps = [
        np.sqrt(a * b)
        for a, b in itertools.pairwise(eig)
        if a < b and not np.any((grid > a) & (grid < b))
    ]
    return np.sort(np.concatenate([grid, gaps]))


def numerical_rank(w: np.ndarray, lambda_w: float, lambda_h: float, lambda_max: float) -> int:
    """Rank of W counting singular values above RANK_RTOL·(λ_H/λ_W)^¼·λmax^¼."""
    reference = (lambda_h / lambda_w) ** 0.25 * lambda_max**0.25
    return int(np.count_nonzero(np.linalg.svd(w, compute_uv=False) > RANK_RTOL * reference))


def _measure(
    h: np.ndarray, w: np.ndarray, b: np.ndarray, y: np.ndarray, c: float, rank: int
) -> dict[str, float]:
    """Training MSE and NRC1–3 (γ = c) of one solution; NRCs are NaN when W = 0 (undefined)."""
    mse = float(np.mean((h @ w.T + b - y) ** 2))
    if rank == 0:
        return {"mse": mse, "nrc1": np.nan, "nrc2": np.nan, "nrc3": np.nan}
    report = compute(h, w, y, b=b, gamma=c)
    nrc3 = np.nan if report.nrc3 is None else report.nrc3
    return {"mse": mse, "nrc1": report.nrc1, "nrc2": report.nrc2, "nrc3": nrc3}


def phase_diagram(
    y: ArrayLike,
    *,
    d: int = 16,
    lambda_ratio: float = 1.0,
    c_values: ArrayLike | None = None,
    points_per_decade: int = 6,
    seed: int = 0,
    out: str | Path | None = None,
) -> pd.DataFrame:
    """Theory and solver of (1) at each c; one row per c, returned and optionally written.

    λ_W = √(c/r), λ_H = √(c·r) with r = ``lambda_ratio`` = λ_H/λ_W (1: the paper's λ_W = λ_H).
    ``c_values`` defaults to :func:`c_grid`. Columns: c, c_over_lambda_min, lambda_w, lambda_h,
    regime, ``{rank,loss,mse,nrc1,nrc2,nrc3}_{theory,solver}``, loss_gap (relative),
    solver_iterations, solver_grad_max, lambda_min, lambda_max, M, n, d. With ``out`` (a
    folder) it writes ``phase.csv`` and ``phase.png`` there (see :func:`write_phase`).
    """
    targets = center_targets(y)
    if not (np.isfinite(lambda_ratio) and lambda_ratio > 0.0):
        raise ValueError(f"lambda_ratio: must be a finite number > 0, got {lambda_ratio}")
    grid = (
        c_grid(targets.raw, points_per_decade)
        if c_values is None
        else real_float64(c_values, "c_values")
    )
    if grid.ndim != 1 or grid.size == 0 or not np.all(np.isfinite(grid)) or np.any(grid <= 0):
        raise ValueError("c_values: must be a non-empty 1-D sequence of finite numbers > 0")
    lambda_w, lambda_h = np.sqrt(grid / lambda_ratio), np.sqrt(grid * lambda_ratio)
    solver = minimize(targets.raw, lambda_w, lambda_h, d, seed=seed)
    spec = targets.spectrum
    m, n = targets.raw.shape
    rows = []
    for i, c in enumerate(grid):
        theory = solve(targets.raw, lambda_w[i], lambda_h[i], d)
        rank_solver = numerical_rank(solver.W[i], lambda_w[i], lambda_h[i], spec.lambda_max)
        row = {
            "c": c,
            "c_over_lambda_min": c / spec.lambda_min,
            "lambda_w": lambda_w[i],
            "lambda_h": lambda_h[i],
            "regime": str(theory.regime),
            "rank_theory": theory.rank,
            "rank_solver": rank_solver,
            "loss_theory": theory.loss,
            "loss_solver": float(solver.loss[i]),
            "loss_gap": (float(solver.loss[i]) - theory.loss) / theory.loss,
            "solver_iterations": int(solver.iterations[i]),
            "solver_grad_max": float(solver.grad_max[i]),
        }
        measured = {
            "theory": _measure(theory.H, theory.W, theory.b, targets.raw, c, theory.rank),
            "solver": _measure(solver.H[i], solver.W[i], solver.b[i], targets.raw, c, rank_solver),
        }
        row |= {f"{k}_{src}": v for src, values in measured.items() for k, v in values.items()}
        rows.append(row)
    table = pd.DataFrame(rows).assign(
        lambda_min=spec.lambda_min, lambda_max=spec.lambda_max, M=m, n=n, d=d
    )
    log.info(
        "UFM phase diagram: %d values of c, largest loss gap %.2e",
        len(grid),
        table.loss_gap.abs().max(),
    )
    if out is not None:
        write_phase(table, out)
    return table


def write_phase(table: pd.DataFrame, out: str | Path) -> tuple[Path, Path]:
    """Write ``phase.csv`` and ``phase.png`` into folder ``out`` (created); returns both paths."""
    # Imported here: nrc.plots selects matplotlib's Agg backend, which importing nrc.ufm must not.
    from nrc.plots.phase import plot_phase

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    csv_path = folder / "phase.csv"
    with atomic_path(csv_path) as tmp:
        table.to_csv(tmp, index=False)
    return csv_path, plot_phase(table, folder / "phase.png")
