"""Fig. 5: the phase change at small weight decay — no collapse at WD = 0 (Theorem 4.3)."""

from __future__ import annotations

from nrc.experiments.common import Artifact, Context
from nrc.plots import save_figure
from nrc.plots.curves import metric_grid

METRICS = ("train_mse", "test_mse", "nrc1", "nrc2", "nrc3")


def make(ctx: Context) -> Artifact:
    """The paper's two columns: Swimmer (else the first MuJoCo dataset) and CARLA 2D (else the
    first image dataset with n = 2, else the first image dataset); one line per WD."""
    res = ctx.results
    names = []
    for preferred, pool in (
        ("swimmer", res.plan.mujoco_datasets),
        ("carla-2d", res.plan.image_datasets),
    ):
        two = [d for d in pool if not res.main(d).empty and res.main(d).n.iloc[0] >= 2]
        if pool:
            names.append(preferred if preferred in pool else (two or list(pool))[0])
    fig = metric_grid(res.wd, names, METRICS, "weight_decay", "WD", "Phase change")
    paths = save_figure(fig, ctx.figures / "fig5_phase_change", ctx.formats)
    return Artifact(
        "fig5",
        "Fig. 5: phase change for small weight decay",
        f"{', '.join(names)}: train/test MSE and NRC1–3 (log scale) for each weight decay, 0 "
        "included.",
        paths,
    )
