"""Fig. 2: prevalence of NRC1–3 during training, with train/test MSE and R², per dataset."""

from __future__ import annotations

import pandas as pd

from nrc.experiments.analysis import TAIL, curve_ends
from nrc.experiments.common import Artifact, Context
from nrc.io import atomic_write
from nrc.plots import METRIC_LABELS, save_figure, subplots


def make(ctx: Context) -> Artifact:
    """Top row: NRC1, NRC2, NRC3 (both γ protocols) vs epoch (log y). Bottom: MSE and R².
    The table: how each main run (every seed) ends, `curve_ends`."""
    res = ctx.results
    datasets = list(res.plan.datasets)
    fig, axes = subplots(2, len(datasets))
    for col, name in enumerate(datasets):
        rows = res.main(name)
        top, bottom = axes[col], axes[len(datasets) + col]
        for metric, style in (("nrc1", "-"), ("nrc2", "--"), ("nrc3", "-"), ("nrc3_paper", ":")):
            if metric in rows and rows[metric].notna().any():
                top.plot(rows.epoch, rows[metric].astype(float), style, label=METRIC_LABELS[metric])
        top.set_yscale("log")
        top.set_title(f"{name} (WD = {res.plan.main_weight_decay(name):g})")
        top.set_xlabel("epoch")
        top.set_ylabel("NRC")
        if top.lines:  # a run that failed before its first evaluation has nothing to label
            top.legend(fontsize=7)
        bottom.plot(rows.epoch, rows.train_mse, label="train MSE")
        bottom.plot(rows.epoch, rows.test_mse, label="test MSE")
        bottom.set_yscale("log")
        bottom.set_xlabel("epoch")
        bottom.set_ylabel("MSE")
        twin = bottom.twinx()
        twin.plot(rows.epoch, rows.train_r2, color="tab:green", label="train R²")
        twin.set_ylabel("train R²")
        twin.set_ylim(0, 1.02)
        bottom.legend(fontsize=7, loc="center right")
    paths = save_figure(fig, ctx.figures / "fig2_prevalence", ctx.formats)
    mains = [t for t in (res.main_seeds(d) for d in datasets) if not t.empty]
    table = curve_ends(pd.concat(mains)) if mains else pd.DataFrame()
    paths.append(atomic_write(ctx.tables / "fig2_ends.csv", lambda t: table.to_csv(t, index=False)))
    return Artifact(
        "fig2",
        "Fig. 2: prevalence of NRC1–NRC3",
        f"NRC1–3 of the whole training set during training (convention: {res.conventions()}; "
        "NRC3 at the optimal γ of each evaluation and, dotted, at the γ of the final W as the "
        "paper), and train/test MSE and train R². The table: each main run's final NRC1–3 "
        f"(every seed) and their min and max over the last {TAIL:.0%} of its epochs, from "
        "tail_from on: a curve still falling ends at its min, a flat one has min ≈ max.",
        paths,
        table,
    )
