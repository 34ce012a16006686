"""From accumulated moments to the NRC report (owns ``Moments``, ``CollapseReport`` and
``report_from_moments``; paper §3.1, derivations in docs/metrics.md).

With V the eigenvectors of the centred feature covariance (descending), Q an orthonormal basis
of the row space of W and G the second-moment matrix of the features in the chosen convention:
NRC1 = Σ_{j>n} v_jᵀ G v_j and NRC2 = Σ over a basis of the complement of row(W) of qᵀ G q.
Summing over the complement (instead of 1 − the captured part) keeps full relative precision
when the metrics are tiny.

Every number of the report is checked to be finite: an input outside float64's range gives a
ValueError naming it, never a NaN metric.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import scipy.linalg

from nrc.metrics.convention import Convention, TargetConvention, as_convention
from nrc.metrics.nrc3 import nrc3_at, optimal_gamma
from nrc.metrics.schema import report_to_row
from nrc.metrics.targets import check_target_covariance

# The input a report field is computed from, to name it when the field is not finite.
_FIELD_INPUTS = {
    "wwt": "W",
    "w_row_norms": "W",
    "residual_mean": "residuals",
    "residual_cov": "residuals",
    "residual_whiteness": "residuals",
    "mse": "residuals",
    "r2": "residuals",
    "alignment": "W_next",
    "stable_rank_w": "W_next",
}


def _second_moment(sum_x: np.ndarray, sum_xx: np.ndarray, k: np.ndarray, m: int) -> np.ndarray:
    """Uncentred E[xxᵀ] from the sums of x − k: (Σ(x−k)(x−k)ᵀ + Σ(x−k)kᵀ + kΣ(x−k)ᵀ)/M + kkᵀ."""
    cross = np.outer(sum_x, k)
    return (sum_xx + cross + cross.T) / m + np.outer(k, k)


@dataclass(frozen=True)
class Moments:
    """Float64 sums over M samples of h − shift_h and y − shift_y (and of the raw h̃, ‖h‖);
    see :class:`nrc.metrics.CollapseStats`."""

    count: int
    sum_h: np.ndarray
    sum_hh: np.ndarray
    sum_hn_hn: np.ndarray
    sum_norm: float
    zero_rows: int
    sum_y: np.ndarray
    sum_yy: np.ndarray
    sum_hy: np.ndarray
    shift_h: np.ndarray
    shift_y: np.ndarray
    sum_r: np.ndarray | None = None
    sum_rr: np.ndarray | None = None

    def feature_covariance(self) -> np.ndarray:
        """Centred feature covariance Σ_H, ÷M."""
        mean = self.sum_h / self.count
        return self.sum_hh / self.count - np.outer(mean, mean)

    def feature_second_moment(self) -> np.ndarray:
        """Uncentred E[hhᵀ] (the "raw" convention), undoing the shift."""
        return _second_moment(self.sum_h, self.sum_hh, self.shift_h, self.count)

    def target_covariance(self) -> np.ndarray:
        """Centred target covariance Σ, ÷M (paper §1)."""
        mean = self.sum_y / self.count
        return self.sum_yy / self.count - np.outer(mean, mean)

    def target_sigma(self, convention: TargetConvention = "centered") -> np.ndarray:
        """The Σ of NRC3 in the target convention: the covariance or the uncentred E[yyᵀ]."""
        if convention == "centered":
            return self.target_covariance()
        return _second_moment(self.sum_y, self.sum_yy, self.shift_y, self.count)

    def cross_covariance(self) -> np.ndarray:
        """Centred cross-covariance Σ_HY (d×n), ÷M."""
        m = self.count
        return self.sum_hy / m - np.outer(self.sum_h / m, self.sum_y / m)

    def residual_sums(self, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Σr and Σrrᵀ of r = Wh + b − y, expanded in the moments (no second pass).

        With h' = h − K, y' = y − L: r = Wh' + b' − y' where b' = b + WK − L.
        """
        m = self.count
        b = b + w @ self.shift_h - self.shift_y
        wh = w @ self.sum_h
        sum_r = wh + m * b - self.sum_y
        cross = w @ self.sum_hy
        sum_rr = (
            w @ self.sum_hh @ w.T
            + np.outer(wh, b)
            + np.outer(b, wh)
            + m * np.outer(b, b)
            - cross
            - cross.T
            - np.outer(b, self.sum_y)
            - np.outer(self.sum_y, b)
            + self.sum_yy
        )
        return sum_r, sum_rr


