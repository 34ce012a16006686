"""The dataset registry: one spec per name, cheap to import (the import graph of the whole package
is checked in tests/test_imports.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from nrc.data import registry

HEAVY = ("gymnasium", "mujoco", "h5py", "minari", "torch", "PIL", "pyarrow", "stable_baselines3")


@pytest.mark.parametrize("module", ["nrc.data", "nrc.data.registry"])
def test_importing_the_registry_loads_no_heavy_library(module: str) -> None:
    code = (
        f"import sys, {module}; from nrc.data.registry import spec; spec('hopper').files_present()"
        f"; print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_names_and_kinds() -> None:
    assert registry.MUJOCO == ("swimmer", "reacher", "hopper") == registry.names("mujoco")
    assert registry.IMAGE == (
        "reacher-fingertip",
        "hopper-height",
        "reacher-arm",
        "carla-2d",
        "carla-1d",
        "utkface",
    )
    assert registry.RENDERED == ("reacher-fingertip", "hopper-height", "reacher-arm")
    assert registry.names() == registry.MUJOCO + registry.IMAGE
    with pytest.raises(ValueError, match="kind must be"):
        registry.names("audio")
    with pytest.raises(ValueError, match="unknown dataset 'walker'; known: swimmer, reacher"):
        registry.spec("walker")


def test_specs_hold_the_paper_rows_grids_and_analogues() -> None:
    hopper = registry.spec("hopper")
    assert (hopper.env_id, hopper.input_dim, hopper.n, hopper.train_size) == (
        "Hopper-v4",
        11,
        3,
        10_000,
    )
    assert (
        hopper.paper_row.target_corr == [-0.215, -0.090, 0.059]
        and hopper.test_size(10_000) == 2_000
    )
    fingertip = registry.spec("reacher-fingertip")
    assert fingertip.paper == "carla-2d" and fingertip.files == "generated"
    assert fingertip.paper_row == registry.spec("carla-2d").paper_row
    assert fingertip.wd_grid == (0.0, 1e-4, 1e-3, 1e-2, 1e-1)
    assert registry.spec("hopper-height").paper == "carla-1d"
    assert all(0.0 in s.wd_grid and s.paper_row.n == s.n for s in registry.SPECS.values())


def test_mujoco_sets_name_their_default_expert_actions_and_image_sets_none() -> None:
    assert registry.EXPERT_ACTIONS == ("deterministic", "sampled")
    for name in registry.MUJOCO:
        s = registry.spec(name)
        assert s.actions == "deterministic"
        assert s.minari_prefix("deterministic") == f"{name}-expert"
        assert s.minari_prefix("sampled") == f"{name}-expert-sampled"
    assert all(registry.spec(name).actions is None for name in registry.IMAGE)
    assert 0 < registry.SAMPLED_SIGMA <= 0.5
