"""The training runs behind the reproduction: which runs each preset needs, running them through
``nrc.train.sweep`` (finished runs reused, unfinished resumed, failures recorded), gathering.

Groups (paper.md §5–6): ``wd`` — weight-decay sweeps, 0 included (Figs. 2–5, 7, 8, 11 use its
runs), on every dataset; ``ufm`` — λ_H = λ_W penalties instead of weight decay, no penultimate
activation (Figs. 6, 9), on the MuJoCo datasets; ``fig10`` — λ_W = 0.01 fixed, λ_H varied
(Fig. 10), on Reacher and Swimmer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from nrc.data.envs import TASKS
from nrc.train import TrainConfig, expand, run_points
from nrc.train import preset as train_preset
from nrc.train.presets import (
    DATASETS,
    FIG10_LAMBDA_W,
    IMAGE_DATASETS,
    PAPER_SEEDS,
    PAPER_WD_GRIDS,
    PRESETS,
)

log = logging.getLogger(__name__)

# The quick preset's sweeps use fewer points than the paper's so `make run` stays within
# 20 minutes on 2 cores; each still spans no regularisation to the preset's own value.
QUICK_WD_FACTORS = (0.0, 0.1, 1.0)
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
    wd_factors: tuple[float, ...] | None  # × the preset's WD; None: the paper's per-dataset grids
    ufm_lambdas: tuple[float, ...]
    fig10_datasets: tuple[str, ...] = field(default=FIG10_DATASETS)
    overrides: tuple[str, ...] = ()  # `key=value` applied last to every run (e.g. a tiny test)

    @property
    def mujoco_datasets(self) -> tuple[str, ...]:
        """The MuJoCo (vector-input) datasets of the plan: Figs. 6, 7, 9, 10."""
        return tuple(d for d in self.datasets if d in DATASETS)

    @property
    def image_datasets(self) -> tuple[str, ...]:
        """The image datasets of the plan: Fig. 8."""
        return tuple(d for d in self.datasets if d in IMAGE_DATASETS)

    def main_weight_decay(self, dataset: str) -> float:
        """The weight decay of the run shown in Figs. 2–4 and 11 (the preset's own)."""
        return train_preset(self.preset, dataset).weight_decay

    def wd_values(self, dataset: str) -> list[float]:
        """The weight decays swept on ``dataset``, 0 and the preset's own included."""
        if self.wd_factors is None:
            return list(PAPER_WD_GRIDS[dataset])
        return [float(f"{f * self.main_weight_decay(dataset):.3g}") for f in self.wd_factors]


def default_datasets() -> tuple[str, ...]:
    """The MuJoCo sets, the rendered image sets (generated on first use), and CARLA/UTKFace
    when their files are present under $NRC_DATA_DIR."""
    from nrc.data.images import files_present

    present = tuple(d for d in IMAGE_DATASETS if files_present(d))
    missing = sorted(set(IMAGE_DATASETS) - set(present))
    if missing:
        log.info("image datasets without files, left out: %s (docs/images.md)", missing)
    return DATASETS + present


def prepare(plan: Plan) -> None:
    """Generate and cache the rendered image sets of ``plan`` before the runs start, here rather
    than in several worker processes at once."""
    from nrc.data.images import ensure_rendered

    for name in plan.image_datasets:
        log.info("preparing %s", name)
        ensure_rendered(name)


def plan_for(
    preset: str, datasets: tuple[str, ...] = DATASETS, overrides: tuple[str, ...] = ()
) -> Plan:
    """The runs of ``preset`` ("quick" or "paper") on ``datasets``, with ``overrides`` last."""
    if preset not in PRESETS:
        raise ValueError(f"--preset must be one of {PRESETS}, got {preset!r}")
    unknown = sorted(set(datasets) - set(DATASETS) - set(IMAGE_DATASETS))
    if unknown or not datasets:
        raise ValueError(
            f"--datasets: unknown or empty {unknown}; available: {DATASETS + IMAGE_DATASETS}"
        )
    if preset == "paper":
        return Plan(
            "paper", tuple(datasets), PAPER_SEEDS, None, PAPER_UFM_LAMBDAS, overrides=overrides
        )
    return Plan(
        "quick", tuple(datasets), (0,), QUICK_WD_FACTORS, QUICK_UFM_LAMBDAS, overrides=overrides
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
        return self.root / self.main(dataset).run.iloc[0]


def _ufm_overrides(lam: float) -> list[str]:
    return ['regularization="ufm"', "weight_decay=0", f"lambda_w={lam}", 'activation="none"']


def points(plan: Plan) -> list[tuple[str, TrainConfig]]:
    """Every (``group/run``, config) of ``plan``; the group is the first folder of the name."""
    datasets, seeds = list(plan.mujoco_datasets), list(plan.seeds)
    out: list[tuple[str, TrainConfig]] = []

    def add(group: str, grid: dict, overrides: list[str]) -> None:
        for name, config in expand(plan.preset, grid, [*overrides, *plan.overrides]):
            out.append((f"{group}/{name}", config))

    for dataset in plan.datasets:
        add(
            "wd", {"dataset": [dataset], "weight_decay": plan.wd_values(dataset), "seed": seeds}, []
        )
    for lam in plan.ufm_lambdas if datasets else ():
        add(
            f"ufm/lambda={lam}",
            {"dataset": datasets, "lambda_h": [lam], "seed": seeds},
            _ufm_overrides(lam),
        )
    fig10_sets = [d for d in plan.fig10_datasets if d in plan.datasets]
    if fig10_sets:
        every = FIG10_EPOCHS // 50
        fixed = [f"epochs={FIG10_EPOCHS}", f"eval_every={every}", f"checkpoint_every={every * 10}"]
        add(
            "fig10",
            {"dataset": fig10_sets, "lambda_h": ["fig10"], "seed": seeds[:1]},
            [*_ufm_overrides(FIG10_LAMBDA_W), *fixed],
        )
    return out


def _order(config: TrainConfig) -> tuple[bool, int]:
    """Sort key that starts the longest runs first: ResNet runs (each image step costs about a
    hundred MLP steps), then by optimizer steps."""
    size = config.train_size or (TASKS[config.dataset].train_size if config.model == "mlp" else 1)
    return config.model == "mlp", -config.epochs * -(-size // config.batch_size)


def execute(plan: Plan, root: Path, jobs: int = 1) -> Results:
    """Run (or reuse) every run of ``plan`` under ``root``, ``jobs`` at a time in one pool
    (longest first), and gather the tables by group."""
    prepare(plan)
    todo = sorted(points(plan), key=lambda p: _order(p[1]))
    log.info("%d runs (%s) with %d job(s)", len(todo), plan.preset, jobs)
    result = run_points(todo, Path(root), jobs=jobs)
    group = result.status.run.str.split("/").str[0] if len(result.status) else pd.Series()
    status = result.status.assign(group=group)

    def part(name: str) -> pd.DataFrame:
        table = result.table
        return table[table.run.str.split("/").str[0] == name] if len(table) else pd.DataFrame()

    return Results(plan, Path(root), part("wd"), part("ufm"), part("fig10"), status)
