"""The trainer's UFM-style loss (data term averaged over the n targets) against problem (1).

docs/training.md: the trainer minimises ½·MSE + λ_H‖H‖²/(2M) + λ_W‖W‖²/2 with the MSE averaged
over samples and target dimensions (the authors' code, spec §5.3), which is problem (1) with
both λ's n times larger. Checked here by direct minimisation, by the solver, by autograd and
by the paper's formula on the shipped targets.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.linalg
import scipy.optimize
import torch

from nrc.experiments.analysis import ufm_optimum_gap
from nrc.metrics import compute
from nrc.ufm import minimize, solve
from nrc.ufm.theory import mean_loss_lambdas, optimal_loss, optimal_mean_loss


def _cov(y: np.ndarray) -> np.ndarray:
    centered = y - y.mean(axis=0)
    return centered.T @ centered / y.shape[0]


def _mean_objective(h, w, b, y, lambda_w: float, lambda_h: float):
    """½·mean over samples and targets of the squared residual + the UFM penalties (torch)."""
    residual = h @ w.T + b - y
    return (
        0.5 * residual.square().mean()
        + 0.5 * lambda_h * h.square().sum() / y.shape[0]
        + 0.5 * lambda_w * w.square().sum()
    )


def _minimise_mean_objective(y: np.ndarray, lw: float, lh: float, d: int, seed: int):
    """L-BFGS (scipy) on the mean objective over free H, W, b from a random start."""
    m, n = y.shape
    yt = torch.from_numpy(y)
    sizes = (m * d, n * d, n)

    def unpack(theta: np.ndarray):
        t = torch.from_numpy(theta).requires_grad_()
        h, w, b = torch.split(t, sizes)
        return t, h.reshape(m, d), w.reshape(n, d), b

    def value_and_grad(theta: np.ndarray):
        t, h, w, b = unpack(theta)
        loss = _mean_objective(h, w, b, yt, lw, lh)
        loss.backward()
        return loss.item(), t.grad.numpy().copy()

    start = np.random.default_rng(seed).normal(scale=0.3, size=sum(sizes))
    out = scipy.optimize.minimize(
        value_and_grad, start, jac=True, method="L-BFGS-B",
        options={"maxiter": 20_000, "ftol": 1e-15, "gtol": 1e-12},
    )  # fmt: skip
    _, h, w, b = unpack(out.x)
    return out.fun, h.detach().numpy(), w.detach().numpy(), b.detach().numpy()


@pytest.mark.parametrize("n", [2, 3])
def test_mean_loss_minimum_is_problem_1_with_n_times_the_lambdas(correlated_targets, n):
    y = correlated_targets(40, n, 40 + n)
    sigma = _cov(y)
    lam_min = np.linalg.eigvalsh(sigma)[0]
    lw, lh = 0.2 * np.sqrt(lam_min) / n, 0.6 * np.sqrt(lam_min) / n  # n²c = 0.12 λmin
    value, h, w, b = _minimise_mean_objective(y, lw, lh, n + 2, seed=n)
    expected = optimal_mean_loss(sigma, lw, lh)
    np.testing.assert_allclose(value, expected, rtol=1e-7)
    np.testing.assert_allclose(expected, optimal_loss(sigma, n * lw, n * lh) / n, rtol=1e-12)
    # the minimiser's residuals are white with variance c_eff = n²·λ_W·λ_H, not λ_W·λ_H
    residual = h @ w.T + b - y
    np.testing.assert_allclose(_cov(residual), n**2 * lw * lh * np.eye(n), atol=1e-6)
    # the solver of (1) at (nλ_W, nλ_H) reaches the same value
    run = minimize(y, n * lw, n * lh, n + 2, seed=1)
    np.testing.assert_allclose(float(run.loss[0]) / n, expected, rtol=1e-8)


def test_closed_form_of_scaled_lambdas_is_stationary_for_the_mean_loss(correlated_targets):
    y = correlated_targets(30, 2, 7)
    lw, lh = 0.05, 0.08
    t = torch.from_numpy

    def grad_norm(sol) -> float:
        h, w, b = (t(a).requires_grad_() for a in (sol.H, sol.W, sol.b))
        _mean_objective(h, w, b, t(y), lw, lh).backward()
        return max(float(g.abs().max()) for g in (h.grad, w.grad, b.grad))

    scaled = solve(y, *mean_loss_lambdas(lw, lh, 2), 4)
    assert grad_norm(scaled) < 1e-12
    assert grad_norm(solve(y, lw, lh, 4)) > 1e-4  # (1)'s optimum at the raw λ's is not


def test_mean_loss_lambdas_refuses_bad_input():
    with pytest.raises(ValueError, match="n: number of targets"):
        mean_loss_lambdas(0.1, 0.1, 0)
    with pytest.raises(ValueError, match="exactly one of them 0"):
        mean_loss_lambdas(0.0, 0.1, 2)


@pytest.mark.parametrize("dataset", ["reacher", "swimmer"])
@pytest.mark.parametrize("lam", [0.01, 0.05])
def test_optimal_loss_on_shipped_targets(dataset, lam):
    """Corollary 4.2(iv), √c·tr Σ^½ − nc/2 in plain float64, and the solver, on real targets."""
    from nrc.data import load

    y = load(dataset).y_train.double().numpy()
    sigma = _cov(y)
    c, n = lam * lam, y.shape[1]
    assert c < np.linalg.eigvalsh(sigma)[0]
    formula = np.sqrt(c) * np.trace(np.real(scipy.linalg.sqrtm(sigma))) - n * c / 2
    np.testing.assert_allclose(optimal_loss(sigma, lam, lam), formula, rtol=1e-12)
    run = minimize(y, lam, lam, n + 2, seed=0)
    np.testing.assert_allclose(float(run.loss[0]), formula, rtol=1e-8)


def _row(h, w, b, y, lw: float, lh: float) -> pd.Series:
    """A metrics row as the trainer writes it (nrc.train.callbacks.measure), plus the λ's."""
    row = compute(h, w, y, b=b, predictions=h @ w.T + b).to_dict()
    row["train_mse"], row["train_r2"] = row.pop("mse"), row.pop("r2")
    return pd.Series(row | {"lambda_w": lw, "lambda_h": lh})


