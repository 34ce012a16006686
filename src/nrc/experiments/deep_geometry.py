"""Geometry across the weight-decay sweep (Andriopoulos et al., arXiv 2510.01105): the TwoNN
dimension of the penultimate features (ID_H) and of the targets (ID_Y), NRC1 and test MSE."""

from __future__ import annotations

from nrc.experiments.analysis import deep_geometry_table
from nrc.experiments.common import Artifact, Context
from nrc.io import atomic_write
from nrc.plots import save_figure, subplots

PANELS = (("id_h", "ID_H (features)"), ("nrc1", "NRC1"), ("test_mse", "test MSE"))


def make(ctx: Context) -> Artifact | None:
    """Per dataset: ID_H beside ID_Y, NRC1 and test MSE against the weight decay."""
    if "deep" not in ctx.results.plan.studies or ctx.results.deep.empty:
        return None
    table = deep_geometry_table(ctx.results)
    datasets = list(dict.fromkeys(table.dataset))
    fig, axes = subplots(len(PANELS), len(datasets), width=3.2, height=2.4)
    for col, dataset in enumerate(datasets):
        rows = table[table.dataset == dataset].sort_values("weight_decay")
        at = range(len(rows))
        for row, (metric, label) in enumerate(PANELS):
            ax = axes[row * len(datasets) + col]
            ax.plot(at, rows[metric], "o-", label=label)
            ax.set_xticks(at, [f"{wd:g}" for wd in rows.weight_decay])
            if metric == "id_h":
                ax.plot(at, rows.id_y, "s--", color="grey", label="ID_Y (targets)")
                ax.legend(fontsize=7)
            else:
                ax.set_yscale("log")
            ax.set_title(f"{dataset}: {label}", fontsize=8)
            ax.set_xlabel("weight decay")
    paths = save_figure(fig, ctx.figures / "deep_geometry", ctx.formats)
    paths.append(
        atomic_write(ctx.tables / "deep_geometry.csv", lambda t: table.to_csv(t, index=False))
    )
    return Artifact(
        "deep_geometry",
        "Geometry across weight decay: intrinsic dimension, collapse, test error",
        "TwoNN intrinsic dimension (maximum likelihood) of the final penultimate features (ID_H) "
        "and of the training targets (ID_Y), final NRC1 and test MSE for each weight decay of "
        "the sweep. A collapsed model is 'over-compressed' when ID_H < ID_Y.",
        paths,
        table,
    )
