"""The UFM without a bias (target convention "uncentered"): closed form with Σ = YᵀY/M, checked
against the objective, its gradient and the gradient solver."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nrc.ufm import minimize, objective, optimal_loss, optimal_wwt, predicted_residuals, solve
from nrc.ufm.solver import relative_gap


def _second_moment(y: np.ndarray) -> np.ndarray:
    return y.T @ y / y.shape[0]


def _c_values(y: np.ndarray) -> list[float]:
    eig = np.linalg.eigvalsh(_second_moment(y))
    return [0.3 * eig[0], float(np.sqrt(eig[0] * eig[1]))]


@pytest.mark.parametrize("n", [2, 3])
def test_closed_form_without_bias_is_a_stationary_point_of_the_objective(
    correlated_targets, n
) -> None:
    y = correlated_targets(30, n, 7 + n)
    s0 = _second_moment(y)
    for c in _c_values(y):
        lw, lh = 1.3 * np.sqrt(c), np.sqrt(c) / 1.3
        sol = solve(y, lw, lh, 6, targets="uncentered")
        assert sol.target_convention == "uncentered"
        np.testing.assert_array_equal(sol.b, np.zeros(n))
        np.testing.assert_allclose(sol.W @ sol.W.T, optimal_wwt(s0, lw, lh), atol=1e-12)
        h = torch.tensor(sol.H, requires_grad=True)
        w = torch.tensor(sol.W, requires_grad=True)
        loss = objective(h, w, torch.zeros(n, dtype=torch.float64), torch.tensor(y), lw, lh)
        assert float(loss.detach()) == pytest.approx(optimal_loss(s0, lw, lh), rel=1e-12)
        assert sol.loss == pytest.approx(optimal_loss(s0, lw, lh), rel=1e-12)
        grads = torch.autograd.grad(loss, [h, w])
        assert max(float(g.abs().max()) for g in grads) < 1e-12
        residuals = sol.H @ sol.W.T - y
        np.testing.assert_allclose(
            predicted_residuals(y, lw, lh, targets="uncentered"), residuals, atol=1e-12
        )


def test_solver_without_bias_reaches_the_uncentred_closed_form(correlated_targets) -> None:
    y = correlated_targets(24, 2, 3)
    c = np.array(_c_values(y))
    lambda_w, lambda_h = 1.6 * np.sqrt(c), np.sqrt(c) / 1.6
    run = minimize(y, lambda_w, lambda_h, 8, seed=1, targets="uncentered")
    assert run.target_convention == "uncentered"
    np.testing.assert_array_equal(run.b, np.zeros_like(run.b))
    for i in range(len(c)):
        theory = solve(y, lambda_w[i], lambda_h[i], 8, targets="uncentered")
        gap = relative_gap(float(run.loss[i]), theory.loss, _second_moment(y))
        assert -1e-10 <= gap <= 1e-6
        np.testing.assert_allclose(run.W[i] @ run.W[i].T, theory.W @ theory.W.T, atol=1e-4)


def test_the_two_conventions_differ_when_the_targets_have_a_mean(correlated_targets) -> None:
    y = correlated_targets(30, 2, 5)
    centred, uncentred = solve(y, 0.1, 0.1, 4), solve(y, 0.1, 0.1, 4, targets="uncentered")
    assert centred.target_convention == "centered"
    assert uncentred.loss > centred.loss  # the bias can only help


def test_unknown_target_convention_is_an_error(correlated_targets) -> None:
    with pytest.raises(ValueError, match="targets: 'raw'"):
        solve(correlated_targets(10, 2, 0), 0.1, 0.1, 4, targets="raw")  # type: ignore[arg-type]
