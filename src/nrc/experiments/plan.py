"""The plan of a reproduction: which training runs each preset needs, as (name, config) points.

Groups (paper §5, Figs. 2–11): ``wd`` — weight-decay sweeps, 0 included (Figs. 2–5, 7, 8, 11 use its
runs), on every dataset; ``ufm`` — λ_H = λ_W penalties instead of weight decay, no penultimate
activation (Figs. 6, 9), on the MuJoCo datasets; ``fig10`` — λ_W = 0.01 fixed, λ_H varied
(Fig. 10), on Reacher and Swimmer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from nrc.data import registry
from nrc.train import TrainConfig, expand
from nrc.train import preset as train_preset
from nrc.train.presets import FIG10_LAMBDA_W, PAPER_SEEDS, PAPER_WD_GRIDS

log = logging.getLogger(__name__)

# The quick preset's sweeps use fewer points than the paper's so `make run` stays within
# 20 minutes on 2 cores; each still spans no regularisation to the preset's own value.
QUICK_WD_FACTORS = (0.0, 0.1, 1.0)
QUICK_UFM_LAMBDAS = (0.0, 1e-3, 1e-2)
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
    present = tuple(d for d in registry.IMAGE if registry.spec(d).files_present())
    missing = sorted(set(registry.IMAGE) - set(present))
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
            overrides=overrides, study=study,
        )  # fmt: skip
    points(plan)
    return plan


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
        add(
            "wd", {"dataset": [dataset], "weight_decay": plan.wd_values(dataset), "seed": seeds}, {}
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
        fixed = {"epochs": FIG10_EPOCHS, "eval_every": every, "checkpoint_every": every * 10}
        add(
            "fig10",
            {"dataset": fig10_sets, "lambda_h": ["fig10"], "seed": seeds[:1]},
            _ufm_overrides(FIG10_LAMBDA_W) | fixed,
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
