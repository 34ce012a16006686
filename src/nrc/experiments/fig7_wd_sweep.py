"""Fig. 7: every metric under every weight decay, per MuJoCo dataset (Fig. 8: images)."""

from __future__ import annotations

from nrc.experiments.common import Artifact, Context
from nrc.plots import save_figure
from nrc.plots.curves import metric_grid

METRICS = ("train_mse", "test_mse", "train_r2", "nrc1", "nrc2", "nrc3")


def sweep_figure(ctx: Context, key: str, datasets: tuple[str, ...], title: str) -> Artifact | None:
    """Rows: train MSE (log), test MSE, R², NRC1–3; columns: `datasets`; lines: weight decays.
    None when `datasets` is empty (the figure does not apply to this reproduction)."""
    if not datasets:
        return None
    fig = metric_grid(ctx.results.wd, datasets, METRICS, "weight_decay", "WD", title)
    paths = save_figure(fig, ctx.figures / f"{key}_wd_sweep", ctx.formats)
    return Artifact(
        key,
        f"Fig. {key.removeprefix('fig')}: train/test MSE, R² and NRC1–3 under different weight "
        "decays",
        "One line per weight decay (colour fixed by value, black = 0); NRC3 at the optimal γ "
        "(omitted for n = 1).",
        paths,
    )


def make(ctx: Context) -> Artifact | None:
    """The MuJoCo datasets of the reproduction."""
    return sweep_figure(
        ctx, "fig7", ctx.results.plan.mujoco_datasets, "Weight-decay sweep (MuJoCo)"
    )
