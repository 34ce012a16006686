"""Constructed cases with known answers, streaming equality and invariances."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from nrc.metrics import CollapseStats, compute, nrc3_at, optimal_gamma, sqrtm_psd
from tests.metrics import reference as ref
from tests.metrics.conftest import make_case, orthonormal_rows, random_spd

SCALARS = ("nrc1", "nrc2", "nrc3", "gamma", "mse", "r2", "lambda_min", "feature_norm_mean")


def assert_reports_close(a, b, rtol: float = 1e-10) -> None:
    for key in SCALARS:
        assert getattr(a, key) == pytest.approx(getattr(b, key), rel=rtol, abs=1e-13), key
    np.testing.assert_allclose(a.evr, b.evr, rtol=rtol, atol=1e-13)
    np.testing.assert_allclose(a.nrc1_by_k, b.nrc1_by_k, rtol=1e-7, atol=1e-12)


@pytest.mark.parametrize("n", [2, 3, 5])
def test_exact_collapse_gives_zero_and_recovers_gamma(n: int) -> None:
    """Features in row(W), WWᵀ ∝ Σ^½ − √γ I (Corollary 4.2): NRC1–3 vanish, γ is found."""
    rng = np.random.default_rng(n)
    d, m = 32, 400
    y = rng.multivariate_normal(np.zeros(n), random_spd(rng, n), size=m)
    sigma = ref.sigma(y)
    gamma = 0.37 * np.linalg.eigvalsh(sigma)[0]
    a = sqrtm_psd(sigma) - np.sqrt(gamma) * np.eye(n)
    r = orthonormal_rows(rng, n, d)
    w = 2.5 * sqrtm_psd(a) @ r
    h = (rng.normal(size=(m, n)) + 3.0) @ r
    report = compute(h, w, y)
    assert report.nrc1 <= 1e-10
    assert report.nrc2 <= 1e-10
    assert report.nrc3 <= 1e-10
    assert report.gamma == pytest.approx(gamma, rel=1e-6)


def test_univariate_has_no_nrc3_but_collapses() -> None:
    rng = np.random.default_rng(1)
    w = rng.normal(size=(1, 8))
    y = rng.normal(size=(300, 1))
    h = y @ w  # features on the line of w (paper §4.2)
    report = compute(h, w, y)
    assert report.nrc3 is None and report.gamma is None
    assert "n = 1" in report.nrc3_reason
    assert report.nrc1 <= 1e-12 and report.nrc2 <= 1e-12


def test_zero_head_has_no_nrc3() -> None:
    h, _, _, y = make_case(0, 2, 8, 100)
    report = compute(h, np.zeros((2, 8)), y)
    assert report.nrc3 is None and "W = 0" in report.nrc3_reason
    assert report.nrc2 == pytest.approx(1.0)


@settings(max_examples=25, deadline=None)
@given(
    cuts=st.lists(st.integers(min_value=0, max_value=300), max_size=6),
    seed=st.integers(0, 2**16),
)
def test_streaming_any_split_equals_one_batch(cuts: list[int], seed: int) -> None:
    h, w, b, y = make_case(seed, 3, 12, 300)
    pred = h @ w.T + b
    whole = compute(h, w, y, b, predictions=pred)
    stats = CollapseStats()
    bounds = [0, *sorted(cuts), 300]
    for lo, hi in itertools.pairwise(bounds):
        stats.update(torch.from_numpy(h[lo:hi]), torch.from_numpy(y[lo:hi]), pred[lo:hi])
    assert_reports_close(stats.compute(w, b), whole)


def test_merge_equals_one_batch_and_residuals_agree() -> None:
    h, w, b, y = make_case(5, 2, 16, 500)
    pred = h @ w.T + b
    parts = [CollapseStats().update(h[i::3], y[i::3], pred[i::3]) for i in range(3)]
    merged = parts[0].merge(parts[1]).merge(parts[2])
    whole = compute(h, w, y, b, predictions=pred)
    assert_reports_close(merged.compute(w, b), whole)
    from_moments = compute(h, w, y, b)  # residuals expanded from moments, no predictions
    assert from_moments.residual_source == "W,b" and whole.residual_source == "predictions"
    assert from_moments.mse == pytest.approx(whole.mse, rel=1e-9)
    np.testing.assert_allclose(from_moments.residual_cov, whole.residual_cov, rtol=1e-8)


def test_invariances() -> None:
    h, w, b, y = make_case(11, 3, 10, 400)
    base = compute(h, w, y, b)
    perm = np.random.default_rng(0).permutation(len(h))
    assert_reports_close(compute(h[perm], w, y[perm], b), base)
    rot, _ = np.linalg.qr(np.random.default_rng(1).normal(size=(10, 10)))
    rotated = compute(h @ rot, w @ rot, y, b)
    assert_reports_close(rotated, base, rtol=1e-8)
    scaled = compute(h, 7.5 * w, y)
    assert scaled.nrc2 == pytest.approx(base.nrc2, rel=1e-12)
    assert scaled.nrc3 == pytest.approx(base.nrc3, rel=1e-10)
    assert scaled.gamma == pytest.approx(base.gamma, rel=1e-10)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**16), n=st.integers(2, 6), frac=st.floats(0.0, 1.0))
def test_optimal_gamma_is_never_beaten(seed: int, n: int, frac: float) -> None:
    rng = np.random.default_rng(seed)
    sigma = random_spd(rng, n)
    w = rng.normal(size=(n, n + 3))
    gamma, value = optimal_gamma(w, sigma)
    lam_min = np.linalg.eigvalsh(sigma)[0]
    assert 0.0 <= gamma <= lam_min * (1 + 1e-12)
    assert value <= nrc3_at(w, sigma, frac * lam_min) + 1e-12
    assert value == pytest.approx(ref.nrc3(w, sigma, gamma), abs=1e-12)


def test_residuals_of_whitened_targets_are_white() -> None:
    """App. B: residuals −√c Σ^{-½}(Y − Ȳ) have covariance c·I, no cross-correlation."""
    rng = np.random.default_rng(2)
    n, m, c = 3, 2000, 0.01
    y = rng.multivariate_normal(np.zeros(n), random_spd(rng, n), size=m)
    sigma = ref.sigma(y)
    residual = -np.sqrt(c) * (y - y.mean(0)) @ np.linalg.inv(sqrtm_psd(sigma))
    h = rng.normal(size=(m, 8))
    report = compute(h, rng.normal(size=(n, 8)), y, predictions=y + residual)
    np.testing.assert_allclose(report.residual_cov, c * np.eye(n), atol=1e-12)
    assert report.residual_whiteness <= 1e-9


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("as_tensor", [False, True])
def test_inputs_are_never_modified(dtype, as_tensor: bool) -> None:
    h, w, b, y = make_case(4, 2, 8, 64)
    h = h.astype(dtype)
    original = h.copy()
    compute(torch.from_numpy(h) if as_tensor else h, w, y, b)
    np.testing.assert_array_equal(h, original)
