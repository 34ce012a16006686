"""The target covariance Σ (paper §1) and its one positive-definiteness check.

Owns ``target_covariance`` (Σ = (Y − Ȳ)ᵀ(Y − Ȳ)/M from the targets themselves, or the second
moment YᵀY/M in the ``"uncentered"`` target convention; the streaming engine forms the same Σ
from its moments) and ``check_target_covariance``, the single rule every
consumer of Σ applies: finite, square, symmetric and positive definite, where a variance or an
eigenvalue at most ``SINGULAR_RTOL``·tr Σ counts as zero. Relative, so the rule does not depend
on the scale of the targets.
"""

from __future__ import annotations

import numpy as np

from nrc.metrics.convention import TargetConvention, check_target_convention
from nrc.metrics.validate import real_float64

SINGULAR_RTOL = 1e-12


def target_covariance(
    y: object, name: str = "targets", *, convention: TargetConvention = "centered"
) -> np.ndarray:
    """Σ = (1/M) Σ_i (y_i − ȳ)(y_i − ȳ)ᵀ, centred and ÷M, in float64 (paper §1); with
    ``convention="uncentered"`` the second moment (1/M) Σ_i y_i y_iᵀ (a head without bias).

    ``y`` is M×n (numpy, torch or nested sequence; a 1-D array is n = 1), M ≥ 1.
    """
    check_target_convention(convention, "convention")
    arr = real_float64(y, name)
    arr = arr[:, None] if arr.ndim == 1 else arr
    if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"{name}: targets must be an M×n array with M, n >= 1, got {arr.shape}")
    about = arr - arr.mean(axis=0) if convention == "centered" else arr
    return about.T @ about / arr.shape[0]


def _check_matrix(sigma: np.ndarray, name: str) -> None:
    if sigma.ndim != 2 or sigma.shape[0] != sigma.shape[1] or sigma.shape[0] == 0:
        raise ValueError(f"{name}: Σ must be a square n×n matrix, got shape {sigma.shape}")
    if not np.all(np.isfinite(sigma)):
        raise ValueError(f"{name}: Σ contains NaN or Inf")
    if not np.allclose(sigma, sigma.T, rtol=1e-10, atol=1e-14 * np.abs(sigma).max()):
        raise ValueError(f"{name}: Σ must be symmetric")


def check_target_covariance(sigma: object, name: str = "targets") -> np.ndarray:
    """The eigenvalues of Σ (ascending, ``np.linalg.eigvalsh``) after checking Σ ≻ 0.

    Raises a ValueError naming ``name`` when Σ is not a finite symmetric n×n matrix, when a
    column is constant (its variance ≤ SINGULAR_RTOL·tr Σ) or when λmin ≤ SINGULAR_RTOL·tr Σ
    (linearly dependent columns). The paper assumes Σ positive definite (§1).
    """
    mat = real_float64(sigma, name)
    _check_matrix(mat, name)
    n = mat.shape[0]
    tol = SINGULAR_RTOL * max(float(np.trace(mat)), np.finfo(float).tiny)
    eig = np.linalg.eigvalsh(mat)
    rank = int(np.count_nonzero(eig > tol))
    constant = np.flatnonzero(np.diag(mat) <= tol)
    if constant.size:
        raise ValueError(
            f"{name}: column(s) {constant.tolist()} are constant, so the target covariance Σ is "
            f"singular (rank {rank} < n = {n}); the paper assumes Σ positive definite (§1) — "
            "drop those columns"
        )
    if eig[0] <= tol:
        raise ValueError(
            f"{name}: the target covariance Σ is singular (rank {rank} < n = {n}, λmin = "
            f"{eig[0]:.3g}, λmax = {eig[-1]:.3g}): its columns are linearly dependent; the paper "
            "assumes Σ positive definite (§1)"
        )
    return eig
