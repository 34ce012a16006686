"""The training runs behind the reproduction: which runs each preset needs, running them through
``nrc.train.sweep`` (finished runs reused, unfinished resumed, failures recorded), gathering.

Groups (paper.md §5–6): ``wd`` — weight-decay sweeps, 0 included (Figs. 2–5, 7, 11 use its runs);
``ufm`` — λ_H = λ_W penalties instead of weight decay, no penultimate activation (Figs. 6, 9);
``fig10`` — λ_W = 0.01 fixed, λ_H varied (Fig. 10).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from nrc.train import preset as train_preset
from nrc.train import sweep
from nrc.train.presets import DATASETS, FIG10_LAMBDA_H, FIG10_LAMBDA_W, PAPER_SEEDS, PRESETS

log = logging.getLogger(__name__)

# The quick preset's sweeps use fewer points than the paper's so `make run` stays within
# 20 minutes on 2 cores; each still spans no regularisation to the preset's own value.
QUICK_WD_GRID = (0.0, 1e-4, 1e-3, 1e-2)
QUICK_UFM_LAMBDAS = (0.0, 1e-3, 1e-2)
PAPER_UFM_LAMBDAS = (0.0, 1e-5, 1e-4, 1e-3, 1e-2)
FIG10_DATASETS = ("reacher", "swimmer")
FIG10_EPOCHS = 1000


@dataclass(frozen=True)
class Plan:
    """Everything that decides which runs exist for a reproduction."""

    preset: str
    datasets: tuple[str, ...]
    seeds: tuple[int, ...]
    wd_grid: tuple[float, ...] | None  # None: the paper's per-dataset grids
    ufm_lambdas: tuple[float, ...]
    fig10_datasets: tuple[str, ...] = field(default=FIG10_DATASETS)
    overrides: tuple[str, ...] = ()  # `key=value` applied last to every run (e.g. a tiny test)

    def main_weight_decay(self, dataset: str) -> float:
        """The weight decay of the run shown in Figs. 2–4 and 11 (the preset's own)."""
        return train_preset(self.preset, dataset).weight_decay


def plan_for(
    preset: str, datasets: tuple[str, ...] = DATASETS, overrides: tuple[str, ...] = ()
) -> Plan:
    """The runs of ``preset`` ("quick" or "paper") on ``datasets``, with ``overrides`` last."""
    if preset not in PRESETS:
        raise ValueError(f"--preset must be one of {PRESETS}, got {preset!r}")
    unknown = sorted(set(datasets) - set(DATASETS))
    if unknown or not datasets:
        raise ValueError(f"--datasets: unknown or empty {unknown}; available: {DATASETS}")
    if preset == "paper":
        return Plan(
            "paper", tuple(datasets), PAPER_SEEDS, None, PAPER_UFM_LAMBDAS, overrides=overrides
        )
    return Plan(
        "quick", tuple(datasets), (0,), QUICK_WD_GRID, QUICK_UFM_LAMBDAS, overrides=overrides
    )


@dataclass
class Results:
    """Gathered metrics tables (one row per evaluation of every finished run) and run status."""

    plan: Plan
    root: Path
    wd: pd.DataFrame
    ufm: pd.DataFrame
    fig10: pd.DataFrame
    status: pd.DataFrame

    def main(self, dataset: str) -> pd.DataFrame:
        """Rows of the main run of ``dataset`` (preset weight decay, first seed), by epoch."""
        if self.wd.empty:
            return self.wd
        rows = self.wd[
            (self.wd.dataset == dataset)
            & (self.wd.weight_decay == self.plan.main_weight_decay(dataset))
            & (self.wd.seed == self.plan.seeds[0])
        ]
        return rows.sort_values("epoch")

    def main_run_dir(self, dataset: str) -> Path:
        """Run directory of the main run of ``dataset``."""
        return self.root / "wd" / self.main(dataset).run.iloc[0]


def _ufm_overrides(lam: float) -> list[str]:
    return ['regularization="ufm"', "weight_decay=0", f"lambda_w={lam}", 'activation="none"']


def execute(plan: Plan, root: Path, jobs: int = 1) -> Results:
    """Run (or reuse) every run of ``plan`` under ``root`` and gather the tables."""
    root = Path(root)
    datasets = list(plan.datasets)
    seeds = list(plan.seeds)
    wd_grid = ["paper"] if plan.wd_grid is None else list(plan.wd_grid)
    tables: dict[str, list[pd.DataFrame]] = {"wd": [], "ufm": [], "fig10": []}
    status: list[pd.DataFrame] = []

    def collect(group: str, result) -> None:
        tables[group].append(result.table)
        status.append(result.status.assign(group=group))

    log.info("weight-decay sweep: %s × WD %s × seeds %s", datasets, wd_grid, seeds)
    collect(
        "wd",
        sweep(
            plan.preset,
            {"dataset": datasets, "weight_decay": wd_grid, "seed": seeds},
            root / "wd",
            overrides=list(plan.overrides),
            jobs=jobs,
        ),
    )
    for lam in plan.ufm_lambdas:
        log.info("UFM-style runs: λ_H = λ_W = %g", lam)
        collect(
            "ufm",
            sweep(
                plan.preset,
                {"dataset": datasets, "lambda_h": [lam], "seed": seeds},
                root / "ufm" / f"lambda={lam}",
                overrides=[*_ufm_overrides(lam), *plan.overrides],
                jobs=jobs,
            ),
        )
    fig10_sets = [d for d in plan.fig10_datasets if d in plan.datasets]
    if fig10_sets:
        every = FIG10_EPOCHS // 50
        overrides = [
            *_ufm_overrides(FIG10_LAMBDA_W),
            f"epochs={FIG10_EPOCHS}",
            f"eval_every={every}",
            f"checkpoint_every={every * 10}",
            *plan.overrides,
        ]
        log.info("Fig. 10 runs: λ_W = %g, λ_H in %s", FIG10_LAMBDA_W, FIG10_LAMBDA_H)
        collect(
            "fig10",
            sweep(
                plan.preset,
                {"dataset": fig10_sets, "lambda_h": ["fig10"], "seed": seeds[:1]},
                root / "fig10",
                overrides=overrides,
                jobs=jobs,
            ),
        )

    def cat(frames: list[pd.DataFrame]) -> pd.DataFrame:
        frames = [f for f in frames if not f.empty]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    return Results(
        plan, root, cat(tables["wd"]), cat(tables["ufm"]), cat(tables["fig10"]), cat(status)
    )
