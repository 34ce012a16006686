"""Choosing σ of the sampled expert actions by a rule on the experts' returns, never on the
paper's Table 1 (docs/datasets.md, "Sampled actions").

For each σ of a grid, `scan` measures the expert's mean return with sampled actions beside its
deterministic return and a uniform-random policy's, the normalised score
(R_σ − R_random)/(R_deterministic − R_random) (D4RL's normalisation), and the Table 1 row of a
paper-sized training set collected with that σ. `rule_sigma` applies the rule: the largest σ of
the grid at which every expert keeps a normalised score ≥ `SCORE_FLOOR` (at it and every
smaller σ).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from nrc.data.mujoco.collect import collect_episodes
from nrc.data.mujoco.envs import make_env, task
from nrc.data.mujoco.experts import EVAL_SEED, evaluate, load_policy
from nrc.data.mujoco.noise import UniformActions
from nrc.data.stats import table1_row
from nrc.data.types import Table1Row

SIGMA_GRID = (0.05, 0.1, 0.2, 0.3, 0.5)
SCORE_FLOOR = 0.9  # "still an expert": within 10 % of the random-to-expert return gap


@dataclass(frozen=True)
class ScanRow:
    """One σ of one task: returns over the evaluation episodes, the normalised score and the
    Table 1 row of the paper-sized training set collected with σ (seed `data_seed`)."""

    env: str
    sigma: float
    mean_return: float
    std_return: float
    min_return: float
    score: float
    row: Table1Row


def random_returns(env: str, episodes: int, seed: int) -> np.ndarray:
    """Returns of uniform-random actions (generator `default_rng(seed)`), the score's zero."""
    space = make_env(env).action_space
    low, high = (np.asarray(b, dtype=np.float64) for b in (space.low, space.high))
    return evaluate(UniformActions(low, high, np.random.default_rng(seed)), env, episodes, seed)


def table1_of(env: str, sigma: float, data_seed: int) -> Table1Row:
    """Table 1 row of the paper-sized training set of `env` collected with σ (the first
    `train_size` transitions, as `nrc data ship` and `nrc.data.load` take them)."""
    s = task(env)
    size = int(s.train_size or 0)
    buffers = collect_episodes(
        s.name, load_policy("expert", s.name), data_seed, "train", int(s.train_episodes or 1),
        size, sigma,
    )  # fmt: skip
    actions = np.concatenate([np.asarray(b.actions, dtype=np.float64) for b in buffers])
    return table1_row(s.name, actions[:size])


def scan(
    env: str,
    sigmas: Sequence[float] = SIGMA_GRID,
    episodes: int = 100,
    seed: int = EVAL_SEED,
    data_seed: int = 0,
) -> tuple[float, list[ScanRow]]:
    """(mean random return, one `ScanRow` per σ with σ = 0 first) for the shipped expert of
    `env`; evaluation episode i is reset with `seed + i` (`evaluate`)."""
    name = task(env).name
    policy = load_policy("expert", name)
    floor = float(random_returns(name, episodes, seed).mean())
    rows: list[ScanRow] = []
    for sigma in (0.0, *sigmas):
        returns = evaluate(policy, name, episodes, seed, sigma)
        top = rows[0].mean_return if rows else float(returns.mean())
        rows.append(
            ScanRow(
                name, float(sigma), float(returns.mean()), float(returns.std()),
                float(returns.min()), (float(returns.mean()) - floor) / (top - floor),
                table1_of(name, sigma, data_seed),
            )
        )  # fmt: skip
    return floor, rows


def rule_sigma(scans: Mapping[str, Sequence[ScanRow]], floor: float = SCORE_FLOOR) -> float:
    """The largest σ > 0 of the scanned grid at which every task's score is ≥ `floor`, at it
    and every smaller σ; ValueError if even the smallest σ fails."""
    grids = {tuple(r.sigma for r in rows) for rows in scans.values()}
    if len(grids) != 1:
        raise ValueError(f"the scans must share one σ grid, got {sorted(grids)}")
    chosen = 0.0
    for i, sigma in enumerate(grids.pop()):
        if not all(rows[i].score >= floor for rows in scans.values()):
            break
        chosen = sigma
    if chosen == 0.0:
        raise ValueError(f"no σ of the grid keeps every normalised score >= {floor}")
    return chosen
