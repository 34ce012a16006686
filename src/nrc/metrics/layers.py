"""Deep Neural Regression Collapse at any layer (owns ``LayerStats``, ``LayerReport`` and
``layer_report``; formulas in docs/metrics.md, Layers).

The four conditions of Rangamani & Unal (*Deep Neural Regression Collapse*, CPAL 2026) and the
stable ranks, all from the same float64 moments as NRC1–3 (:class:`CollapseStats`): with Σ_H the
centred feature covariance, Σ_Y the centred target covariance and Σ_HY their cross-covariance
(all ÷M),

- ``noise_fraction`` = 1 − (sum of the top-k eigenvalues of Σ_H) / tr Σ_H (condition 1);
- ``cka`` = ‖Σ_YH‖²_F / (‖Σ_H‖_F ‖Σ_Y‖_F), linear CKA (Kornblith et al., 2019; condition 2);
- ``alignment`` = mean singular value of V_Hᵀ V_W, V_H the top-k eigenvectors of Σ_H and V_W
  the top-k right singular vectors of the next layer's weight (condition 3);
- ``probe_mse`` = (tr Σ_Y − tr Σ_YH Σ_H⁺ Σ_HY)/n, the least-squares linear probe with a bias
  (condition 4);
- ``stable_rank_h`` = tr Σ_H / λmax(Σ_H), ``stable_rank_w`` = ‖W‖²_F / σmax(W)².

No M×M matrix is ever formed: memory is O(d² + n²) for any number of samples.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from nrc.metrics.convention import Convention, as_convention
from nrc.metrics.report import (
    FeatureGeometry,
    Moments,
    check_evr_k,
    check_finite,
    feature_geometry,
    tail_sums,
)
from nrc.metrics.schema import report_to_row
from nrc.metrics.stats import CollapseStats
from nrc.metrics.validate import ArrayLike, as_float64


@dataclass(frozen=True)
class LayerReport:
    """Deep NRC's conditions, the stable ranks and the paper's NRC1 at one layer.

    ``k`` = ``n_components`` (default n) principal directions enter the noise fraction and the
    alignment; NRC1 is the paper's (k = n) in ``convention``, ``nrc1_by_k`` for k = 1…``evr_k``.
    CKA and the probe are centred by definition; ``target_convention`` is recorded so that layer
    rows and head rows of one table carry the same columns. Values that do not exist are None
    with a reason (``alignment`` without a next layer) or None (``model_mse`` and
    ``probe_mse_ratio`` without predictions; the ratio also when the model's MSE is 0).
    """

    count: int
    d: int
    n: int
    n_components: int
    convention: str
    target_convention: str
    noise_fraction: float
    cka: float
    alignment: float | None
    alignment_reason: str | None
    probe_mse: float
    probe_rtol: float
    probe_rank: int
    model_mse: float | None
    probe_mse_ratio: float | None
    stable_rank_h: float
    stable_rank_w: float | None
    nrc1: float
    nrc1_by_k: list[float]
    evr: list[float]

    def to_dict(self) -> dict[str, Any]:
        """The flat metrics row of this report (:func:`nrc.metrics.schema.report_to_row`)."""
        return report_to_row(self)


def _check_n_components(n_components: int | None, n: int, d: int) -> int:
    k = n if n_components is None else n_components
    if isinstance(k, bool) or int(k) != k or not 1 <= k <= d:
        raise ValueError(
            f"n_components: must be an integer between 1 and the feature dimension d = {d}, "
            f"got {n_components}"
        )
    return int(k)


def _check_probe_rtol(probe_rtol: float) -> float:
    rtol = float(probe_rtol)
    if not 0.0 < rtol < 1.0:
        raise ValueError(f"probe_rtol: must be a number in (0, 1), got {probe_rtol}")
    return rtol


def _probe(
    geometry: FeatureGeometry, cross: np.ndarray, sigma_y: np.ndarray, rtol: float
) -> tuple[float, int]:
    """(probe MSE, rank kept): (tr Σ_Y − Σ_{j kept} ‖v_jᵀ Σ_HY‖²/λ_j)/n, keeping the
    eigenvalues λ_j > rtol²·λmax of Σ_H (singular values of the centred H above rtol·σmax)."""
    eig = geometry.eigvals
    kept = eig > rtol**2 * eig[0]
    coeffs = geometry.vectors[:, kept].T @ cross
    explained = float(np.sum(np.sum(coeffs**2, axis=1) / eig[kept]))
    return max(float(np.trace(sigma_y)) - explained, 0.0) / sigma_y.shape[0], int(kept.sum())


def _next_map(
    vectors: np.ndarray, w: np.ndarray | None, k: int
) -> tuple[float | None, str | None, float | None]:
    """(alignment, its reason when undefined, stable rank of W) from one thin SVD of W.

    The alignment is the mean cosine of the principal angles between the top-k feature
    directions and the top right singular vectors of W (at most its rank of them); the stable
    rank is ‖W‖²_F / σmax(W)².
    """
    if w is None:
        return None, "no W_next: the layer is not followed by a linear map", None
    with np.errstate(over="ignore", invalid="ignore"):  # out-of-range W_next: check_finite
        _, s, vt = np.linalg.svd(w, full_matrices=False)
    tol = max(w.shape) * np.finfo(float).eps * (s[0] if s.size else 0.0)
    rank = int(np.sum(s > tol)) if s.size and s[0] > 0 else 0
    if rank == 0:
        return None, "W_next = 0: it has no input subspace", None
    cosines = np.linalg.svd(vectors[:, :k].T @ vt[: min(k, rank)].T, compute_uv=False)
    return float(np.mean(cosines)), None, float(np.sum(s**2) / s[0] ** 2)


def _model_mse(moments: Moments) -> float | None:
    if moments.sum_rr is None:
        return None
    return float(np.trace(moments.sum_rr)) / (moments.count * moments.sum_rr.shape[0])


def layer_report_from_moments(
    moments: Moments,
    w_next: np.ndarray | None = None,
    *,
    n_components: int | None = None,
    probe_rtol: float = 1e-3,
    convention: Convention | str | None = None,
    evr_k: int | None = None,
) -> LayerReport:
    """Build the :class:`LayerReport` from moments and the next layer's weight (out×d)."""
    convention = as_convention(convention)
    d, n = moments.sum_hy.shape
    if n > d:
        raise ValueError(
            f"targets: n = {n} targets exceed the feature dimension d = {d} (need n ≤ d)"
        )
    if w_next is not None and w_next.shape[1] != d:
        raise ValueError(
            f"W_next: shape {w_next.shape} but the layer's features have d = {d} columns "
            "(W_next is the out×d weight applied to them)"
        )
    if moments.count < 2:
        raise ValueError(f"statistics: {moments.count} sample(s); covariances need at least 2")
    k = _check_n_components(n_components, n, d)
    rtol = _check_probe_rtol(probe_rtol)
    k_max = check_evr_k(evr_k, d)
    sigma_y = moments.target_covariance()
    sigma_y = (sigma_y + sigma_y.T) / 2
    if float(np.trace(sigma_y)) <= 0.0:
        raise ValueError("targets: zero variance (all target vectors are equal); CKA is undefined")
    geometry = feature_geometry(moments, convention)
    cov_h = moments.feature_covariance()
    cross = moments.cross_covariance()
    eig = np.clip(geometry.eigvals, 0.0, None)
    alignment, reason, stable_rank_w = _next_map(geometry.vectors, w_next, k)
    probe_mse, probe_rank = _probe(geometry, cross, sigma_y, rtol)
    model_mse = _model_mse(moments)
    outside_pcs = geometry.outside(geometry.vectors)
    report = LayerReport(
        count=moments.count,
        d=d,
        n=n,
        n_components=k,
        convention=convention.features,
        target_convention=convention.targets,
        noise_fraction=float(tail_sums(eig)[k]) / geometry.total_variance,
        cka=float(np.sum(cross**2)) / float(np.linalg.norm(cov_h) * np.linalg.norm(sigma_y)),
        alignment=alignment,
        alignment_reason=reason,
        probe_mse=probe_mse,
        probe_rtol=rtol,
        probe_rank=probe_rank,
        model_mse=model_mse,
        probe_mse_ratio=probe_mse / model_mse if model_mse else None,
        stable_rank_h=geometry.total_variance / float(geometry.eigvals[0]),
        stable_rank_w=stable_rank_w,
        nrc1=float(outside_pcs[n]),
        nrc1_by_k=outside_pcs[1 : k_max + 1].tolist(),
        evr=(geometry.eigvals[:k_max] / geometry.total_variance).tolist(),
    )
    return check_finite(report)


class LayerStats(CollapseStats):
    """Streaming moments of one layer's features and the targets (and, optionally, the
    model's predictions), for a :class:`LayerReport`.

    The same float64 sums as :class:`CollapseStats` (count, Σh, Σhhᵀ, Σh̃h̃ᵀ, Σy, Σyyᵀ, Σhyᵀ and
    the residual sums of the predictions), so ``update``, ``merge`` and ``all_reduce`` are the
    same; memory O(d² + n²). A monitor keeps one per probed layer and feeds it from one forward
    pass (docs/metrics.md, Layers)::

        stats = {name: LayerStats() for name in modules}
        with LayerProbe(modules, pool="mean") as probe, torch.no_grad():
            for x, y in loader:
                predictions = model(x)
                for name, captured in probe.take().items():
                    stats[name].update(captured.output, y, predictions)
        reports = {name: s.report(next_weight[name]) for name, s in stats.items()}

    Passing the model's predictions with every batch gives ``model_mse`` and
    ``probe_mse_ratio``; without them those fields are None.
    """

    def report(
        self,
        W_next: ArrayLike | None = None,
        *,
        n_components: int | None = None,
        probe_rtol: float = 1e-3,
        convention: Convention | str | None = None,
        evr_k: int | None = None,
    ) -> LayerReport:
        """The :class:`LayerReport` of the accumulated batches.

        ``W_next`` (out×d) is the weight of the linear map applied to these features (the head
        for the penultimate layer), or None when there is none. ``n_components`` principal
        directions (default n) enter the noise fraction and the alignment. The probe's
        pseudo-inverse drops singular values of the centred features below ``probe_rtol`` × the
        largest. ``convention`` (a :class:`Convention` or its name) is the NRC1 convention;
        ``evr_k`` the number of EVR and NRC1-by-k entries (default min(d, 10)).
        """
        w = None if W_next is None else as_float64(W_next, "W_next", ndim=2).cpu().numpy()
        return layer_report_from_moments(
            self.moments(),
            w,
            n_components=n_components,
            probe_rtol=probe_rtol,
            convention=convention,
            evr_k=evr_k,
        )


def layer_report(
    H: ArrayLike,
    Y: ArrayLike,
    W_next: ArrayLike | None = None,
    *,
    predictions: ArrayLike | None = None,
    n_components: int | None = None,
    probe_rtol: float = 1e-3,
    convention: Convention | str | None = None,
    evr_k: int | None = None,
) -> LayerReport:
    """One-call :class:`LayerReport` on in-memory arrays: H (M×d features at the layer),
    Y (M×n targets), W_next (out×d, optional), predictions (M×n model outputs, optional);
    the other arguments as :meth:`LayerStats.report`."""
    stats = LayerStats().update(H, Y, predictions)
    return stats.report(
        W_next,
        n_components=n_components,
        probe_rtol=probe_rtol,
        convention=convention,
        evr_k=evr_k,
    )
