"""The gradient solver of (1) against the closed forms: every regime, random correlated Σ."""

from __future__ import annotations

import numpy as np
import pytest

from nrc.metrics import compute
from nrc.ufm import minimize, relative_gap, solve


def _cov(y: np.ndarray) -> np.ndarray:
    centered = y - y.mean(axis=0)
    return centered.T @ centered / y.shape[0]


def _regime_grid(y: np.ndarray) -> np.ndarray:
    """One c per regime: below λmin, between the two smallest eigenvalues (n > 1), above λmax."""
    eig = np.sort(np.linalg.eigvalsh(_cov(y)))
    values = [0.3 * eig[0], 2.5 * eig[-1]]
    if len(eig) > 1:
        values.insert(1, np.sqrt(eig[0] * eig[1]))
    return np.array(values)


@pytest.mark.parametrize("n", [1, 2, 3, 5])
@pytest.mark.parametrize("wide", [False, True])
def test_solver_reaches_closed_form_in_every_regime(correlated_targets, n, wide):
    y = correlated_targets(24, n, 20 + n)
    d = 64 if wide else n
    c = _regime_grid(y)
    lambda_w, lambda_h = 1.6 * np.sqrt(c), np.sqrt(c) / 1.6
    run = minimize(y, lambda_w, lambda_h, d, seed=n)
    for i in range(len(c)):
        theory = solve(y, lambda_w[i], lambda_h[i], d)
        gap = relative_gap(float(run.loss[i]), theory.loss, _cov(y))
        assert -1e-10 <= gap <= 1e-6, (theory.regime, gap)  # never below the global minimum
        w = run.W[i]
        np.testing.assert_allclose(w @ w.T, theory.W @ theory.W.T, atol=1e-4)
        np.testing.assert_allclose(run.b[i], theory.b, atol=1e-4)
        np.testing.assert_allclose(run.H[i] @ w.T, theory.H @ theory.W.T, atol=1e-4)
        if i == 0:  # 0 < c < λmin: collapse, measured with NRC3 at γ = c
            report = compute(run.H[i], w, y, b=run.b[i], gamma=c[i])
            assert report.nrc1 <= 1e-6 and report.nrc2 <= 1e-6
            assert n == 1 or report.nrc3 <= 1e-6


def test_unregularized_solver_fits_exactly_but_does_not_collapse(correlated_targets):
    """Theorem 4.3 made visible: zero loss, yet the features fill far more than n dimensions."""
    y = correlated_targets(30, 2, 31)
    run = minimize(y, 0.0, 0.0, 12, seed=3)
    assert relative_gap(float(run.loss[0]), 0.0, _cov(y)) <= 1e-10
    report = compute(run.H[0], run.W[0], y, b=run.b[0])
    assert report.nrc1 > 0.1 and report.nrc2 > 0.1
    # the solution is a member of the family H = W⁺(Y − 1bᵀ) + (I − W⁺W)Z with Z = H itself
    w, h, b = run.W[0], run.H[0], run.b[0]
    pinv = np.linalg.pinv(w)
    np.testing.assert_allclose(h, (y - b) @ pinv.T + h @ (np.eye(12) - pinv @ w), atol=1e-6)


def test_grid_points_are_independent_and_seeded(correlated_targets):
    y = correlated_targets(20, 2, 41)
    grid = minimize(y, [0.05, 0.2], [0.1, 0.3], 4, seed=5)
    alone = minimize(y, 0.2, 0.3, 4, seed=5)
    again = minimize(y, [0.05, 0.2], [0.1, 0.3], 4, seed=5)
    np.testing.assert_array_equal(grid.W[1], alone.W[0])
    np.testing.assert_array_equal(grid.H, again.H)
    other = minimize(y, 0.2, 0.3, 4, seed=6)
    assert not np.array_equal(other.H, alone.H)
    assert grid.W.shape == (2, 2, 4) and grid.H.shape == (2, 20, 4) and grid.b.shape == (2, 2)


def test_solver_refuses_bad_input(correlated_targets):
    y = correlated_targets(20, 3, 51)
    with pytest.raises(ValueError, match="d: feature width"):
        minimize(y, 0.1, 0.1, 2)
    with pytest.raises(ValueError, match="do not broadcast"):
        minimize(y, [0.1, 0.2], [0.1, 0.2, 0.3], 4)
    with pytest.raises(ValueError, match="lambda_w: must be"):
        minimize(y, [0.1, -1.0], 0.1, 4)
    with pytest.raises(ValueError, match="max_iter"):
        minimize(y, 0.1, 0.1, 4, max_iter=0)
    with pytest.raises(ValueError, match="rank"):
        minimize(np.column_stack([y[:, :2], y[:, 0] + y[:, 1]]), 0.1, 0.1, 4)
    y[0, 0] = np.inf
    with pytest.raises(ValueError, match="NaN or Inf"):
        minimize(y, 0.1, 0.1, 4)