@dataclass(frozen=True)
class CollapseReport:
    """NRC1–3 and the quantities around them for one set of features, head and targets.

    Lists are plain Python so the report serialises to JSON; :meth:`to_dict` flattens it into
    one row of scalars for a metrics table (:mod:`nrc.metrics.schema`). Values that do not exist
    carry ``None`` and a reason.
    """

    count: int
    d: int
    n: int
    convention: str
    target_convention: str
    nrc1: float
    nrc2: float
    nrc3: float | None
    nrc3_reason: str | None
    gamma: float | None
    gamma_protocol: str
    gamma_ratio: float | None
    nrc3_optimal: float | None
    gamma_optimal: float | None
    lambda_min: float
    lambda_max: float
    sigma: list[list[float]]
    target_corr: list[float]
    evr: list[float]
    nrc1_by_k: list[float]
    feature_norm_mean: float
    zero_feature_rows: int
    w_row_norms: list[float]
    wwt: list[list[float]]
    residual_source: str | None = None
    mse: float | None = None
    r2: float | None = None
    residual_mean: list[float] = field(default_factory=list)
    residual_cov: list[list[float]] = field(default_factory=list)
    residual_whiteness: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The flat metrics row of this report (:func:`nrc.metrics.schema.report_to_row`)."""
        return report_to_row(self)


def _upper_offdiag(mat: np.ndarray) -> list[float]:
    i, j = np.triu_indices(mat.shape[0], k=1)
    return mat[i, j].tolist()


def _correlation(cov: np.ndarray) -> np.ndarray:
    std = np.sqrt(np.diag(cov))
    return cov / np.outer(std, std)


def _values(value: Any) -> list[float]:
    """The numbers of a report field (scalar, list or matrix); None and strings give none."""
    if isinstance(value, list):
        return [v for item in value for v in _values(item)]
    return [value] if isinstance(value, int | float) else []


def check_finite(report: Any) -> Any:
    """``report`` (a dataclass) unchanged if every number in it is finite; else a ValueError
    naming the input."""
    for key, value in asdict(report).items():
        if not np.all(np.isfinite(_values(value))):
            source = _FIELD_INPUTS.get(key, "features and targets")
            raise ValueError(
                f"{source}: {key} is not finite in float64 — an input is out of float64's range "
                "(docs/metrics.md, float64 range); rescale it"
            )
    return report


def _head_gram(w: np.ndarray) -> np.ndarray:
    """WWᵀ, refused with a clear error when it overflows float64."""
    with np.errstate(over="ignore", invalid="ignore"):
        wwt = w @ w.T
    if not np.all(np.isfinite(wwt)):
        raise ValueError(
            f"W: WWᵀ overflows float64 (largest |W| entry {np.max(np.abs(w)):.3g}); rescale W "
            "(NRC2 and NRC3 do not depend on its scale)"
        )
    return wwt


def _feature_gram(moments: Moments, convention: Convention) -> np.ndarray:
    if convention.features == "normalized":
        return moments.sum_hn_hn / moments.count
    if convention.features == "raw":
        return moments.feature_second_moment()
    return moments.feature_covariance()


def _energy_by_direction(gram: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """qᵀ G q for each column q of the orthonormal ``basis``: the energy along each direction.

    G is positive semidefinite, so each value is ≥ 0; rounding can leave −1e-17, which is cut to 0
    so that a fully collapsed case reads 0 rather than a negative distance.
    """
    return np.clip(np.einsum("ij,ij->j", basis, gram @ basis), 0.0, None)


def tail_sums(energy: np.ndarray) -> np.ndarray:
    """``out[k]`` = energy outside the first k directions, summed from the smallest terms up."""
    return np.concatenate([np.cumsum(energy[::-1])[::-1], [0.0]])


@dataclass(frozen=True)
class FeatureGeometry:
    """The centred feature covariance's eigen-decomposition (descending) and the second-moment
    matrix G of the features in a convention, from which NRC1 and NRC2 are read."""

    eigvals: np.ndarray
    vectors: np.ndarray
    total_variance: float
    gram: np.ndarray
    scale: float

    def outside(self, basis: np.ndarray) -> np.ndarray:
        """``out[k]``: the energy of G outside the first k columns of the orthonormal ``basis``
        (NRC1 for the principal directions, NRC2 for a basis led by row(W))."""
        return tail_sums(_energy_by_direction(self.gram, basis)) / self.scale


def feature_geometry(moments: Moments, convention: Convention) -> FeatureGeometry:
    """The :class:`FeatureGeometry` of the moments; a ValueError if the features do not vary."""
    cov_h = moments.feature_covariance()
    # LAPACK's divide-and-conquer driver: 5.8 ms at d = 256 on one thread, numpy's eigh 9.7 ms
    # (docs/benchmarks.md); every eigenpair is kept because Deep NRC's layer report uses them.
    eig_h, vecs = scipy.linalg.eigh((cov_h + cov_h.T) / 2, driver="evd")
    eig_h, vecs = eig_h[::-1], vecs[:, ::-1]
    total_var = float(np.sum(eig_h))
    if total_var <= 0.0:
        raise ValueError(
            "features: zero variance (all feature vectors are equal), so the principal "
            "directions, EVR and NRC1 are undefined"
        )
    scale = total_var if convention.features == "centered" else 1.0
    return FeatureGeometry(eig_h, vecs, total_var, _feature_gram(moments, convention), scale)


def check_evr_k(evr_k: int | None, d: int) -> int:
    """The number of principal components of EVR and NRC1-by-k: ``evr_k`` or min(d, 10)."""
    k_max = min(d, 10) if evr_k is None else int(evr_k)
    if not 1 <= k_max <= d:
        raise ValueError(f"evr_k: must be between 1 and d = {d}, got {evr_k}")
    return k_max


def row_space_complement(w: np.ndarray) -> tuple[np.ndarray, int]:
    """An orthonormal basis of ℝᵈ whose first ``rank`` columns span the rows of W."""
    _, s, vt = np.linalg.svd(w, full_matrices=True)
    tol = max(w.shape) * np.finfo(float).eps * (s[0] if s.size else 0.0)
    rank = int(np.sum(s > tol)) if s.size and s[0] > 0 else 0
    return vt.T, rank


def _nrc3_fields(
    w: np.ndarray, sigma: np.ndarray, lam_min: float, gamma: float | None
) -> dict[str, Any]:
    empty = {"nrc3": None, "gamma": None, "gamma_ratio": None}
    empty |= {"nrc3_optimal": None, "gamma_optimal": None}
    if sigma.shape[0] == 1:
        return empty | {"nrc3_reason": "n = 1: NRC3 is trivially 0 and omitted (paper App. A.3)"}
    if not np.any(w):
        return empty | {"nrc3_reason": "W = 0: WWᵀ/‖WWᵀ‖_F is undefined"}
    g_opt, v_opt = optimal_gamma(w, sigma)
    g, v = (g_opt, v_opt) if gamma is None else (float(gamma), nrc3_at(w, sigma, gamma))
    return {
        "nrc3": v,
        "nrc3_reason": None,
        "gamma": g,
        "gamma_ratio": g / lam_min,
        "nrc3_optimal": v_opt,
        "gamma_optimal": g_opt,
    }


def _residual_fields(moments: Moments, w: np.ndarray, b: np.ndarray | None) -> dict[str, Any]:
    if moments.sum_rr is not None:
        sum_r, sum_rr, source = moments.sum_r, moments.sum_rr, "predictions"
    elif b is not None:
        sum_r, sum_rr = moments.residual_sums(w, b)
        source = "W,b"
    else:
        return {}
    m, n = moments.count, w.shape[0]
    mean = sum_r / m
    cov = sum_rr / m - np.outer(mean, mean)
    total = float(np.trace(moments.target_covariance())) * m
    whiteness = None
    if n > 1 and np.all(np.diag(cov) > 0):
        corr = _correlation(cov)
        whiteness = float(np.max(np.abs(corr - np.diag(np.diag(corr)))))
    return {
        "residual_source": source,
        "mse": float(np.trace(sum_rr)) / (m * n),
        "r2": 1.0 - float(np.trace(sum_rr)) / total,
        "residual_mean": mean.tolist(),
        "residual_cov": cov.tolist(),
        "residual_whiteness": whiteness,
    }


def report_from_moments(
    moments: Moments,
    w: np.ndarray,
    b: np.ndarray | None = None,
    *,
    gamma: float | None = None,
    convention: Convention | str | None = None,
    evr_k: int | None = None,
) -> CollapseReport:
    """Build the :class:`CollapseReport` from moments and the head (W, b); see module doc."""
    convention = as_convention(convention)
    d, n = moments.sum_hy.shape
    if n > d:
        raise ValueError(
            f"targets: n = {n} targets exceed the feature dimension d = {d} (need n ≤ d)"
        )
    if w.shape != (n, d):
        raise ValueError(f"W: shape {w.shape} but the statistics need (n, d) = ({n}, {d})")
    if b is not None and b.shape != (n,):
        raise ValueError(f"b: shape {b.shape} but the head has n = {n} outputs")
    if moments.count < 2:
        raise ValueError(f"statistics: {moments.count} sample(s); covariances need at least 2")
    k_max = check_evr_k(evr_k, d)
    sigma = moments.target_sigma(convention.targets)
    sigma = (sigma + sigma.T) / 2
    eig_y = check_target_covariance(sigma, "targets")
    wwt = _head_gram(w)

    geometry = feature_geometry(moments, convention)
    basis_w, rank_w = row_space_complement(w)
    outside_pcs = geometry.outside(geometry.vectors)
    outside_w = geometry.outside(basis_w)
    with np.errstate(over="ignore", invalid="ignore"):  # out-of-range residuals: check_finite
        residuals = _residual_fields(moments, w, b)
    report = CollapseReport(
        count=moments.count,
        d=d,
        n=n,
        convention=convention.features,
        target_convention=convention.targets,
        nrc1=float(outside_pcs[n]),
        nrc2=float(outside_w[rank_w]),
        gamma_protocol="optimal" if gamma is None else "fixed",
        lambda_min=float(eig_y[0]),
        lambda_max=float(eig_y[-1]),
        sigma=sigma.tolist(),
        target_corr=_upper_offdiag(_correlation(sigma)),
        evr=(geometry.eigvals[:k_max] / geometry.total_variance).tolist(),
        nrc1_by_k=outside_pcs[1 : k_max + 1].tolist(),
        feature_norm_mean=moments.sum_norm / moments.count,
        zero_feature_rows=moments.zero_rows,
        w_row_norms=np.linalg.norm(w, axis=1).tolist(),
        wwt=wwt.tolist(),
        **_nrc3_fields(w, sigma, float(eig_y[0]), gamma),
        **residuals,
    )
    return check_finite(report)
