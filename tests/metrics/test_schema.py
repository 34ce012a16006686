"""The flat metrics row: report -> row keeps the historical column names and values, and
row_matrix reads matrices back from dicts and pandas rows."""

from __future__ import annotations

import numpy as np
import pandas as pd

from nrc.metrics import ROW_KEYS, compute, report_to_row, row_matrix
from tests.metrics import reference as ref
from tests.metrics.conftest import make_case

# The columns of a report row for n = 2, evr_k = 2, in order, as run directories store them
# (metrics.parquet): a change here makes old runs unreadable. Rows written before the target
# convention existed lack ``target_convention`` (their Σ is the centred covariance).
COLUMNS_N2 = (
    "count d n convention target_convention nrc1 nrc2 nrc3 nrc3_reason gamma gamma_protocol "
    "gamma_ratio nrc3_optimal gamma_optimal lambda_min lambda_max sigma_1_1 sigma_1_2 sigma_2_1 "
    "sigma_2_2 target_corr_1_2 evr_1 evr_2 nrc1_k_1 nrc1_k_2 feature_norm_mean zero_feature_rows "
    "w_row_norm_1 w_row_norm_2 wwt_1_1 wwt_1_2 wwt_2_1 wwt_2_2 residual_source mse r2 "
    "residual_mean_1 residual_mean_2 residual_cov_1_1 residual_cov_1_2 residual_cov_2_1 "
    "residual_cov_2_2 residual_whiteness"
).split()


def test_row_columns_are_the_stored_ones() -> None:
    h, w, b, y = make_case(0, 2, 3, 50)
    assert list(report_to_row(compute(h, w, y, b, evr_k=2))) == COLUMNS_N2


def test_row_columns_for_three_targets() -> None:
    h, w, b, y = make_case(0, 3, 8, 100)
    report = compute(h, w, y, b, evr_k=2)
    row = report_to_row(report)
    assert row == report.to_dict()
    assert {"sigma_1_3", "wwt_3_3", "residual_cov_2_1", "residual_mean_3"} <= set(row)
    assert {"evr_1", "evr_2", "nrc1_k_2", "w_row_norm_3"} <= set(row)
    assert [k for k in row if k.startswith("target_corr")] == [
        "target_corr_1_2",
        "target_corr_1_3",
        "target_corr_2_3",
    ]
    assert row["w_row_norm_2"] == np.linalg.norm(w[1])
    assert "evr_3" not in row and not set(ROW_KEYS) & set(row)


def test_row_matrix_round_trips_on_dicts_and_pandas_rows() -> None:
    h, w, b, y = make_case(1, 3, 8, 100)
    row = compute(h, w, y, b).to_dict()
    series = pd.DataFrame([row, row]).iloc[1]
    for source in (row, series):
        np.testing.assert_allclose(row_matrix(source, "sigma"), ref.sigma(y), rtol=1e-12)
        np.testing.assert_array_equal(row_matrix(source, "wwt"), w @ w.T)
        assert row_matrix(source, "residual_cov").shape == (3, 3)
