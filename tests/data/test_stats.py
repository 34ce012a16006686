"""Table 1 statistics on constructed targets with a known covariance (paper Table 1)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nrc.data.stats import table1_row


def targets_with_covariance(sigma: np.ndarray, m: int, seed: int) -> np.ndarray:
    """M samples whose centred covariance (divisor M) is exactly `sigma`."""
    z = np.random.default_rng(seed).normal(size=(m, len(sigma)))
    z -= z.mean(axis=0)
    q, _ = np.linalg.qr(z)  # orthonormal, zero-mean columns
    return 3.0 + np.sqrt(m) * q @ np.linalg.cholesky(sigma).T


def test_known_covariance_gives_its_smallest_eigenvalue_and_correlations() -> None:
    sigma = np.array([[2.0, -0.6, 0.2], [-0.6, 1.0, 0.1], [0.2, 0.1, 0.5]])
    row = table1_row("made-up", torch.tensor(targets_with_covariance(sigma, 500, 0)))
    assert row.size == 500 and row.n == 3 and row.input_type == "raw state"
    assert row.lambda_min == pytest.approx(np.linalg.eigvalsh(sigma).min(), rel=1e-10)
    d = np.sqrt(np.diag(sigma))
    expected = [
        sigma[0, 1] / (d[0] * d[1]),
        sigma[0, 2] / (d[0] * d[2]),
        sigma[1, 2] / (d[1] * d[2]),
    ]
    np.testing.assert_allclose(row.target_corr, expected, rtol=1e-10)


def test_univariate_targets_have_no_correlation_and_variance_as_lambda() -> None:
    y = targets_with_covariance(np.array([[0.25]]), 100, 1)
    row = table1_row("one", y)
    assert row.target_corr == [] and row.lambda_min == pytest.approx(0.25, rel=1e-10)


def test_shift_and_order_invariance() -> None:
    y = targets_with_covariance(np.array([[1.0, 0.3], [0.3, 0.5]]), 200, 2)
    a = table1_row("a", y)
    b = table1_row("b", y[::-1] - 7.0)
    assert a.lambda_min == pytest.approx(b.lambda_min, rel=1e-10)
    np.testing.assert_allclose(a.target_corr, b.target_corr, rtol=1e-10)


@pytest.mark.parametrize(
    ("y", "message"),
    [
        (np.ones((5,)), "M × n"),
        (np.array([[1.0, np.nan], [2.0, 3.0]]), "NaN"),
        (np.array([[1.0, 2.0], [3.0, 2.0]]), r"column\(s\) \[1\] are constant"),
    ],
)
def test_bad_targets_are_rejected(y, message) -> None:
    with pytest.raises(ValueError, match=message):
        table1_row("bad", y)