def test_ufm_optimum_gap_at_the_optimum_and_away_from_it(correlated_targets):
    y = correlated_targets(60, 2, 11)
    sigma = _cov(y)
    lw, lh = 0.03, 0.1 * np.linalg.eigvalsh(sigma)[0] / 0.03 / 4  # n²c = 0.1 λmin
    at = solve(y, *mean_loss_lambdas(lw, lh, 2), 5)
    gap = ufm_optimum_gap(_row(at.H, at.W, at.b, y, lw, lh), y, data_term="mean")
    assert abs(gap["gap"]) < 1e-9 and gap["wwt_error"] < 1e-9 and gap["whiteness"] < 1e-6
    np.testing.assert_allclose(gap["c_eff"], 4 * lw * lh, rtol=1e-12)
    np.testing.assert_allclose(gap["r2"], gap["r2_optimum"], atol=1e-9)
    np.testing.assert_allclose(
        [gap["variance_over_c_eff_min"], gap["variance_over_c_eff_max"]], 1.0, atol=1e-8
    )
    np.testing.assert_allclose(gap["variance_over_c_max"], 4.0, atol=1e-7)  # n² off from c
    # the optimum of (1) itself is the optimum when the data term is (1)'s sum
    raw = solve(y, lw, lh, 5)
    summed = ufm_optimum_gap(_row(raw.H, raw.W, raw.b, y, lw, lh), y, data_term="sum")
    assert abs(summed["gap"]) < 1e-9 and summed["wwt_error"] < 1e-9
    np.testing.assert_allclose(summed["variance_over_c_min"], 1.0, atol=1e-8)
    assert ufm_optimum_gap(_row(raw.H, raw.W, raw.b, y, lw, lh), y, data_term="mean")["gap"] > 1e-3
    # the trivial critical point (W, H, b) = (0, 0, ȳ): MSE tr Σ/n, objective tr Σ/(2n)
    trivial = _row(at.H, at.W, at.b, y, lw, lh)
    trivial[[f"wwt_{i}_{j}" for i in (1, 2) for j in (1, 2)]] = 0.0
    trivial["train_mse"] = np.trace(sigma) / 2
    zero = ufm_optimum_gap(trivial, y, data_term="mean")
    expected = np.trace(sigma) / 4 / optimal_mean_loss(sigma, lw, lh) - 1
    np.testing.assert_allclose(zero["gap"], expected, rtol=1e-9)
    with pytest.raises(ValueError, match="data_term"):
        ufm_optimum_gap(_row(at.H, at.W, at.b, y, lw, lh), y, data_term="median")
    with pytest.raises(ValueError, match="need both > 0"):
        ufm_optimum_gap(_row(at.H, at.W, at.b, y, 0.0, 0.0), y, data_term="sum")


def test_ufm_optimum_gap_where_the_optimum_is_zero(correlated_targets):
    """c_eff ≥ λmax: (WWᵀ)* = 0, so its relative error is undefined (NaN), not infinite."""
    y = correlated_targets(40, 2, 13)
    lam = 2.0 * np.sqrt(np.linalg.eigvalsh(_cov(y))[-1])
    at = solve(y, 0.1, 0.1, 4)
    gap = ufm_optimum_gap(_row(at.H, at.W, at.b, y, lam, lam), y, data_term="mean")
    assert np.isnan(gap["wwt_error"]) and gap["r2_optimum"] == pytest.approx(0.0, abs=1e-12)
