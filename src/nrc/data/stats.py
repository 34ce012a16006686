"""The paper's Table 1 row of a regression dataset: size, input type, n, target correlations and
λ_min of the centred target covariance Σ = (1/M) Σ_i (y_i − ȳ)(y_i − ȳ)ᵀ (paper §3.1, Table 1)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

# The paper's Table 1 (correlations listed as (1,2), (1,3), (2,3)).
_STATE, _IMAGE = "raw state", "RGB image"
PAPER_TABLE1: dict[str, dict[str, object]] = {
    "swimmer": {
        "size": 1_000,
        "input": _STATE,
        "n": 2,
        "target_corr": [-0.244],
        "lambda_min": 0.276,
    },
    "reacher": {
        "size": 1_000,
        "input": _STATE,
        "n": 2,
        "target_corr": [-0.00933],
        "lambda_min": 0.0097,
    },
    "hopper": {
        "size": 10_000,
        "input": _STATE,
        "n": 3,
        "target_corr": [-0.215, -0.090, 0.059],
        "lambda_min": 0.215,
    },
    "carla-2d": {
        "size": 600_000,
        "input": _IMAGE,
        "n": 2,
        "target_corr": [-0.0055],
        "lambda_min": 0.156,
    },
    "carla-1d": {"size": 600_000, "input": _IMAGE, "n": 1, "target_corr": [], "lambda_min": 208.63},
    "utkface": {"size": 25_000, "input": _IMAGE, "n": 1, "target_corr": [], "lambda_min": 1428.0},
}


@dataclass(frozen=True)
class Table1Row:
    """One row of Table 1."""

    name: str
    size: int
    input_type: str
    n: int
    target_corr: list[float]
    lambda_min: float


def input_type(x: torch.Tensor) -> str:
    """Table 1's input type of a dataset with inputs `x`: images (N×C×H×W) or raw states."""
    return _IMAGE if x.ndim == 4 else _STATE


def table1_row(name: str, y: np.ndarray | torch.Tensor, input_type: str = _STATE) -> Table1Row:
    """Table 1 statistics of targets `y` (M × n), computed in float64.

    Correlations are Pearson correlations of the target pairs (i, j), i < j, in row-major order;
    λ_min is the smallest eigenvalue of the centred covariance with divisor M.
    """
    y = np.asarray(y.detach().cpu() if isinstance(y, torch.Tensor) else y, dtype=np.float64)
    if y.ndim != 2 or len(y) < 2:
        raise ValueError(f"{name}: targets must be an M × n array with M >= 2, got {y.shape}")
    if not np.isfinite(y).all():
        raise ValueError(f"{name}: targets contain NaN/Inf")
    constant = np.flatnonzero(np.ptp(y, axis=0) == 0)
    if len(constant):
        raise ValueError(f"{name}: target column(s) {constant.tolist()} are constant")
    sigma = np.atleast_2d(np.cov(y, rowvar=False, bias=True))
    n = y.shape[1]
    corr = np.atleast_2d(np.corrcoef(y, rowvar=False)) if n > 1 else np.ones((1, 1))
    upper = np.triu_indices(n, k=1)
    return Table1Row(
        name=name,
        size=len(y),
        input_type=input_type,
        n=n,
        target_corr=[float(c) for c in corr[upper]],
        lambda_min=float(np.linalg.eigvalsh(sigma)[0]),
    )
