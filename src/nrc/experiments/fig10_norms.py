"""Fig. 10: mean feature norm and row norms of W against λ_H at fixed λ_W (Corollary 4.2(iii))."""

from __future__ import annotations

from nrc.experiments.common import Artifact, Context
from nrc.plots import save_figure
from nrc.plots.curves import metric_grid
from nrc.train.presets import FIG10_LAMBDA_W


def make(ctx: Context) -> Artifact | None:
    """Columns: datasets; rows: mean ‖h‖, ‖w1‖, ‖w2‖ vs epoch; lines: λ_H. None when the plan
    has none of Fig. 10's datasets."""
    res = ctx.results
    if not set(res.plan.fig10_datasets) & set(res.plan.datasets):
        return None
    datasets = sorted(res.fig10.dataset.unique())
    metrics = ["feature_norm_mean", "w_row_norm_1", "w_row_norm_2"]
    fig = metric_grid(
        res.fig10, datasets, metrics, "lambda_h", "λ_H", f"Norms with λ_W = {FIG10_LAMBDA_W} fixed"
    )
    paths = save_figure(fig, ctx.figures / "fig10_norms", ctx.formats)
    return Artifact(
        "fig10",
        "Fig. 10: norms of H and W",
        f"λ_W = {FIG10_LAMBDA_W}, λ_H varied: as λ_H grows the mean feature norm should fall "
        "and the row norms of W rise (λ_H‖H‖² = Mλ_W‖W‖²).",
        paths,
    )
