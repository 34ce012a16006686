"""The one target covariance and its one positive-definiteness rule."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nrc.metrics import SINGULAR_RTOL, check_target_covariance, target_covariance
from tests.metrics.conftest import random_spd


def test_target_covariance_is_centred_and_divided_by_m() -> None:
    rng = np.random.default_rng(0)
    y = rng.multivariate_normal([3.0, -1.0], random_spd(rng, 2), size=400)
    expected = np.cov(y.T, bias=True)  # numpy's own estimator, ddof = 0
    np.testing.assert_allclose(target_covariance(y), expected, rtol=1e-12)
    np.testing.assert_allclose(target_covariance(torch.from_numpy(y)), expected, rtol=1e-12)
    assert target_covariance(y[:, 0]).shape == (1, 1)
    with pytest.raises(ValueError, match=r"Y: complex"):
        target_covariance(y + 1j, "Y")


@pytest.mark.parametrize("scale", [1e-30, 1.0, 1e30])
def test_the_rule_is_relative(scale: float) -> None:
    sigma = np.diag([1.0, 0.5]) * scale
    np.testing.assert_allclose(check_target_covariance(sigma), [0.5 * scale, scale])
    near = np.diag([1.0, 0.5 * SINGULAR_RTOL]) * scale
    with pytest.raises(ValueError, match=r"targets: column\(s\) \[1\] are constant"):
        check_target_covariance(near)
    u = np.array([[1.0, 1.0], [1.0, -1.0]]) / np.sqrt(2)
    dependent = u @ np.diag([2.0, 0.0]) @ u.T * scale
    with pytest.raises(ValueError, match=r"sigma: .*singular \(rank 1 < n = 2.*linearly"):
        check_target_covariance(dependent, "sigma")


def test_the_rule_refuses_non_covariances() -> None:
    with pytest.raises(ValueError, match=r"S: Σ must be a square"):
        check_target_covariance(np.ones((2, 3)), "S")
    with pytest.raises(ValueError, match=r"S: Σ contains NaN"):
        check_target_covariance(np.array([[1.0, np.nan], [np.nan, 1.0]]), "S")
    with pytest.raises(ValueError, match=r"S: Σ must be symmetric"):
        check_target_covariance(np.array([[1.0, 0.5], [0.0, 1.0]]), "S")
