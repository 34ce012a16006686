"""Low-rank targets (Deep NRC): does the dimension the features collapse to follow the
effective rank r of the targets? Stable rank and TwoNN dimension of the penultimate features."""

from __future__ import annotations

from nrc.experiments.analysis import deep_rank_table
from nrc.experiments.common import Artifact, Context
from nrc.io import atomic_write
from nrc.plots import save_figure, subplots


def make(ctx: Context) -> Artifact | None:
    """Stable rank and ID_H of the final penultimate features against r, per dataset."""
    if "deep" not in ctx.results.plan.studies or ctx.results.deep.empty:
        return None
    table = deep_rank_table(ctx.results)
    if table.empty:
        return None
    fig, axes = subplots(1, 2, width=3.6, height=3.0)
    for dataset, rows in table.groupby("dataset", sort=False):
        axes[0].plot(rows["rank"], rows.stable_rank_h, "o-", label=dataset)
        axes[1].plot(rows["rank"], rows.id_h, "o-", label=dataset)
    top = int(table["rank"].max())
    for ax, label in zip(axes, ("stable rank of H", "ID_H (TwoNN)"), strict=True):
        ax.plot([1, top], [1, top], ":", color="grey", label="= r")
        ax.set_xlabel("effective target rank r")
        ax.set_ylabel(label)
        ax.legend(fontsize=7)
    paths = save_figure(fig, ctx.figures / "deep_low_rank", ctx.formats)
    paths.append(
        atomic_write(ctx.tables / "deep_low_rank.csv", lambda t: table.to_csv(t, index=False))
    )
    return Artifact(
        "deep_low_rank",
        "Low-rank targets: the collapsed dimension against the target rank",
        "Targets made effectively rank r (the other principal directions shrunk 1,000×; r = n is "
        "the unchanged targets), the quick preset's weight decay: the stable rank tr Σ_H / λmax "
        "and the TwoNN dimension of the final penultimate features.",
        paths,
        table,
    )
