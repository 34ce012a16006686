"""Figs. 6 and 9: L2 penalties on H and W (λ_H = λ_W) instead of weight decay, NRC3 at γ = c."""

from __future__ import annotations

from nrc.experiments.common import Artifact, Context
from nrc.plots import save_figure
from nrc.plots.curves import metric_grid

METRICS = ("train_mse", "nrc1", "nrc2", "nrc3")


def make(ctx: Context) -> Artifact | None:
    """Rows: train MSE, NRC1–3 (NRC3 at the UFM's γ = c = λ_W·λ_H); lines: λ. None without
    MuJoCo datasets (the UFM-style runs are made on those)."""
    res = ctx.results
    if not res.plan.mujoco_datasets:
        return None
    fig = metric_grid(
        res.ufm,
        res.plan.mujoco_datasets,
        METRICS,
        "lambda_h",
        "λ",
        "UFM-style regularisation (λ_H = λ_W = λ)",
        labels={"nrc3": "NRC3 (γ = c = λ²)"},
    )
    paths = save_figure(fig, ctx.figures / "fig6_ufm_runs", ctx.formats)
    return Artifact(
        "fig6",
        "Figs. 6/9: UFM-style regularisation",
        "No weight decay; penalties (λ/2)‖H‖²/B and (λ/2)‖W‖² with λ_H = λ_W = λ, no penultimate "
        "activation. NRC3 is evaluated at the UFM's γ = c = λ² (no search).",
        paths,
    )
