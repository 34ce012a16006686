"""The flat metrics row: the one owner of how a :class:`CollapseReport` becomes a table row and
how matrices are read back from one.

A row is a dict of scalars. Scalar report fields keep their names; list fields become
``<name>_<k>`` (1-based: ``evr_1``…, ``nrc1_k_1``…, ``w_row_norm_1``…; ``target_corr_<i>_<j>``
for the pairs i < j); n×n matrices become ``<name>_<i>_<j>`` (1-based: ``sigma_1_2``,
``wwt_2_2``, ``residual_cov_1_1``). Tables of rows identify a row by the columns ``ROW_KEYS``,
which the writer of the table adds (the trainer writes ``epoch``); the report itself carries
none of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from nrc.metrics.report import CollapseReport

# The columns that identify a row of a metrics table: which run, which model of a batch of
# models, which probed layer, which evaluation epoch.
ROW_KEYS: tuple[str, ...] = ("run", "model", "layer", "epoch")

# List fields whose per-entry column name is not the field name.
_SINGULAR = {"w_row_norms": "w_row_norm", "nrc1_by_k": "nrc1_k"}


def _pair_names(n: int) -> list[str]:
    return [f"{i + 1}_{j + 1}" for i in range(n) for j in range(i + 1, n)]


def report_to_row(report: CollapseReport) -> dict[str, Any]:
    """A flat dict of scalars: lists become ``evr_1``…, matrices ``wwt_1_2``… (1-based)."""
    flat: dict[str, Any] = {}
    for key, value in asdict(report).items():
        if isinstance(value, list) and value and isinstance(value[0], list):
            for i, row in enumerate(value, 1):
                for j, v in enumerate(row, 1):
                    flat[f"{key}_{i}_{j}"] = v
        elif isinstance(value, list):
            names = _pair_names(report.n) if key == "target_corr" else range(1, len(value) + 1)
            for name, v in zip(names, value, strict=True):
                flat[f"{_SINGULAR.get(key, key)}_{name}"] = v
        else:
            flat[key] = value
    return flat


def row_matrix(row: Mapping[str, Any], key: str) -> np.ndarray:
    """The n×n matrix ``key`` (e.g. ``"wwt"``, ``"sigma"``) of a row, from ``key_i_j`` (1-based).

    ``row`` is a dict or a pandas Series (one row of a metrics table); n is its ``n`` column.
    """
    n = int(row["n"])
    return np.array([[row[f"{key}_{i}_{j}"] for j in range(1, n + 1)] for i in range(1, n + 1)])
