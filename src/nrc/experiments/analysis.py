"""Analyses of stored results shared by figures and claims: the end of each run's NRC curves
(Fig. 2, claim C1's margin); NRC3 as a function of γ for the final W (paper App. A.3, Fig. 4)
and counting its local minima (claim C3); the deep study's
final layers, geometry across weight decay and low-rank tables (claims D1–D4); the gap of a
UFM-style run to its objective's closed-form optimum (Theorem 4.1, App. B; claims C5–C7)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from nrc.experiments.results import Results
from nrc.metrics import nrc3_at, optimal_gamma, sqrtm_psd
from nrc.metrics.schema import row_matrix
from nrc.metrics.targets import target_covariance
from nrc.ufm.theory import mean_loss_lambdas, optimal_loss, optimal_wwt

# The paper's optimal γ/λmin of Fig. 4.
PAPER_OPTIMUM = {"reacher": 0.749, "swimmer": 0.691, "hopper": 0.011, "carla-2d": 0.149}
GRID_POINTS = 400
TAIL = 0.25  # the share of a run's epochs that `curve_ends` calls its end


def curve_ends(
    rows: pd.DataFrame, metrics: tuple[str, ...] = ("nrc1", "nrc2", "nrc3")
) -> pd.DataFrame:
    """Per run of ``rows`` (metrics rows with run, dataset, seed, convention, epoch): the run's
    metric convention, and each metric's final value and its min and max over the evaluations
    of the last `TAIL` of the run's epochs (epoch ≥ (1 − TAIL)·last epoch). A curve still
    falling ends at its min with the max at the start of the tail; a flat one has min ≈ max
    (docs/training.md, "Claims and their margin")."""
    out = []
    for run, group in rows.groupby("run", sort=False):
        group = group.sort_values("epoch")
        last = group.iloc[-1]
        tail = group[group.epoch >= (1 - TAIL) * last.epoch]
        row = {"dataset": last.dataset, "seed": int(last.seed), "run": run}
        row["convention"] = last.convention
        row |= {"epoch": int(last.epoch), "tail_from": int(tail.epoch.iloc[0])}
        for m in metrics:
            values = tail[m].astype(float) if m in tail else pd.Series(np.nan, index=tail.index)
            row |= {m: values.iloc[-1], f"{m}_tail_min": values.min()}
            row[f"{m}_tail_max"] = values.max()
        out.append(row)
    return pd.DataFrame(out)


def nrc3_curve(row: pd.Series, points: int = GRID_POINTS) -> tuple[np.ndarray, np.ndarray, float]:
    """(γ/λmin grid on [0, 1], NRC3 on it, optimal γ/λmin) for the final WWᵀ and Σ of ``row``.

    NRC3 depends on W only through WWᵀ, so (WWᵀ)^½ stands in for W.
    """
    sigma, wwt = row_matrix(row, "sigma"), row_matrix(row, "wwt")
    w = sqrtm_psd(wwt)
    lam_min = float(np.linalg.eigvalsh(sigma)[0])
    ratios = np.linspace(0.0, 1.0, points)
    values = np.array([nrc3_at(w, sigma, r * lam_min) for r in ratios[:-1]] + [np.nan])
    if np.ptp(np.linalg.eigvalsh(sigma)) > 0:
        values[-1] = nrc3_at(w, sigma, lam_min)
    gamma, _ = optimal_gamma(w, sigma)
    return ratios, values, gamma / lam_min


def count_local_minima(values: np.ndarray) -> int:
    """Strict interior local minima plus minima at the ends of a sampled curve."""
    v = values[np.isfinite(values)]
    inner = np.sum((v[1:-1] < v[:-2]) & (v[1:-1] < v[2:]))
    return int(inner + (v[0] < v[1]) + (v[-1] < v[-2]))


def final_layers(rows: pd.DataFrame) -> pd.DataFrame:
    """The per-layer rows of the last evaluation, in layer order (the input side first)."""
    last = rows[rows.epoch == rows.epoch.max()]
    order = list(dict.fromkeys(rows.layer))
    return last.set_index("layer").loc[order].reset_index()


def deep_geometry_table(results: Results) -> pd.DataFrame:
    """Per dataset and weight decay of the deep study's sweeps: the final NRC1, test MSE and the
    intrinsic dimensions ID_H (penultimate features) and ID_Y (targets)."""
    rows = []
    for _, run in results.deep_runs("wd").iterrows():
        geometry = results.geometry(run.run)
        rows.append(
            {
                "dataset": run.dataset,
                "weight_decay": run.weight_decay,
                "main": run.weight_decay == results.plan.main_weight_decay(run.dataset),
                "nrc1": run.nrc1,
                "test_mse": run.test_mse,
                "id_h": geometry["id_h"],
                "id_y": geometry["id_y"],
            }
        )
    return pd.DataFrame(rows)


def deep_rank_table(results: Results) -> pd.DataFrame:
    """Per dataset and effective target rank r (the full rank n from the main WD sweep run): the
    final stable rank and TwoNN dimension of the penultimate features, and NRC1."""
    finals = [results.deep_runs("rank")]
    sweep = results.deep_runs("wd")
    if not sweep.empty:
        main = sweep.weight_decay == sweep.dataset.map(results.plan.main_weight_decay)
        finals.append(sweep[main].assign(target_rank=sweep[main].n))
    rows = []
    for frame in finals:
        for _, run in frame.iterrows():
            penultimate = final_layers(results.layer_table(run.run)).iloc[-1]
            rows.append(
                {
                    "dataset": run.dataset,
                    "n": int(run.n),
                    "rank": int(run.target_rank),
                    "stable_rank_h": penultimate.stable_rank_h,
                    "id_h": results.geometry(run.run)["id_h"],
                    "nrc1": run.nrc1,
                }
            )
    table = pd.DataFrame(rows)
    return table.sort_values(["dataset", "rank"]).reset_index(drop=True) if rows else table


def ufm_optimum_gap(row: pd.Series, y: np.ndarray, *, data_term: str) -> dict[str, float]:
    """How far a UFM-style run (``regularization="ufm"``, λ_W, λ_H > 0) is from its optimum.

    ``row`` is a final metrics row with its config's ``lambda_h``, ``lambda_w`` (a sweep table
    row); ``y`` the training targets (M×n). ``data_term`` (no default: a run's files do not say
    which) is the loss the run trained on:
    "mean" = ½·MSE averaged over the n targets (the authors' code, and nrc's UFM-style runs made
    before they moved to eq. 1; docs/training.md), whose optimum is problem (1)'s with λ's n
    times larger (:func:`nrc.ufm.theory.mean_loss_lambdas`); "sum" = problem (1) itself, the
    loss of nrc's UFM-style runs now (`nrc.train.loop.objective`).

    The run's objective is taken as data term + λ_W‖W‖²_F: by the rescaling W → αW, H → H/α,
    which the MLP's last layer realises, every stationary point has λ_H‖H‖²_F/M = λ_W‖W‖²_F
    (Lemma C.1), so this is exact there. Returns c = λ_W·λ_H; c_eff, the optimum's residual
    variance (App. B); the relative gap to the closed-form minimum (Theorem 4.1); train R² and
    the optimum's; ‖WWᵀ − (WWᵀ)*‖_F/‖(WWᵀ)*‖_F (Corollary 4.2(ii); NaN where (WWᵀ)* = 0); the
    residual variances over c and over c_eff (min, max); the largest residual |correlation|.
    """
    if data_term not in ("mean", "sum"):
        raise ValueError(f"data_term must be 'mean' or 'sum', got {data_term!r}")
    n = int(row["n"])
    lw, lh = float(row["lambda_w"]), float(row["lambda_h"])
    if lw * lh <= 0.0:
        raise ValueError(f"lambda_w, lambda_h: need both > 0, got {lw:g}, {lh:g}")
    sigma = target_covariance(y)
    k = n if data_term == "mean" else 1  # the trainer's loss is L_(1)(kλ_W, kλ_H)/k
    lw_eff, lh_eff = mean_loss_lambdas(lw, lh, k)
    c_eff = lw_eff * lh_eff
    wwt = row_matrix(row, "wwt")
    objective = 0.5 * float(row["train_mse"]) * n / k + lw * float(np.trace(wwt))
    optimum = optimal_loss(sigma, lw_eff, lh_eff) / k
    target = optimal_wwt(sigma, lw_eff, lh_eff)
    target_norm = float(np.linalg.norm(target))  # 0 when c_eff ≥ λmax (W = 0, Theorem 4.1)
    variances = np.diag(row_matrix(row, "residual_cov"))
    unexplained = np.minimum(np.linalg.eigvalsh(sigma), c_eff).sum() / np.trace(sigma)
    return {
        "c": lw * lh,
        "c_eff": c_eff,
        "gap": (objective - optimum) / optimum,
        "r2": float(row["train_r2"]),
        "r2_optimum": float(1.0 - unexplained),
        "wwt_error": float(np.linalg.norm(wwt - target)) / target_norm if target_norm else np.nan,
        "variance_over_c_min": float(variances.min() / (lw * lh)),
        "variance_over_c_max": float(variances.max() / (lw * lh)),
        "variance_over_c_eff_min": float(variances.min() / c_eff),
        "variance_over_c_eff_max": float(variances.max() / c_eff),
        "whiteness": float(row["residual_whiteness"]) if n > 1 else np.nan,
    }
