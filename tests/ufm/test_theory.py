"""UFM closed forms (paper §4) against the paper's worked examples and independent references."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch

from nrc.metrics import compute
from nrc.ufm import (
    Regime,
    objective,
    optimal_loss,
    optimal_norms,
    optimal_wwt,
    predicted_residuals,
    solve,
    unregularized_features,
)


def _cov(y: np.ndarray) -> np.ndarray:
    centered = y - y.mean(axis=0)
    return centered.T @ centered / y.shape[0]


def _loss_at(sol, y: np.ndarray) -> float:
    """Problem (1) evaluated by the torch objective at a closed-form point."""
    t = torch.from_numpy
    return float(objective(t(sol.H), t(sol.W), t(sol.b), t(y), sol.lambda_w, sol.lambda_h))


def _random_rotation(n: int, d: int, seed: int) -> np.ndarray:
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(d, n)))
    return q.T


# --- n = 1, paper §4.2 -------------------------------------------------------------------------


def test_univariate_sphere_line_and_zero_mean(diagonal_targets):
    y = diagonal_targets(50, [1.7], 0)
    sigma = 1.7
    lw, lh, d = 0.3, 0.8, 6
    c = lw * lh
    rot = _random_rotation(1, d, 1)
    sol = solve(y, lw, lh, d, rotation=rot)
    w = sol.W[0]
    assert sol.regime is Regime.FULL_RANK and sol.rank == 1
    np.testing.assert_allclose(w @ w, lh * (sigma / np.sqrt(c) - 1), rtol=1e-12)
    np.testing.assert_allclose(w / np.linalg.norm(w), rot[0], atol=1e-12)
    expected_h = np.sqrt(lw / lh) / sigma * np.outer(y[:, 0] - y[:, 0].mean(), w)
    np.testing.assert_allclose(sol.H, expected_h, atol=1e-12)
    np.testing.assert_allclose(sol.H.mean(axis=0), 0.0, atol=1e-12)
    # features on the line of w: every h_i is parallel to w, and ‖h_i‖ ∝ |y_i − ȳ|
    cross = sol.H - np.outer(sol.H @ w / (w @ w), w)
    np.testing.assert_allclose(cross, 0.0, atol=1e-12)
    ratio = np.linalg.norm(sol.H, axis=1) / np.abs(y[:, 0] - y[:, 0].mean())
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-10)
    np.testing.assert_allclose(sol.b, y.mean(axis=0), atol=1e-12)


def test_univariate_strong_regularisation_is_zero(diagonal_targets):
    y = diagonal_targets(40, [0.9], 2)
    sol = solve(y, 1.0, 0.9, 4)  # c = 0.9 > σ² = 0.81
    assert sol.regime is Regime.ZERO and sol.rank == 0
    assert not sol.W.any() and not sol.H.any()
    np.testing.assert_allclose(sol.loss, 0.5 * 0.81, rtol=1e-12)


# --- n = 3 diagonal Σ, App. D.1: all four regimes ------------------------------------------------

SIGMAS = [2.0, 1.2, 0.5]


@pytest.mark.parametrize(
    ("c", "survivors"),
    [(0.1, 3), (0.6, 2), (2.0, 1), (5.0, 0)],  # c < σ3², σ3² < c < σ2², σ2² < c < σ1², c > σ1²
)
def test_three_targets_diagonal_regimes(diagonal_targets, c, survivors):
    y = diagonal_targets(60, SIGMAS, 3)
    lw = 0.7
    lh = c / lw
    sol = solve(y, lw, lh, 5)
    assert sol.rank == survivors
    expected_regime = [Regime.ZERO, Regime.TRUNCATED, Regime.TRUNCATED, Regime.FULL_RANK]
    assert sol.regime is expected_regime[survivors]
    centred = y - y.mean(axis=0)
    expected_h = np.zeros_like(sol.H)
    for j, sigma in enumerate(SIGMAS):
        w_j = sol.W[j]
        if j < survivors:  # w_jᵀ = √(λ_H(σ_j/√c − 1)) e_j with e_j the j-th axis of R = [I 0]
            expected_w = np.sqrt(lh * (sigma / np.sqrt(c) - 1)) * np.eye(5)[j]
            np.testing.assert_allclose(w_j, expected_w, atol=1e-12)
            expected_h += np.sqrt(lw / lh) * np.outer(centred[:, j] / sigma, w_j)
        else:
            np.testing.assert_allclose(w_j, 0.0, atol=1e-12)
    np.testing.assert_allclose(sol.H, expected_h, atol=1e-12)
    np.testing.assert_allclose(sol.b, y.mean(axis=0), atol=1e-12)
    # a target whose row of W vanished is predicted by its mean
    deviation = sol.H @ sol.W.T + sol.b - y.mean(axis=0)
    assert np.abs(deviation[:, survivors:]).max(initial=0.0) <= 1e-12


# --- general n: predictions of Corollary 4.2 and Lemma D.1 ---------------------------------------


@pytest.mark.parametrize("n", [2, 3, 5])
def test_full_rank_predictions(correlated_targets, n):
    y = correlated_targets(80, n, n)
    sigma = _cov(y)
    lam_min = np.linalg.eigvalsh(sigma)[0]
    lw, lh = 0.4 * np.sqrt(lam_min), 0.9 * np.sqrt(lam_min)  # c = 0.36 λmin
    c = lw * lh
    d = n + 3
    sol = solve(y, lw, lh, d)
    root = np.real(scipy.linalg.sqrtm(sigma))
    assert sol.regime is Regime.FULL_RANK and sol.rank == n
    # (ii) W Wᵀ = √(λ_H/λ_W)(Σ^½ − √c I)
    expected_wwt = np.sqrt(lh / lw) * (root - np.sqrt(c) * np.eye(n))
    np.testing.assert_allclose(sol.W @ sol.W.T, expected_wwt, atol=1e-10)
    np.testing.assert_allclose(optimal_wwt(sigma, lw, lh), expected_wwt, atol=1e-10)
    # (iv) L = √c tr Σ^½ − nc/2, also equal to (1) evaluated at the point
    expected_loss = np.sqrt(c) * np.trace(root) - n * c / 2
    np.testing.assert_allclose(sol.loss, expected_loss, rtol=1e-10)
    np.testing.assert_allclose(optimal_loss(sigma, lw, lh), expected_loss, rtol=1e-10)
    np.testing.assert_allclose(_loss_at(sol, y), expected_loss, rtol=1e-10)
    # (v) residuals −√c Σ^{-½}(Y − Ȳ), white with covariance c·I (App. B)
    residuals = sol.H @ sol.W.T + sol.b - y
    expected_res = -np.sqrt(c) * (y - y.mean(axis=0)) @ np.linalg.inv(root)
    np.testing.assert_allclose(residuals, expected_res, atol=1e-10)
    np.testing.assert_allclose(predicted_residuals(y, lw, lh), expected_res, atol=1e-10)
    np.testing.assert_allclose(residuals.T @ residuals / len(y), c * np.eye(n), atol=1e-10)
    # (iii) λ_H‖H‖² = M λ_W‖W‖², and the predicted norms
    w_sq, h_sq = np.sum(sol.W**2), np.sum(sol.H**2)
    np.testing.assert_allclose(lh * h_sq, len(y) * lw * w_sq, rtol=1e-10)
    np.testing.assert_allclose(optimal_norms(sigma, lw, lh, len(y)), (w_sq, h_sq), rtol=1e-10)
    # (i) collapse, measured by the metrics engine with γ = c
    report = compute(sol.H, sol.W, y, b=sol.b, gamma=c)
    assert report.nrc1 < 1e-12 and report.nrc2 < 1e-12 and report.nrc3 < 1e-12


@pytest.mark.parametrize(("n", "position"), [(3, 0.5), (3, 1.5), (5, 2.5), (5, 5.5)])
def test_lemma_d1_product_and_value_in_every_regime(correlated_targets, n, position):
    """H Wᵀ = V[Σ̃ − √(Mc)]₊Uᵀ and M·L = ½Σ(η − σ)² + √(Mc)Ση, from the SVD of Y − Ȳ."""
    y = correlated_targets(70, n, 10 + n)
    m = len(y)
    eig = np.sort(np.linalg.eigvalsh(_cov(y)))
    # position k + t puts c between the k-th and (k+1)-th smallest eigenvalue, past λmax if k = n
    k = int(position)
    low = eig[k - 1] if k >= 1 else eig[0] / 10
    high = eig[k] if k < n else 3 * eig[-1]
    c = low * (high / low) ** (position - k)
    lw, lh = 1.5 * np.sqrt(c), np.sqrt(c) / 1.5
    sol = solve(y, lw, lh, n + 2)
    u, s, vt = np.linalg.svd((y - y.mean(axis=0)).T, full_matrices=False)  # paper's n×M layout
    eta = np.clip(s - np.sqrt(m * c), 0.0, None)
    np.testing.assert_allclose(sol.H @ sol.W.T, (u * eta @ vt).T, atol=1e-10)
    value = 0.5 * np.sum((eta - s) ** 2) + np.sqrt(m * c) * np.sum(eta)
    np.testing.assert_allclose(m * sol.loss, value, rtol=1e-10)
    np.testing.assert_allclose(_loss_at(sol, y), sol.loss, rtol=1e-10)
    assert sol.rank == int(np.count_nonzero(eta))
    np.testing.assert_allclose(sol.H.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(lh * np.sum(sol.H**2), m * lw * np.sum(sol.W**2), rtol=1e-9)


def test_rotation_changes_nothing_observable(correlated_targets):
    y = correlated_targets(50, 3, 4)
    a = solve(y, 0.2, 0.3, 7)
    b = solve(y, 0.2, 0.3, 7, rotation=_random_rotation(3, 7, 5))
    assert not np.allclose(a.W, b.W)
    np.testing.assert_allclose(a.W @ a.W.T, b.W @ b.W.T, atol=1e-12)
    np.testing.assert_allclose(a.H @ a.H.T, b.H @ b.H.T, atol=1e-10)
    np.testing.assert_allclose(a.H @ a.W.T, b.H @ b.W.T, atol=1e-12)
    assert a.loss == b.loss


@pytest.mark.parametrize("c_factor", [0.05, 0.7, 3.0, 40.0])
def test_stationarity_by_autograd(correlated_targets, c_factor):
    """The gradient of (1) vanishes at the closed form (≤ 1e-8), in every regime."""
    y = correlated_targets(60, 3, 6)
    lam_min = np.linalg.eigvalsh(_cov(y))[0]
    c = c_factor * lam_min
    sol = solve(y, 2 * np.sqrt(c), np.sqrt(c) / 2, 9)
    params = [torch.from_numpy(a).requires_grad_() for a in (sol.H, sol.W, sol.b)]
    loss = objective(*params, torch.from_numpy(y), sol.lambda_w, sol.lambda_h)
    for grad in torch.autograd.grad(loss, params):
        assert grad.abs().max() <= 1e-8


# --- Theorem 4.3: no regularisation -------------------------------------------------------------


def test_unregularized_family_has_zero_loss_and_is_not_collapsed(correlated_targets):
    y = correlated_targets(40, 2, 7)
    rng = np.random.default_rng(8)
    d = 10
    sol = solve(y, 0.0, 0.0, d)
    assert sol.regime is Regime.UNREGULARIZED and not sol.unique and sol.loss == 0.0
    np.testing.assert_allclose(sol.H @ sol.W.T + sol.b, y, atol=1e-12)
    w = rng.normal(size=(2, d))  # any full-rank W, at any angle between its rows
    members = [unregularized_features(y, w, rng.normal(size=(40, d))) for _ in range(2)]
    for h in members:
        np.testing.assert_allclose(h @ w.T, y, atol=1e-10)  # zero loss without a bias
        assert compute(h, w, y).nrc1 > 0.3  # features span far more than n dimensions
    assert not np.allclose(members[0], members[1])
    shifted = unregularized_features(y, w, np.zeros((40, d)), b=np.array([1.0, -2.0]))
    np.testing.assert_allclose(shifted @ w.T + np.array([1.0, -2.0]), y, atol=1e-10)


# --- bad input ----------------------------------------------------------------------------------


def test_bad_input_is_refused(correlated_targets):
    y = correlated_targets(30, 3, 9)
    with pytest.raises(ValueError, match="d: feature width"):
        solve(y, 0.1, 0.1, 2)
    with pytest.raises(ValueError, match="lambda_w: must be"):
        solve(y, -0.1, 0.1, 4)
    with pytest.raises(ValueError, match="lambda_h: must be"):
        solve(y, 0.1, np.nan, 4)
    with pytest.raises(ValueError, match="no minimiser"):
        solve(y, 0.0, 0.1, 4)
    with pytest.raises(ValueError, match="underflows"):
        solve(y, 1e-200, 1e-200, 4)
    with pytest.raises(ValueError, match="rank 2 < n = 3"):
        solve(np.column_stack([y[:, :2], y[:, 0] - 2 * y[:, 1]]), 0.1, 0.1, 4)
    with pytest.raises(ValueError, match="rank"):
        solve(np.column_stack([y[:, :2], np.full(30, 4.0)]), 0.1, 0.1, 4)
    bad = y.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN or Inf"):
        solve(bad, 0.1, 0.1, 4)
    with pytest.raises(ValueError, match="M×n array"):
        solve(y[:, 0], 0.1, 0.1, 4)
    with pytest.raises(ValueError, match="at least n"):
        solve(y[:3], 0.1, 0.1, 4)
    with pytest.raises(ValueError, match="semi-orthogonal"):
        solve(y, 0.1, 0.1, 4, rotation=2 * np.eye(3, 4))
    with pytest.raises(ValueError, match="full rank"):
        unregularized_features(y, np.ones((3, 4)), np.zeros((30, 4)))
    with pytest.raises(ValueError, match="positive definite"):
        optimal_wwt(np.diag([1.0, 0.0]), 0.1, 0.1)
    with pytest.raises(ValueError, match="symmetric"):
        optimal_loss(np.array([[1.0, 0.5], [0.0, 1.0]]), 0.1, 0.1)


def test_torch_targets_are_accepted(correlated_targets):
    """Datasets give float32 torch tensors; they are read as float64 arrays."""
    y = correlated_targets(30, 2, 12).astype(np.float32)
    from_torch = solve(torch.from_numpy(y), 0.1, 0.2, 3)
    from_numpy = solve(y.astype(np.float64), 0.1, 0.2, 3)
    np.testing.assert_array_equal(from_torch.H, from_numpy.H)
    assert from_torch.H.dtype == np.float64
