"""Bad input gets a clear error naming the input; documented values are what they say."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nrc.metrics import CollapseStats, Convention, compute, nrc3_at
from tests.metrics import reference as ref
from tests.metrics.conftest import make_case


def test_nan_and_inf_are_named_and_counted() -> None:
    h, w, _, y = make_case(0, 2, 8, 50)
    h[3, 1] = np.nan
    h[4, 0] = np.inf
    with pytest.raises(ValueError, match=r"features: 1 NaN and 1 Inf"):
        compute(h, w, y)
    h, w, _, y = make_case(0, 2, 8, 50)
    y[0, 0] = np.nan
    with pytest.raises(ValueError, match=r"targets: 1 NaN"):
        compute(h, w, y)
    y[0, 0] = 0.0
    predictions = y.copy()
    predictions[2, 1] = -np.inf
    with pytest.raises(ValueError, match=r"predictions: 0 NaN and 1 Inf"):
        compute(h, w, y, predictions=predictions)


def test_shape_errors() -> None:
    h, w, _, y = make_case(0, 2, 8, 50)
    with pytest.raises(ValueError, match=r"targets: 49 rows but features have 50"):
        compute(h, w, y[:49])
    with pytest.raises(ValueError, match=r"W: shape \(2, 7\)"):
        compute(h, w[:, :7], y)
    with pytest.raises(ValueError, match=r"n = 9 targets exceed the feature dimension d = 8"):
        compute(h, np.ones((9, 8)), np.random.default_rng(0).normal(size=(50, 9)))
    with pytest.raises(ValueError, match=r"features: expected 2-D"):
        compute(h[0], w, y)
    stats = CollapseStats().update(h[:10], y[:10])
    with pytest.raises(ValueError, match=r"batch has d=7"):
        stats.update(h[10:, :7], y[10:])
    with pytest.raises(ValueError, match=r"predictions: give them for every batch or for none"):
        stats.update(h[10:], y[10:], predictions=y[10:])


def test_singular_target_covariance() -> None:
    h, w, _, y = make_case(0, 3, 8, 50)
    y[:, 1] = 4.2
    with pytest.raises(ValueError, match=r"targets: column\(s\) \[1\] are constant"):
        compute(h, w, y)
    y[:, 1] = y[:, 0] - 2 * y[:, 2]
    with pytest.raises(ValueError, match=r"linearly dependent"):
        compute(h, w, y)


def test_empty_and_integer_inputs() -> None:
    with pytest.raises(ValueError, match=r"statistics: empty"):
        CollapseStats().compute(np.ones((2, 4)))
    with pytest.raises(ValueError, match=r"features: dtype torch.int64 is not floating point"):
        CollapseStats().update(torch.ones(4, 3, dtype=torch.int64), torch.ones(4, 2))
    h, w, _, y = make_case(0, 2, 8, 50)
    with pytest.raises(ValueError, match=r"evr_k: must be between 1 and d = 8"):
        compute(h, w, y, evr_k=9)
    with pytest.raises(ValueError, match=r"convention.features"):
        Convention("whitened")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"gamma: must be a finite number >= 0"):
        nrc3_at(np.ones((2, 3)), np.eye(2) * [1.0, 2.0], -1.0)
    with pytest.raises(ValueError, match=r"zero variance"):
        compute(np.ones((20, 4)), np.ones((2, 4)), np.random.default_rng(0).normal(size=(20, 2)))


def test_zero_feature_rows_count_as_in_every_subspace() -> None:
    """Documented: a zero row has no direction, contributes h̃ = 0 (distance 0) and is counted."""
    h, w, _, y = make_case(3, 2, 8, 60)
    h[[5, 17]] = 0.0
    report = compute(h, w, y)
    assert report.zero_feature_rows == 2
    assert report.nrc1 == pytest.approx(ref.nrc1(h, 2), abs=1e-10)
    assert report.nrc2 == pytest.approx(ref.nrc2(h, w), abs=1e-10)
