"""The UFM phase diagram on the targets of a reproduced dataset (paper §4, Theorem 4.1)."""

from __future__ import annotations

from nrc.data import load
from nrc.experiments.common import Artifact, Context
from nrc.ufm.phase import phase_diagram


def make(ctx: Context) -> Artifact:
    """Theory vs solver over c/λmin covering every regime, on Reacher's (or the first) targets."""
    datasets = ctx.results.plan.datasets
    name = "reacher" if "reacher" in datasets else datasets[0]
    table = phase_diagram(
        load(name).y_train,
        points_per_decade=ctx.phase_points_per_decade,
        out=ctx.figures / "ufm_phase",
    )
    return Artifact(
        "ufm_phase",
        "UFM phase diagram",
        f"{name} targets: rank of W, loss, NRC1–3 and training MSE of the UFM minimiser against "
        f"c = λ_W·λ_H, closed form and gradient solver side by side. Largest relative loss gap "
        f"{table.loss_gap.abs().max():.2e}.",
        sorted((ctx.figures / "ufm_phase").glob("phase.*")),
        table,
    )
