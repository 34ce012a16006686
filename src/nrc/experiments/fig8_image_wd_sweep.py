"""Fig. 8: every metric under every weight decay, per image dataset (ResNets)."""

from __future__ import annotations

from nrc.experiments.common import Artifact, Context
from nrc.experiments.fig7_wd_sweep import sweep_figure


def make(ctx: Context) -> Artifact | None:
    """The image datasets of the reproduction (CARLA, UTKFace or the rendered MuJoCo sets)."""
    return sweep_figure(
        ctx, "fig8", ctx.results.plan.image_datasets, "Weight-decay sweep (images, ResNet)"
    )
