"""The target convention of NRC3: the centred covariance (paper, default, unchanged) or the
uncentred second moment YᵀY/M (a head without bias)."""

from __future__ import annotations

import numpy as np
import pytest

from nrc.metrics import CollapseStats, Convention, compute, target_covariance
from tests.metrics import reference as ref
from tests.metrics.conftest import make_case

UNCENTERED = Convention(targets="uncentered")


def _second_moment(y: np.ndarray) -> np.ndarray:
    return y.T @ y / y.shape[0]


def test_default_is_the_centred_covariance_and_is_recorded() -> None:
    h, w, b, y = make_case(3, 3, 8, 200)
    default = compute(h, w, y, b)
    explicit = compute(h, w, y, b, convention=Convention(targets="centered"))
    assert default.target_convention == "centered"
    assert default.to_dict() == explicit.to_dict()
    np.testing.assert_allclose(default.sigma, ref.sigma(y), rtol=1e-12)


@pytest.mark.parametrize("n", [2, 3, 5])
def test_uncentred_sigma_and_nrc3_match_the_reference(n: int) -> None:
    h, w, b, y = make_case(n, n, 12, 300)
    report = compute(h, w, y, b, convention=UNCENTERED)
    s0 = _second_moment(y)
    assert report.target_convention == "uncentered"
    assert report.to_dict()["target_convention"] == "uncentered"
    np.testing.assert_allclose(report.sigma, s0, rtol=1e-12)
    assert report.lambda_min == pytest.approx(np.linalg.eigvalsh(s0)[0], rel=1e-12)
    g_ref, v_ref = ref.nrc3_grid(w, s0)
    assert report.nrc3 == pytest.approx(v_ref, rel=1e-6, abs=1e-12)
    assert report.gamma == pytest.approx(g_ref, rel=1e-3, abs=1e-9)
    # R² stays the fraction of the centred variance explained.
    assert report.r2 == pytest.approx(ref.mse_r2(h, w, b, y)[1], rel=1e-10)


def test_uncentred_sigma_streams_over_batches_with_a_large_mean() -> None:
    h, w, b, y = make_case(4, 3, 8, 240)
    y = y + 50.0
    one = compute(h, w, y, b, convention=UNCENTERED)
    stats = CollapseStats()
    for rows in (slice(0, 7), slice(7, 100), slice(100, 240)):
        stats.update(h[rows], y[rows])
    split = stats.compute(w, b, convention=UNCENTERED)
    np.testing.assert_allclose(split.sigma, one.sigma, rtol=1e-12)
    assert split.nrc3 == pytest.approx(one.nrc3, rel=1e-9)


def test_target_covariance_function_in_both_conventions() -> None:
    y = make_case(5, 2, 4, 50)[3]
    np.testing.assert_allclose(target_covariance(y), ref.sigma(y), rtol=1e-13)
    np.testing.assert_allclose(
        target_covariance(y, convention="uncentered"), _second_moment(y), rtol=1e-13
    )


def test_unknown_target_convention_is_an_error_naming_it() -> None:
    with pytest.raises(ValueError, match="convention.targets: 'mean'"):
        Convention(targets="mean")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="convention: 'raw'"):
        target_covariance(np.ones((3, 2)), convention="raw")  # type: ignore[arg-type]
