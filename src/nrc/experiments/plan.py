"""The plan of a reproduction: which training runs each preset needs, as (name, config) points.

Groups (paper §5, Figs. 2–11): ``wd`` — weight-decay sweeps, 0 included (Figs. 2–5, 7, 8, 11 use its
runs), on every dataset; ``ufm`` — λ_H = λ_W penalties instead of weight decay, no penultimate
activation (Figs. 6, 9), on the MuJoCo datasets; ``fig10`` — λ_W = 0.01 fixed, λ_H varied
(Fig. 10), on Reacher and Swimmer; ``explain`` (quick preset only) — main runs that test why
our numbers differ from the paper's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from nrc.data import registry
from nrc.train import TrainConfig, expand
from nrc.train import preset as train_preset
from nrc.train.presets import FIG10_LAMBDA_W, PAPER, PAPER_SEEDS, PAPER_WD_GRIDS

log = logging.getLogger(__name__)

# The quick preset's sweeps use fewer points than the paper's so `make run` stays within
# 20 minutes on 2 cores; each still spans no regularisation to the preset's own value. Its WD
# sweeps take the paper's seeds 0–2 where a run costs under a minute (docs/training.md).
QUICK_WD_FACTORS = (0.0, 0.1, 1.0)
QUICK_WD_SEEDS = {"swimmer": PAPER_SEEDS, "hopper": PAPER_SEEDS}
# λ_H = λ_W of the quick UFM-style runs: c = λ_H·λ_W = 0.01 and 0.0169, a sizeable fraction of
# λmin on Swimmer and Hopper so that their optimum (residual covariance c·I, App. B) is reached
# in seconds; each dataset's schedule was measured to get there (docs/training.md, "UFM-style
# runs: reaching the optimum"). On Reacher both c exceed λmin (truncated regime): its runs
# serve the figures, not C5/C7.
QUICK_UFM_LAMBDAS = (0.0, 0.1, 0.13)
# The learning rate falls ×0.1 (lr_gamma) for the last quarter of each run.
QUICK_UFM_SCHEDULES: dict[str, dict[str, Any]] = {
    "swimmer": {"epochs": 400, "lr": 0.1, "eval_every": 8},
    "hopper": {"epochs": 60, "lr": 0.1, "momentum": 0.9, "eval_every": 5},
    "reacher": {"epochs": 400, "lr": 0.3, "eval_every": 8},
}
UFM_DECAY_AT = 0.75
PAPER_UFM_LAMBDAS = (0.0, 1e-5, 1e-4, 1e-3, 1e-2)
FIG10_DATASETS = ("reacher", "swimmer")
FIG10_EPOCHS = 1000
# The presets a reproduction is made of, and its studies: "paper" (Figs. 2–11, Table 1, C1–C8),
# "deep" (collapse at every layer, low-rank targets, geometry; D1–D4), "all" (both).
REPRODUCTION_PRESETS = ("quick", "paper")
STUDIES = ("paper", "deep", "all")
# The deep study (docs/training.md, "Every layer"): Deep NRC's 8×512 MLP on the smaller sets,
# and the effective target ranks r < n of the low-rank runs.
DEEP_MLP_DATASETS = ("reacher", "swimmer")
DEEP_MLP_WEIGHT_DECAYS = (0.0, 5e-4)
LOW_RANKS = {"swimmer": (1,), "reacher": (1,), "hopper": (1, 2)}


@dataclass(frozen=True)
class Plan:
    """Everything that decides which runs exist for a reproduction."""

    preset: str
    datasets: tuple[str, ...]
    seeds: tuple[int, ...]
    wd_factors: tuple[float, ...] | None  # × the preset's WD; None: the paper's per-dataset grids
    ufm_lambdas: tuple[float, ...]
    fig10_datasets: tuple[str, ...] = field(default=FIG10_DATASETS)
    overrides: dict[str, Any] = field(default_factory=dict)  # applied last to every run
    study: str = "paper"
    wd_seeds: dict[str, tuple[int, ...]] = field(default_factory=dict)  # per dataset, else seeds
    ufm_schedules: dict[str, dict[str, Any]] = field(default_factory=dict)  # per dataset

    @property
    def studies(self) -> tuple[str, ...]:
        """The studies of the plan ("paper", "deep")."""
        return ("paper", "deep") if self.study == "all" else (self.study,)

    @property
    def mujoco_datasets(self) -> tuple[str, ...]:
        """The MuJoCo (vector-input) datasets of the plan: Figs. 6, 7, 9, 10."""
        return tuple(d for d in self.datasets if registry.spec(d).kind == "mujoco")

    @property
    def image_datasets(self) -> tuple[str, ...]:
        """The image datasets of the plan: Fig. 8."""
        return tuple(d for d in self.datasets if registry.spec(d).kind == "image")

    def seeds_for(self, dataset: str) -> tuple[int, ...]:
        """The seeds of the weight-decay sweep on ``dataset``; the first is the main run's."""
        return self.wd_seeds.get(dataset, self.seeds)

    def main_weight_decay(self, dataset: str) -> float:
        """The weight decay of the run shown in Figs. 2–4 and 11 (the preset's own)."""
        return train_preset(self.preset, dataset).weight_decay

    def wd_values(self, dataset: str) -> list[float]:
        """The weight decays swept on ``dataset``, 0 and the preset's own included."""
        if self.wd_factors is None:
            return list(PAPER_WD_GRIDS[dataset])
        return [float(f"{f * self.main_weight_decay(dataset):.3g}") for f in self.wd_factors]


