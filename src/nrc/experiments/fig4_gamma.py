"""Fig. 4: last-epoch NRC3 as a function of γ/λmin, with the optimum marked (paper App. A.3)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from nrc.data import registry
from nrc.experiments.analysis import PAPER_OPTIMUM, count_local_minima, nrc3_curve
from nrc.experiments.common import Artifact, Context
from nrc.io import atomic_write
from nrc.plots import save_figure, subplots


def make(ctx: Context) -> Artifact:
    """One panel per dataset with n ≥ 2 (NRC3 is omitted for n = 1)."""
    res = ctx.results
    datasets = [d for d in res.plan.datasets if int(res.main(d).n.iloc[0]) >= 2]
    fig, axes = subplots(1, max(len(datasets), 1))
    rows = []
    for ax, name in zip(axes, datasets, strict=False):
        ratios, values, best = nrc3_curve(res.main(name).iloc[-1])
        ax.plot(ratios, values)
        ax.axvline(best, color="tab:red", ls="--", label=f"optimum γ/λmin = {best:.3f}")
        paper = PAPER_OPTIMUM.get(registry.spec(name).paper)
        if paper is not None:
            ax.axvline(paper, color="grey", ls=":", label=f"paper: {paper}")
        ax.set_xlabel("γ / λmin")
        ax.set_ylabel("last-epoch NRC3")
        ax.set_title(name)
        ax.legend(fontsize=7)
        rows.append(
            {
                "dataset": name,
                "gamma_over_lambda_min": best,
                "paper_gamma_over_lambda_min": paper,
                "nrc3_at_optimum": float(np.nanmin(values)),
                "local_minima": count_local_minima(values),
            }
        )
    table = pd.DataFrame(rows)
    paths = save_figure(fig, ctx.figures / "fig4_gamma", ctx.formats)
    paths.append(
        atomic_write(ctx.tables / "fig4_gamma.csv", lambda t: table.to_csv(t, index=False))
    )
    return Artifact(
        "fig4",
        "Fig. 4: the optimal γ for NRC3",
        "Normalised NRC3 of the final W as a function of γ/λmin; dashed: the closed-form "
        "optimum, dotted: the paper's value.",
        paths,
        table,
    )
