"""NRC3 (paper §3.1) and its optimal γ in closed form (owns ``nrc3_at``, ``optimal_gamma``,
``sqrtm_psd``; derivation in docs/metrics.md).

NRC3(γ) = ‖ WWᵀ/‖WWᵀ‖_F − (Σ^½ − √γ I)/‖Σ^½ − √γ I‖_F ‖²_F.

With A = WWᵀ/‖WWᵀ‖_F, S = Σ^½, t = √γ and a = ⟨A, S⟩, β = tr A, s = ‖S‖²_F, e = tr S, the
objective is 2 − 2(a − βt)/√(s − 2et + nt²); its only stationary point is
t* = (βs − ae)/(βe − an). The minimum over γ ∈ [0, λmin] is at t* (if inside) or an end point.
This replaces the authors' 1000-point grid and is exact.

NRC3 is invariant to the scale of W (through WWᵀ/‖WWᵀ‖_F) and of Y (Σ^½ and √γ scale
together), so tolerances are relative and W is rescaled by a power of two before WWᵀ is formed:
exact in floating point, so results are bit-identical in the normal range and W of any
magnitude works.
"""

from __future__ import annotations

import numpy as np

from nrc.metrics.validate import real_float64

_REL_TOL = 1e-12


def sqrtm_psd(sigma: np.ndarray) -> np.ndarray:
    """Unique positive-semidefinite square root Σ^½ of a symmetric PSD matrix (paper §1)."""
    vals, vecs = np.linalg.eigh(sigma)
    return (vecs * np.sqrt(np.clip(vals, 0.0, None))) @ vecs.T


def _normalized_gram(w: np.ndarray) -> np.ndarray:
    """WWᵀ/‖WWᵀ‖_F, formed from W/2^k with 2^k ≈ max |W| (exact scaling, no overflow)."""
    if np.any(w):
        w = np.ldexp(w, -int(np.frexp(np.max(np.abs(w)))[1]))
    wwt = w @ w.T
    norm = np.linalg.norm(wwt)
    if norm == 0.0:
        raise ValueError("W: the head weight is zero, so WWᵀ/‖WWᵀ‖_F (NRC3) is undefined")
    return wwt / norm


def _check_gamma(gamma: float) -> float:
    gamma = float(gamma)
    if not np.isfinite(gamma) or gamma < 0.0:
        raise ValueError(f"gamma: must be a finite number >= 0, got {gamma}")
    return gamma


def _nrc3_normalized(a_mat: np.ndarray, s_mat: np.ndarray, t: float) -> float | None:
    target = s_mat - t * np.eye(s_mat.shape[0])
    norm = np.linalg.norm(target)
    if norm <= _REL_TOL * np.linalg.norm(s_mat):
        return None
    return float(np.sum((a_mat - target / norm) ** 2))


def nrc3_at(w: np.ndarray, sigma: np.ndarray, gamma: float) -> float:
    """NRC3 of head ``w`` (n×d) against target covariance ``sigma`` (n×n) at a given γ ≥ 0.

    Used for the UFM protocol (γ = c = λ_W·λ_H, paper §4.5) and the paper's protocol (γ fixed
    from the final W, App. A.3). Raises if Σ^½ − √γ I vanishes (Σ ∝ I and γ = λ).
    """
    w, sigma = real_float64(w, "W"), real_float64(sigma, "sigma")
    value = _nrc3_normalized(_normalized_gram(w), sqrtm_psd(sigma), np.sqrt(_check_gamma(gamma)))
    if value is None:
        raise ValueError(f"gamma: Σ^½ − √γ I is zero at γ = {gamma}, NRC3 is undefined there")
    return value


def optimal_gamma(w: np.ndarray, sigma: np.ndarray) -> tuple[float, float]:
    """The γ ∈ [0, λmin] minimising NRC3 and the minimum value, in closed form (module doc)."""
    w, sigma = real_float64(w, "W"), real_float64(sigma, "sigma")
    a_mat = _normalized_gram(w)
    s_mat = sqrtm_psd(sigma)
    n = s_mat.shape[0]
    t_max = float(np.sqrt(max(np.linalg.eigvalsh(sigma)[0], 0.0)))
    a, beta = float(np.sum(a_mat * s_mat)), float(np.trace(a_mat))
    s, e = float(np.sum(s_mat * s_mat)), float(np.trace(s_mat))
    candidates = [0.0, t_max]
    denominator = beta * e - a * n
    if denominator != 0.0:
        t_star = (beta * s - a * e) / denominator
        if 0.0 < t_star < t_max:
            candidates.append(t_star)
    scored = [(v, t) for t in candidates if (v := _nrc3_normalized(a_mat, s_mat, t)) is not None]
    value, t_best = min(scored)
    return t_best**2, value
