"""The three MuJoCo tasks of the paper's Table 1 and where large files live (paper §4, notes §6)."""

from __future__ import annotations

import importlib.metadata
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import gymnasium as gym


@dataclass(frozen=True)
class TaskSpec:
    """One MuJoCo task: its gymnasium id and the paper's dataset sizes (Table 1, App. A.1)."""

    name: str
    env_id: str
    obs_dim: int
    act_dim: int
    train_size: int
    train_episodes: int


# v4 layouts: the paper's data (JAT, D4RL) was recorded with them; Reacher-v5 drops one observation.
TASKS: dict[str, TaskSpec] = {
    "swimmer": TaskSpec("swimmer", "Swimmer-v4", 8, 2, 1_000, 1),
    "reacher": TaskSpec("reacher", "Reacher-v4", 11, 2, 1_000, 20),
    "hopper": TaskSpec("hopper", "Hopper-v4", 11, 3, 10_000, 10),
}


def task(name: str) -> TaskSpec:
    """The task called `name` (case-insensitive, gymnasium ids accepted); ValueError if unknown."""
    key = name.lower().split("-")[0]
    if key not in TASKS:
        raise ValueError(f"unknown MuJoCo task {name!r}; expected one of {sorted(TASKS)}")
    return TASKS[key]


def make_env(name: str) -> gym.Env:
    """A fresh gymnasium environment for task `name`, with the standard time limit."""
    with warnings.catch_warnings():
        # The v4 layouts are chosen on purpose (see TASKS); gymnasium flags them as out of date.
        warnings.filterwarnings("ignore", message=".*out of date", category=DeprecationWarning)
        return gym.make(task(name).env_id)


def data_dir() -> Path:
    """Cache folder for large datasets and training runs: $NRC_DATA_DIR or ~/.cache/nrc."""
    return Path(os.environ.get("NRC_DATA_DIR", Path.home() / ".cache" / "nrc")).expanduser()


def library_versions() -> dict[str, str]:
    """Versions of the libraries that determine the experts and the data (for provenance)."""
    names = ["stable_baselines3", "sb3_contrib", "gymnasium", "mujoco", "torch", "numpy", "minari"]
    return {name: importlib.metadata.version(name) for name in names}
