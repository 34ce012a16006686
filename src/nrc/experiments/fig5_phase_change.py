"""Fig. 5: the phase change at small weight decay — no collapse at WD = 0 (Theorem 4.3)."""

from __future__ import annotations

from nrc.experiments.common import Artifact, Context
from nrc.plots import save_figure
from nrc.plots.curves import metric_grid

METRICS = ("train_mse", "test_mse", "nrc1", "nrc2", "nrc3")


def make(ctx: Context) -> Artifact:
    """Swimmer (the paper's row) or the first dataset: one panel per metric, one line per WD."""
    res = ctx.results
    name = "swimmer" if "swimmer" in res.plan.datasets else res.plan.datasets[0]
    fig = metric_grid(res.wd, [name], METRICS, "weight_decay", "WD", f"{name}: phase change")
    paths = save_figure(fig, ctx.figures / "fig5_phase_change", ctx.formats)
    return Artifact(
        "fig5",
        "Fig. 5: phase change for small weight decay",
        f"{name}: train/test MSE and NRC1–3 (log scale) for each weight decay, 0 included.",
        paths,
    )
