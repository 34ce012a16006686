"""Intrinsic dimension of a point cloud by TwoNN (Facco, d'Errico, Rodriguez, Laio, *Sci. Rep.*
2017), as used for features and targets by Andriopoulos et al., *Geometric Properties of Neural
Multivariate Regression* (arXiv 2510.01105). Owns ``intrinsic_dimension``; docs/metrics.md,
Intrinsic dimension.

With r1, r2 the distances of a point to its first and second nearest neighbour, μ = r2/r1
follows a Pareto law with exponent d. The maximum-likelihood estimate over N points is
d = (N − 1)/Σ log μ_i; the original paper instead fits a line through the origin to
−log(1 − F(μ)) against log μ after discarding the largest fraction of the μ.

Nearest neighbours are exact and found in tiles of query rows, O(N·tile) memory, on the input's
device: candidates from the float64 Gram expansion of the centred points, then the distances to
the four nearest candidates recomputed directly as ‖x_i − x_j‖ (the expansion alone loses
relative precision for close points). Exact duplicate rows are dropped first (one copy kept):
a duplicate has r1 = 0 and no ratio.
"""

from __future__ import annotations

import logging
from typing import Literal

import torch

from nrc.metrics.validate import ArrayLike, as_float64

log = logging.getLogger(__name__)

Fit = Literal["mle", "linear"]
FITS: tuple[str, ...] = ("mle", "linear")
METHODS: tuple[str, ...] = ("twonn",)
# Largest query-tile × N block of distances held at once (float64 entries, 256 MiB).
_BLOCK_ENTRIES = 2**25
# Candidates per point whose distances are recomputed exactly.
_CANDIDATES = 4


def _check_options(
    method: str, fit: str, discard_fraction: float, max_points: int | None, tile: int | None
) -> None:
    if method not in METHODS:
        raise ValueError(f"method: {method!r} is not one of {METHODS}")
    if fit not in FITS:
        raise ValueError(f"fit: {fit!r} is not one of {FITS}")
    if not 0.0 <= discard_fraction < 1.0:
        raise ValueError(f"discard_fraction: must be in [0, 1), got {discard_fraction}")
    if max_points is not None and (isinstance(max_points, bool) or int(max_points) < 3):
        raise ValueError(f"max_points: must be an integer >= 3 or None, got {max_points}")
    if tile is not None and (isinstance(tile, bool) or int(tile) < 1):
        raise ValueError(f"tile: must be a positive integer or None, got {tile}")


def _distinct_points(x: torch.Tensor, name: str) -> torch.Tensor:
    """The distinct rows of ``x`` (exact duplicates dropped, logged); at least 3 of them."""
    distinct = torch.unique(x, dim=0)
    dropped = x.shape[0] - distinct.shape[0]
    if dropped:
        log.info("intrinsic_dimension: dropped %d duplicate row(s) of %s", dropped, name)
    if distinct.shape[0] < 3:
        raise ValueError(
            f"{name}: TwoNN needs at least 3 distinct points, got {distinct.shape[0]} "
            f"({x.shape[0]} rows)"
        )
    return distinct


def _subsample(x: torch.Tensor, max_points: int | None, seed: int) -> torch.Tensor:
    """At most ``max_points`` rows of ``x``, drawn without replacement from ``seed``."""
    if max_points is None or x.shape[0] <= max_points:
        return x
    generator = torch.Generator().manual_seed(int(seed))
    rows = torch.randperm(x.shape[0], generator=generator)[: int(max_points)]
    return x[rows.to(x.device)]


def _two_nearest(x: torch.Tensor, tile: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Distances (r1, r2) of every row of ``x`` (N×D, float64, distinct rows) to its first and
    second nearest other row, exact, computed ``tile`` query rows at a time."""
    n = x.shape[0]
    x = x - x.mean(0)
    tile = max(1, _BLOCK_ENTRIES // n) if tile is None else int(tile)
    sq = (x * x).sum(1)
    k = min(_CANDIDATES, n - 1)
    r1, r2 = torch.empty(n, dtype=x.dtype, device=x.device), torch.empty_like(sq)
    for start in range(0, n, tile):
        query = x[start : start + tile]
        rows = torch.arange(query.shape[0], device=x.device)
        block = sq[start : start + tile, None] + sq[None, :] - 2.0 * (query @ x.T)
        block[rows, start + rows] = torch.inf
        candidates = block.topk(k, dim=1, largest=False).indices
        exact = torch.linalg.vector_norm(query[:, None, :] - x[candidates], dim=2)
        exact = exact.sort(dim=1).values
        r1[start : start + tile], r2[start : start + tile] = exact[:, 0], exact[:, 1]
    return r1, r2


def _estimate(log_mu: torch.Tensor, fit: str, discard_fraction: float, name: str) -> float:
    n = log_mu.numel()
    if fit == "mle":
        total = float(log_mu.sum())
        if total <= 0.0:
            raise ValueError(
                f"{name}: every point's two nearest neighbours are equidistant (Σ log μ = 0), "
                "so the TwoNN estimate is undefined"
            )
        return (n - 1) / total
    keep = int(n * (1.0 - discard_fraction))
    if keep < 2:
        raise ValueError(f"{name}: fewer than 2 ratios left after discarding {discard_fraction}")
    x = log_mu.sort().values[:keep]
    cdf = torch.arange(1, keep + 1, dtype=x.dtype, device=x.device) / n
    y = -torch.log1p(-cdf)
    denominator = float((x * x).sum())
    if denominator <= 0.0:
        raise ValueError(f"{name}: all kept ratios μ are 1, so the TwoNN fit is undefined")
    return float((x * y).sum()) / denominator


def intrinsic_dimension(
    X: ArrayLike,
    method: str = "twonn",
    max_points: int | None = None,
    seed: int = 0,
    *,
    fit: Fit = "mle",
    discard_fraction: float = 0.1,
    tile: int | None = None,
) -> float:
    """The TwoNN intrinsic dimension of the rows of ``X`` (N×D, numpy or torch, any device).

    ``fit="mle"`` (default): d = (N − 1)/Σ log(r2/r1) over all N points. ``fit="linear"``: the
    slope through the origin of −log(1 − i/N) against the i-th smallest log μ, after discarding
    the largest ``discard_fraction`` of the μ (Facco et al. 2017; 0.1 as there). Exact duplicate
    rows are dropped first (one copy of each kept, logged); above ``max_points`` distinct rows a
    subsample of that size is drawn from ``seed``. ``tile`` query rows are processed at a time
    (default: blocks of at most 2²⁵ distances), so memory is O(N·tile).
    """
    _check_options(method, fit, discard_fraction, max_points, tile)
    x = as_float64(X, "X", ndim=2)
    if x.shape[1] == 0:
        raise ValueError(f"X: shape {tuple(x.shape)} has no columns")
    x = _subsample(_distinct_points(x, "X"), max_points, seed)
    r1, r2 = _two_nearest(x, tile)
    if not bool((r1 > 0).all()):
        raise ValueError("X: distinct points closer than float64 resolves (distance 0); rescale X")
    return _estimate(torch.log(r2 / r1), fit, discard_fraction, "X")