def default_datasets() -> tuple[str, ...]:
    """The MuJoCo sets, the reproduced rendered image sets (generated on first use), and
    CARLA/UTKFace when their files are present under $NRC_DATA_DIR."""
    wanted = tuple(d for d in registry.IMAGE if registry.spec(d).reproduced)
    present = tuple(d for d in wanted if registry.spec(d).files_present())
    missing = sorted(set(wanted) - set(present))
    if missing:
        log.info("image datasets without files, left out: %s (docs/images.md)", missing)
    return registry.MUJOCO + present


def plan_for(
    preset: str,
    datasets: tuple[str, ...] = registry.MUJOCO,
    overrides: Mapping[str, Any] | None = None,
    study: str = "paper",
) -> Plan:
    """The runs of ``preset`` ("quick" or "paper") for ``study`` on ``datasets``, with
    ``overrides`` last.
    Every run's config is built (and validated) here, before any work starts."""
    if preset not in REPRODUCTION_PRESETS:
        raise ValueError(f"--preset must be one of {REPRODUCTION_PRESETS}, got {preset!r}")
    if study not in STUDIES:
        raise ValueError(f"--study must be one of {STUDIES}, got {study!r}")
    unknown = sorted(set(datasets) - set(registry.names()))
    if unknown or not datasets:
        raise ValueError(f"--datasets: unknown or empty {unknown}; available: {registry.names()}")
    overrides = dict(overrides or {})
    if preset == "paper":
        plan = Plan(
            "paper", tuple(datasets), PAPER_SEEDS, None, PAPER_UFM_LAMBDAS, overrides=overrides,
            study=study,
        )  # fmt: skip
    else:
        plan = Plan(
            "quick", tuple(datasets), (0,), QUICK_WD_FACTORS, QUICK_UFM_LAMBDAS,
            overrides=overrides, study=study, wd_seeds=dict(QUICK_WD_SEEDS),
            ufm_schedules=QUICK_UFM_SCHEDULES,
        )  # fmt: skip
    points(plan)
    return plan


def _ufm_schedule(plan: Plan, dataset: str) -> dict[str, Any]:
    """The UFM-style runs' schedule on ``dataset`` (none: the preset's), its milestone at
    `UFM_DECAY_AT` of the epochs the run will have after the plan's overrides."""
    schedule = dict(plan.ufm_schedules.get(dataset, {}))
    if schedule:
        epochs = int(plan.overrides.get("epochs", schedule["epochs"]))
        decay = round(UFM_DECAY_AT * epochs)
        schedule["milestones"] = (decay,) if 1 <= decay < epochs else ()
        schedule["checkpoint_every"] = schedule["eval_every"] * 10
    return schedule


