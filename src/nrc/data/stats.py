"""The paper's Table 1 row of a regression dataset: size, input type, n, target correlations and
λ_min of the centred target covariance Σ = (1/M) Σ_i (y_i − ȳ)(y_i − ȳ)ᵀ (paper §3.1, Table 1)."""

from __future__ import annotations

import numpy as np
import torch

from nrc.data.registry import IMAGE_INPUT, STATE
from nrc.data.types import Table1Row
from nrc.metrics import target_covariance


def input_type(x: torch.Tensor) -> str:
    """Table 1's input type of a dataset with inputs `x`: images (N×C×H×W) or raw states."""
    return IMAGE_INPUT if x.ndim == 4 else STATE


def table1_row(name: str, y: np.ndarray | torch.Tensor, input_type: str = STATE) -> Table1Row:
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
    sigma = target_covariance(y, name)
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
