"""The UFM phase diagram on the targets of a reproduced dataset (paper §4, Theorem 4.1): the
table is computed once on stored targets (`phase`) and drawn here (`make`)."""

from __future__ import annotations

import pandas as pd

from nrc.experiments.common import Artifact, Context
from nrc.experiments.results import Results
from nrc.ufm.phase import phase_diagram, write_phase


def phase_dataset(results: Results) -> str:
    """Reacher's targets, as the paper, else the first dataset of the plan."""
    datasets = results.plan.datasets
    return "reacher" if "reacher" in datasets else datasets[0]


def phase(results: Results, points_per_decade: int) -> pd.DataFrame:
    """Theory vs solver over c covering every regime, on the stored targets of `phase_dataset`."""
    return phase_diagram(
        results.targets(phase_dataset(results)), points_per_decade=points_per_decade
    )


def make(ctx: Context) -> Artifact:
    """The phase diagram of `ctx.results.phase` as a figure and a CSV table."""
    table = ctx.results.phase
    if table is None:
        raise ValueError("the UFM phase diagram was not computed (no stored targets)")
    name = phase_dataset(ctx.results)
    paths = list(write_phase(table, ctx.figures / "ufm_phase"))
    return Artifact(
        "ufm_phase",
        "UFM phase diagram",
        f"{name} targets: rank of W, loss, NRC1–3 and training MSE of the UFM minimiser against "
        f"c = λ_W·λ_H, closed form and gradient solver side by side. Largest relative loss gap "
        f"{table.loss_gap.abs().max():.2e}.",
        sorted(paths),
        table,
    )
