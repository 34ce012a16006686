"""Table 1: dataset overview (size, input type, n, target correlations, λmin), ours beside the
paper's."""

from __future__ import annotations

import pandas as pd

from nrc.data import load, table1_row
from nrc.data.stats import PAPER_TABLE1, input_type
from nrc.experiments.common import Artifact, Context
from nrc.io import atomic_write
from nrc.train.presets import ANALOGUE


def make(ctx: Context) -> Artifact:
    """Table 1 rows for the datasets of the reproduction, with the paper's values."""
    rows = []
    for name in ctx.results.plan.datasets:
        data = load(name)
        ours = table1_row(name, data.y_train, input_type(data.x_train))
        paper_name = name if name in PAPER_TABLE1 else ANALOGUE.get(name)
        paper = PAPER_TABLE1.get(paper_name, {}) if paper_name else {}
        rows.append(
            {
                "dataset": name,
                "size": ours.size,
                "input": ours.input_type,
                "n": ours.n,
                "target_corr": ", ".join(f"{c:.4g}" for c in ours.target_corr) or "NA",
                "lambda_min": ours.lambda_min,
                "paper_dataset": paper_name if paper else None,
                "paper_size": paper.get("size"),
                "paper_target_corr": ", ".join(f"{c:.4g}" for c in paper.get("target_corr", [])),
                "paper_lambda_min": paper.get("lambda_min"),
            }
        )
    table = pd.DataFrame(rows)
    path = atomic_write(ctx.tables / "table1.csv", lambda tmp: table.to_csv(tmp, index=False))
    return Artifact(
        "table1",
        "Table 1: datasets",
        "Our datasets (generated with the real MuJoCo simulator and our experts) beside the "
        "paper's rows; a rendered image set is shown beside the paper dataset it stands in for "
        "(paper_dataset). λmin: smallest eigenvalue of the centred target covariance (÷M).",
        [path],
        table,
    )
