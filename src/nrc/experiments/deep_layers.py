"""Deep NRC across depth and time: layer × epoch heat maps of the four conditions of Rangamani &
Unal (CPAL 2026) — noise fraction, CKA with the targets, alignment with the next layer's input
subspace, linear-probe MSE — without and with weight decay."""

from __future__ import annotations

from nrc.experiments.common import Artifact, Context
from nrc.experiments.plan import DEEP_MLP_WEIGHT_DECAYS
from nrc.plots import layer_epoch_heatmap, save_figure, subplots

METRICS = ("noise_fraction", "cka", "alignment", "probe_mse")


def make(ctx: Context) -> Artifact | None:
    """One figure per dataset and model family; rows: weight decays, columns: conditions."""
    res = ctx.results
    if "deep" not in res.plan.studies or res.deep.empty:
        return None
    paths = []
    for family in ("wd", "mlp8"):
        finals = res.deep_runs(family)
        for dataset, runs in finals.groupby("dataset", sort=False):
            shown = (0.0, res.plan.main_weight_decay(dataset))
            chosen = runs[
                runs.weight_decay.isin(shown if family == "wd" else DEEP_MLP_WEIGHT_DECAYS)
            ]
            fig, axes = subplots(len(chosen), len(METRICS), width=3.2, height=2.2)
            for i, (_, run) in enumerate(chosen.sort_values("weight_decay").iterrows()):
                table = res.layer_table(run.run)
                for j, metric in enumerate(METRICS):
                    title = f"{dataset} WD {run.weight_decay:g}: {metric}"
                    layer_epoch_heatmap(axes[i * len(METRICS) + j], table, metric, title)
            paths += save_figure(fig, ctx.figures / f"deep_layers_{family}_{dataset}", ctx.formats)
    return Artifact(
        "deep_layers",
        "Deep NRC: collapse at every layer",
        "Layer (top: input side) × epoch of the four Deep-NRC conditions on the training set: "
        "share of centred variance outside the top-n principal directions (noise fraction, log "
        "scale), linear CKA of features and targets, mean cosine between the top-n feature "
        "directions and the next layer's input subspace, and the least-squares probe MSE (log). "
        "'wd': the quick preset's MLP; 'mlp8': Deep NRC's 8×512 MLP without biases.",
        paths,
    )
