"""Fig. 3: explained variance ratio of the top-5 principal components of H during training."""

from __future__ import annotations

from nrc.experiments.common import Artifact, Context
from nrc.plots import save_figure, subplots


def make(ctx: Context) -> Artifact:
    """EVR of PC1…PC5 vs epoch per dataset; the first n carry the variance after collapse."""
    res = ctx.results
    datasets = list(res.plan.datasets)
    fig, axes = subplots(1, len(datasets))
    for ax, name in zip(axes, datasets, strict=True):
        rows = res.main(name)
        for k in range(1, 6):
            if f"evr_{k}" in rows:
                ax.plot(rows.epoch, rows[f"evr_{k}"], label=f"PC{k}")
        ax.set_title(f"{name} (n = {int(rows.n.iloc[0])})")
        ax.set_xlabel("epoch")
        ax.set_ylabel("explained variance ratio")
        ax.set_ylim(-0.02, 1.02)
        ax.legend(fontsize=7)
    paths = save_figure(fig, ctx.figures / "fig3_evr", ctx.formats)
    return Artifact(
        "fig3",
        "Fig. 3: EVR of the top principal components",
        "Explained variance ratio of the first five principal components of the (centred) "
        "penultimate features on the training set.",
        paths,
    )