def _ufm_overrides(lam: float) -> dict[str, Any]:
    """UFM-style penalties λ_H, λ_W instead of weight decay, no penultimate activation (§5)."""
    return {"regularization": "ufm", "weight_decay": 0, "lambda_w": lam, "activation": "none"}


def points(plan: Plan) -> list[tuple[str, TrainConfig]]:
    """Every (``group/run``, config) of ``plan``; the group is the first folder of the name."""
    out: list[tuple[str, TrainConfig]] = []

    def add(group: str, grid: dict, overrides: dict[str, Any], preset: str = plan.preset) -> None:
        for name, config in expand(preset, grid, {**overrides, **plan.overrides}):
            out.append((f"{group}/{name}", config))

    if "paper" in plan.studies:
        _paper_points(plan, add)
    if "deep" in plan.studies:
        _deep_points(plan, add)
    return out


def _paper_points(plan: Plan, add: Callable[..., None]) -> None:
    """The runs of the paper's figures: WD sweeps, UFM-style runs, Fig. 10's λ_H sweep."""
    datasets, seeds = list(plan.mujoco_datasets), list(plan.seeds)
    for dataset in plan.datasets:
        grid = {"dataset": [dataset], "weight_decay": plan.wd_values(dataset)}
        add("wd", grid | {"seed": list(plan.seeds_for(dataset))}, {})
    for lam in plan.ufm_lambdas:
        for dataset in datasets:
            add(
                f"ufm/lambda={lam}",
                {"dataset": [dataset], "lambda_h": [lam], "seed": seeds},
                _ufm_overrides(lam) | _ufm_schedule(plan, dataset),
            )
    fig10_sets = [d for d in plan.fig10_datasets if d in plan.datasets]
    if fig10_sets:
        every = FIG10_EPOCHS // 50
        fixed = {"epochs": FIG10_EPOCHS, "eval_every": every, "checkpoint_every": every * 10}
        add(
            "fig10",
            {"dataset": fig10_sets, "lambda_h": ["fig10"], "seed": seeds[:1]},
            _ufm_overrides(FIG10_LAMBDA_W) | fixed,
        )
    if plan.preset == "quick":
        _explain_points(plan, add)


def _explain_points(plan: Plan, add: Callable[..., None]) -> None:
    """Main runs that test why the quick preset's numbers differ from the paper's (report,
    "Ours beside the paper's"; docs/training.md): each MuJoCo main run again at Table 2's weight
    decay where the preset's differs, and on the expert's sampled actions."""
    seed = [plan.seeds[0]]
    for dataset in plan.mujoco_datasets:
        wd = PAPER[dataset]["weight_decay"]
        if wd != plan.main_weight_decay(dataset):
            add("explain/table2-wd", {"dataset": [dataset], "weight_decay": [wd], "seed": seed}, {})
        add(
            "explain/sampled",
            {"dataset": [dataset], "expert_actions": ["sampled"], "seed": seed},
            {},
        )


def _deep_points(plan: Plan, add: Callable[..., None]) -> None:
    """The deep study: every layer measured along each WD sweep (and the geometry of its final
    features), Deep NRC's 8×512 MLP, and targets of effective rank r < n."""
    deep = {"layers": "all", "geometry": True}
    seed = list(plan.seeds[:1])
    for dataset in plan.datasets:
        grid = {"dataset": [dataset], "weight_decay": plan.wd_values(dataset), "seed": seed}
        add("deep/wd", grid, deep)
    mlp8 = [d for d in DEEP_MLP_DATASETS if d in plan.datasets]
    if mlp8:
        grid = {"dataset": mlp8, "weight_decay": list(DEEP_MLP_WEIGHT_DECAYS), "seed": seed}
        add("deep/mlp8", grid, {"geometry": True}, preset="deep")
    for dataset in (d for d in plan.mujoco_datasets if d in LOW_RANKS):
        grid = {"dataset": [dataset], "target_rank": list(LOW_RANKS[dataset]), "seed": seed}
        add("deep/rank", grid, deep | {"weight_decay": plan.main_weight_decay(dataset)})
