"""TwoNN intrinsic dimension: against scikit-dimension and an exact k-d-tree reference, on
subspaces of known dimension, tiling, duplicates, subsampling and bad input."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from scipy.spatial import cKDTree

from nrc.metrics import intrinsic_dimension
from tests.metrics.conftest import orthonormal_rows


def _subspace_points(k: int, dim: int, m: int, seed: int) -> np.ndarray:
    """m Gaussian points of a k-dim affine subspace of R^dim (rotated, scaled, shifted)."""
    rng = np.random.default_rng(seed)
    return 3.0 * rng.normal(size=(m, k)) @ orthonormal_rows(rng, k, dim) + rng.normal(size=dim)


def _kdtree_ratios(x: np.ndarray) -> np.ndarray:
    """μ = r2/r1 with exact neighbours from scipy's k-d tree (independent of nrc)."""
    dist, _ = cKDTree(x).query(x, k=3)
    return dist[:, 2] / dist[:, 1]


def _reference(x: np.ndarray, fit: str, discard: float = 0.1) -> float:
    mu = _kdtree_ratios(x)
    n = mu.size
    if fit == "mle":
        return (n - 1) / np.sum(np.log(mu))
    keep = int(n * (1 - discard))
    lx = np.log(np.sort(mu)[:keep])
    ly = -np.log(1 - np.arange(1, keep + 1) / n)
    return float(lx @ ly / (lx @ lx))


@pytest.mark.parametrize(("k", "dim"), [(1, 10), (2, 3), (3, 20), (5, 30), (8, 40)])
@pytest.mark.parametrize("fit", ["mle", "linear"])
def test_agrees_with_an_exact_kd_tree_reference(k: int, dim: int, fit: str) -> None:
    x = _subspace_points(k, dim, 1500, k)
    assert intrinsic_dimension(x, fit=fit) == pytest.approx(_reference(x, fit), rel=1e-12)


# skdim's MLE path also returns its linear-fit coordinates, whose last point is −log 0.
@pytest.mark.filterwarnings("ignore:divide by zero encountered in log:RuntimeWarning")
@pytest.mark.parametrize(("k", "dim"), [(1, 10), (2, 3), (3, 20), (5, 12)])
def test_agrees_with_scikit_dimension(k: int, dim: int) -> None:
    """skdim's exact k-d-tree path (dim ≤ 25; above it skdim uses the Gram expansion, which
    loses ~1e-5 relative on 1-dim data far from the origin)."""
    import skdim  # pinned in requirements.txt: an independent implementation from PyPI

    x = _subspace_points(k, dim, 1500, 10 + k)
    mle = skdim.id.TwoNN(discard_fraction=0.0, method="mle").fit(x).dimension_
    linear = skdim.id.TwoNN(discard_fraction=0.1, method="linear").fit(x).dimension_
    assert intrinsic_dimension(x) == pytest.approx(mle, rel=1e-9)
    assert intrinsic_dimension(x, fit="linear") == pytest.approx(linear, rel=1e-9)


@pytest.mark.parametrize("k", [1, 2, 3, 5, 8])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_points_of_a_k_dim_subspace_give_k(k: int, seed: int) -> None:
    """N = 2000 Gaussian points: |d − k| ≤ 0.1·k + 0.05 (the MLE's standard error is k/√N,
    2.2 % of k; measured worst 0.15 at k = 3)."""
    x = _subspace_points(k, 30, 2000, 100 * k + seed)
    for fit in ("mle", "linear"):
        assert abs(intrinsic_dimension(x, fit=fit) - k) <= 0.1 * k + 0.05, fit


def test_tiles_and_torch_inputs_give_the_same_answer() -> None:
    x = _subspace_points(3, 12, 700, 5)
    whole = intrinsic_dimension(x)
    assert intrinsic_dimension(x, tile=7) == whole
    assert intrinsic_dimension(x, tile=10_000) == whole
    assert intrinsic_dimension(torch.from_numpy(x).float()) == pytest.approx(whole, rel=1e-5)


def test_exact_duplicates_are_dropped(caplog: pytest.LogCaptureFixture) -> None:
    x = _subspace_points(2, 5, 400, 3)
    doubled = np.concatenate([x, x[:50], x[:10]])
    with caplog.at_level(logging.INFO, logger="nrc.metrics.intrinsic"):
        value = intrinsic_dimension(doubled)
    assert value == pytest.approx(intrinsic_dimension(x), rel=1e-12)
    assert "dropped 60 duplicate row(s)" in caplog.text


def test_subsample_is_seeded_and_bounded() -> None:
    x = _subspace_points(4, 10, 3000, 8)
    a = intrinsic_dimension(x, max_points=800, seed=1)
    assert a == intrinsic_dimension(x, max_points=800, seed=1)
    assert a != intrinsic_dimension(x, max_points=800, seed=2)
    assert abs(a - 4) <= 0.5
    assert intrinsic_dimension(x, max_points=5000) == intrinsic_dimension(x)


@pytest.mark.parametrize(
    ("x", "kwargs", "match"),
    [
        (np.ones(10), {}, "X: expected 2-D"),
        (np.full((10, 2), np.nan), {}, "X: 20 NaN"),
        (np.zeros((10, 2), dtype=int), {}, "X: dtype .*int64 is not floating point"),
        (np.ones((10, 2)), {}, "X: TwoNN needs at least 3 distinct points, got 1"),
        (np.zeros((10, 0)), {}, "X: shape .* has no columns"),
        (np.eye(4), {}, "Σ log μ = 0"),
        (np.eye(4), {"method": "mle"}, "method: 'mle' is not one of"),
        (np.eye(4), {"fit": "ols"}, "fit: 'ols' is not one of"),
        (np.eye(4), {"discard_fraction": 1.0}, "discard_fraction"),
        (np.eye(4), {"max_points": 2}, "max_points"),
        (np.eye(4), {"tile": 0}, "tile"),
    ],
)
def test_bad_input_is_a_clear_error(x: np.ndarray, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        intrinsic_dimension(x, **kwargs)
