"""Analyses of stored metric rows shared by figures and claims: NRC3 as a function of γ for the
final W (paper App. A.3, Fig. 4) and counting its local minima (claim C3)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from nrc.metrics import nrc3_at, optimal_gamma, sqrtm_psd
from nrc.metrics.schema import row_matrix

# The paper's optimal γ/λmin of Fig. 4.
PAPER_OPTIMUM = {"reacher": 0.749, "swimmer": 0.691, "hopper": 0.011, "carla-2d": 0.149}
GRID_POINTS = 400


def nrc3_curve(row: pd.Series, points: int = GRID_POINTS) -> tuple[np.ndarray, np.ndarray, float]:
    """(γ/λmin grid on [0, 1], NRC3 on it, optimal γ/λmin) for the final WWᵀ and Σ of ``row``.

    NRC3 depends on W only through WWᵀ, so (WWᵀ)^½ stands in for W.
    """
    sigma, wwt = row_matrix(row, "sigma"), row_matrix(row, "wwt")
    w = sqrtm_psd(wwt)
    lam_min = float(np.linalg.eigvalsh(sigma)[0])
    ratios = np.linspace(0.0, 1.0, points)
    values = np.array([nrc3_at(w, sigma, r * lam_min) for r in ratios[:-1]] + [np.nan])
    if np.ptp(np.linalg.eigvalsh(sigma)) > 0:
        values[-1] = nrc3_at(w, sigma, lam_min)
    gamma, _ = optimal_gamma(w, sigma)
    return ratios, values, gamma / lam_min


def count_local_minima(values: np.ndarray) -> int:
    """Strict interior local minima plus minima at the ends of a sampled curve."""
    v = values[np.isfinite(values)]
    inner = np.sum((v[1:-1] < v[:-2]) & (v[1:-1] < v[2:]))
    return int(inner + (v[0] < v[1]) + (v[-1] < v[-2]))
