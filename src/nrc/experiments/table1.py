"""Table 1: dataset overview (size, input type, n, target correlations, λmin), ours beside the
paper's. Ours are computed on the training targets the main run of each dataset stored."""

from __future__ import annotations

import numpy as np
import pandas as pd

from nrc.data import registry, table1_row
from nrc.experiments.common import Artifact, Context
from nrc.io import atomic_write
from nrc.metrics.targets import target_covariance


def trained_targets(y: np.ndarray, info: dict) -> np.ndarray:
    """The targets as the run trained on them, scaled as its data.json says (the statistics
    `nrc.train.setup.scale_targets` stored)."""
    scaling = info.get("target_scaling") or {}
    if scaling.get("how") == "minmax":
        low, high = np.asarray(scaling["min"]), np.asarray(scaling["max"])
        return (y - low) / (high - low)
    if scaling.get("how") == "standardize":
        return (y - np.asarray(scaling["mean"])) / np.asarray(scaling["std"])
    return y


def condition(y: np.ndarray) -> float:
    """λmax/λmin of the centred target covariance (NaN for n = 1): how anisotropic Σ is."""
    if y.shape[1] < 2:
        return float("nan")
    eig = np.linalg.eigvalsh(target_covariance(y))
    return float(eig[-1] / eig[0])


def make(ctx: Context) -> Artifact:
    """Table 1 rows for the datasets of the reproduction, with the paper's values."""
    rows = []
    for name in ctx.results.plan.datasets:
        info = ctx.results.data_info(name)
        kind = registry.IMAGE_INPUT if len(info["input_shape"]) == 3 else registry.STATE
        targets = ctx.results.targets(name)
        ours = table1_row(name, targets, kind)
        spec = registry.spec(name)
        paper = spec.paper_row
        rows.append(
            {
                "dataset": name,
                "size": ours.size,
                "input": ours.input_type,
                "n": ours.n,
                "target_corr": ", ".join(f"{c:.4g}" for c in ours.target_corr) or "NA",
                "lambda_min": ours.lambda_min,
                "condition_trained": condition(trained_targets(targets, info)),
                "paper_dataset": spec.paper,
                "paper_size": paper.size,
                "paper_target_corr": ", ".join(f"{c:.4g}" for c in paper.target_corr),
                "paper_lambda_min": paper.lambda_min,
            }
        )
    table = pd.DataFrame(rows)
    path = atomic_write(ctx.tables / "table1.csv", lambda tmp: table.to_csv(tmp, index=False))
    return Artifact(
        "table1",
        "Table 1: datasets",
        "Our datasets (generated with the real MuJoCo simulator and our experts) beside the "
        "paper's rows; a rendered image set is shown beside the paper dataset it stands in for "
        "(paper_dataset). λmin: smallest eigenvalue of the centred target covariance (÷M); "
        "condition_trained: its λmax/λmin for the targets as trained on (after the preset's "
        "scaling), which decides whether NRC3 is informative (docs/images.md).",
        [path],
        table,
    )
