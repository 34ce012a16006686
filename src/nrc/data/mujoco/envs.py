"""The MuJoCo tasks of the paper's Table 1 as gymnasium environments, and the library versions
recorded in the provenance of experts and datasets (paper §4)."""

from __future__ import annotations

import importlib.metadata
import warnings

import gymnasium as gym

from nrc.data.registry import DatasetSpec, names, spec


def task(name: str) -> DatasetSpec:
    """The MuJoCo task called `name` (case-insensitive, gymnasium ids such as "Hopper-v4"
    accepted); ValueError listing the tasks if unknown."""
    key = name.lower().split("-")[0]
    if key not in names("mujoco"):
        raise ValueError(f"unknown MuJoCo task {name!r}; expected one of {sorted(names('mujoco'))}")
    return spec(key)


def make_env(name: str, **kwargs: object) -> gym.Env:
    """A fresh gymnasium environment for task `name`, with the standard time limit."""
    with warnings.catch_warnings():
        # The v4 layouts are chosen on purpose (the paper's data); gymnasium flags them as old.
        warnings.filterwarnings("ignore", message=".*out of date", category=DeprecationWarning)
        return gym.make(str(task(name).env_id), **kwargs)


def library_versions() -> dict[str, str]:
    """Versions of the libraries that determine the experts and the data (for provenance)."""
    names = ["stable_baselines3", "sb3_contrib", "gymnasium", "mujoco", "torch", "numpy", "minari"]
    return {name: importlib.metadata.version(name) for name in names}
