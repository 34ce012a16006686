"""Sampled expert actions: seeded Gaussian draws around the expert, their noise model in the
provenance, the shipped sampled sets and the `expert_actions` key (docs/datasets.md, "Sampled
actions"; paper Table 1)."""

from __future__ import annotations

import math
from pathlib import Path

import h5py
import numpy as np
import pytest

import nrc.data
from nrc.data import regression
from nrc.data.mujoco.collect import collect_dataset, collect_episodes
from nrc.data.mujoco.dataset import shipped_root
from nrc.data.mujoco.experts import ReacherController, evaluate
from nrc.data.mujoco.noise import check_sigma
from nrc.data.mujoco.readers import read_minari
from nrc.data.mujoco.sigma import ScanRow, rule_sigma
from nrc.data.registry import MUJOCO, SAMPLED_SIGMA, spec
from nrc.data.stats import table1_row
from nrc.data.types import Table1Row
from nrc.train.config import TrainConfig, from_dict
from nrc.train.setup import training_data


class ConstantPolicy:
    """Pre-clip output `mean` whatever the state: the recorded actions are then exactly
    clip(mean + σ ε), a case with a known answer."""

    def __init__(self, mean: list[float]) -> None:
        self.mean = np.asarray(mean, dtype=np.float64)

    def pre_clip(self, obs: np.ndarray) -> np.ndarray:
        return self.mean

    def act(self, obs: np.ndarray) -> np.ndarray:
        return np.clip(self.mean, -1.0, 1.0)


def actions(buffers) -> np.ndarray:
    return np.concatenate([b.actions for b in buffers]).astype(np.float64)


def test_same_seed_gives_identical_sampled_arrays_and_another_seed_differs() -> None:
    runs = [
        collect_episodes("reacher", ReacherController(), s, "train", 2, action_noise=0.2)
        for s in (3, 3, 4)
    ]
    for x, y in zip(runs[0], runs[1], strict=True):
        np.testing.assert_array_equal(x.observations, y.observations)
        np.testing.assert_array_equal(x.actions, y.actions)
    assert not np.array_equal(actions(runs[0]), actions(runs[2]))


def test_sampled_episodes_start_where_the_deterministic_ones_do_and_act_otherwise() -> None:
    det = collect_episodes("reacher", ReacherController(), 5, "test", 3)
    sam = collect_episodes("reacher", ReacherController(), 5, "test", 3, action_noise=0.2)
    for d, s in zip(det, sam, strict=True):
        np.testing.assert_array_equal(d.observations[0], s.observations[0])
        assert not np.allclose(d.actions, s.actions)


def test_covariance_of_unclipped_draws_is_sigma_squared_identity() -> None:
    """Constant mean, no clipping (|mean| + 6σ < 1): the recorded actions are i.i.d.
    N(mean, σ² I). With M draws the sample covariance has standard error σ²·sqrt(2/M) on the
    diagonal and σ²/sqrt(M) off it; the tolerance is 5 of them."""
    sigma, mean = 0.1, [0.2, -0.3]
    buffers = collect_episodes("reacher", ConstantPolicy(mean), 0, "train", 80, action_noise=sigma)
    a = actions(buffers)
    m = len(a)
    assert m == 4000 and np.abs(a).max() < 1.0
    cov = np.cov(a, rowvar=False, bias=True)
    diag_tol, off_tol = 5 * sigma**2 * math.sqrt(2 / m), 5 * sigma**2 / math.sqrt(m)
    np.testing.assert_allclose(np.diag(cov), sigma**2, atol=diag_tol)
    assert abs(cov[0, 1]) < off_tol
    np.testing.assert_allclose(a.mean(axis=0), mean, atol=5 * sigma / math.sqrt(m))
    deterministic = actions(collect_episodes("reacher", ConstantPolicy(mean), 0, "train", 2))
    np.testing.assert_array_equal(np.cov(deterministic, rowvar=False), np.zeros((2, 2)))


def test_draws_beyond_the_box_are_clipped_and_recorded_as_executed() -> None:
    """Mean 0.95 and σ 0.5 on the first torque: P(draw > 1) = 1 − Φ(0.1); those draws are
    recorded as exactly 1.0 (the executed action). Tolerance: 5 binomial standard errors."""
    sigma, mean = 0.5, 0.95
    a = actions(
        collect_episodes("reacher", ConstantPolicy([mean, 0.0]), 1, "train", 40, action_noise=sigma)
    )
    assert a.min() >= -1.0 and a.max() <= 1.0
    p = 0.5 * math.erfc((1.0 - mean) / sigma / math.sqrt(2))
    at_bound = np.mean(a[:, 0] == 1.0)
    assert at_bound == pytest.approx(p, abs=5 * math.sqrt(p * (1 - p) / len(a)))


def test_provenance_states_the_noise_model(tmp_path) -> None:
    paths = collect_dataset("reacher", "ik-pd", 2, 0, tmp_path, "s", action_noise=0.25)
    for split in ("train", "test"):
        noise = read_minari(paths[split]).provenance["action_noise"]
        assert noise["sigma"] == 0.25 and noise["distribution"].startswith("gaussian")
        assert "clipped" in noise["clipping"] and "executed" in noise["recorded"]
        assert "SeedSequence([seed, split, episode])" in noise["generator"]
    assert read_minari(paths["train"]).provenance["expert_actions"] == "sampled"
    plain = collect_dataset("reacher", "ik-pd", 2, 0, tmp_path, "d")
    prov = read_minari(plain["train"]).provenance
    assert prov["action_noise"] is None and prov["expert_actions"] == "deterministic"


def test_evaluation_with_action_noise_is_seeded_and_costs_return() -> None:
    controller = ReacherController()
    noisy = evaluate(controller, "reacher", 5, seed=7, action_noise=0.3)
    np.testing.assert_array_equal(noisy, evaluate(controller, "reacher", 5, 7, 0.3))
    assert noisy.mean() < evaluate(controller, "reacher", 5, seed=7).mean()


@pytest.mark.parametrize("sigma", [-0.1, float("nan"), "0.1", True])
def test_bad_sigma_is_refused(sigma: object) -> None:
    with pytest.raises(ValueError, match="action noise sigma must be"):
        check_sigma(sigma)


def test_noise_needs_a_policy_with_a_pre_clip_output() -> None:
    class ActOnly:
        def act(self, obs: np.ndarray) -> np.ndarray:
            return np.zeros(2)

    with pytest.raises(ValueError, match="needs a policy with a pre-clip output"):
        collect_episodes("reacher", ActOnly(), 0, "train", 1, action_noise=0.1)


def scan_rows(scores: list[float]) -> list[ScanRow]:
    row = Table1Row("t", 2, "raw state", 2, [0.0], 1.0)
    grid = (0.0, 0.1, 0.2, 0.3)
    return [ScanRow("t", g, 0.0, 0.0, 0.0, s, row) for g, s in zip(grid, scores, strict=True)]


def test_rule_takes_the_largest_sigma_every_expert_tolerates() -> None:
    scans = {"a": scan_rows([1, 0.99, 0.95, 0.5]), "b": scan_rows([1, 0.95, 0.89, 0.95])}
    assert rule_sigma(scans) == 0.1  # b drops below 0.9 at 0.2; its later 0.95 does not count
    assert rule_sigma(scans, floor=0.5) == 0.3
    with pytest.raises(ValueError, match="no σ of the grid"):
        rule_sigma({"a": scan_rows([1, 0.8, 0.7, 0.6])})


def reference_row(y: np.ndarray) -> tuple[list[float], float]:
    """Table 1's correlations and λmin from first principles, in float64."""
    c = y - y.mean(axis=0)
    sigma = c.T @ c / len(y)
    d = np.sqrt(np.diag(sigma))
    n = y.shape[1]
    corr = [sigma[i, j] / (d[i] * d[j]) for i in range(n) for j in range(i + 1, n)]
    return corr, float(np.linalg.eigvalsh(sigma)[0])


def hdf5_actions(folder: Path) -> np.ndarray:
    """The recorded actions of a Minari HDF5 dataset read with h5py, episodes in order."""
    with h5py.File(folder / "data" / "main_data.hdf5", "r") as f:
        keys = sorted(f, key=lambda k: int(k.split("_")[1]))
        return np.concatenate([np.asarray(f[k]["actions"], dtype=np.float64) for k in keys])


# Our Table 1 rows of the shipped sampled sets as docs/datasets.md reports them.
DOCUMENTED = {
    "swimmer": ([0.8813], 0.1017),
    "reacher": ([0.06322], 0.0206),
    "hopper": ([-0.07176, 0.1381, 0.07745], 0.05749),
}


@pytest.mark.parametrize("name", MUJOCO)
def test_shipped_sampled_sets_load_and_their_table1_row_matches_the_arrays(name: str) -> None:
    s = spec(name)
    data = nrc.data.load(name, expert_actions="sampled")
    det = nrc.data.load(name)
    assert data.x_train.shape == det.x_train.shape and data.y_test.shape == det.y_test.shape
    assert data.provenance["expert_actions"] == "sampled"
    assert det.provenance["expert_actions"] == s.actions == "deterministic"
    noise = data.provenance["train"]["action_noise"]
    assert noise["sigma"] == SAMPLED_SIGMA and data.provenance["test"]["action_noise"] == noise
    folder = shipped_root() / f"{name}-expert-sampled-train-v0"
    y = hdf5_actions(folder)[: s.train_size]
    np.testing.assert_array_equal(data.y_train.numpy(), y.astype(np.float32))
    corr, lam = reference_row(y)
    row = table1_row(name, data.y_train)
    np.testing.assert_allclose(row.target_corr, corr, rtol=1e-6)  # float32 targets
    assert row.lambda_min == pytest.approx(lam, rel=1e-6)
    want_corr, want_lam = DOCUMENTED[name]
    np.testing.assert_allclose(row.target_corr, want_corr, atol=5e-4)
    assert row.lambda_min == pytest.approx(want_lam, rel=5e-3)


@pytest.mark.parametrize("name", MUJOCO)
def test_sampled_sets_share_the_deterministic_sets_episodes_and_reset_seeds(name: str) -> None:
    for split in ("train", "test"):
        sets = [
            read_minari(shipped_root() / f"{spec(name).minari_prefix(a)}-{split}-v0")
            for a in ("deterministic", "sampled")
        ]
        det, sam = sets
        assert sam.provenance["seed"] == det.provenance["seed"] == 0
        starts = [np.flatnonzero(np.diff(t.episode, prepend=-1)) for t in sets]
        if name != "hopper":  # hopper episodes can end early, so lengths may differ
            np.testing.assert_array_equal(starts[0], starts[1])
        np.testing.assert_array_equal(det.observations[0], sam.observations[0])


def test_request_resolves_the_registry_default_and_records_it() -> None:
    assert regression.request("hopper").expert_actions == "deterministic"
    assert regression.request("hopper", expert_actions="sampled").expert_actions == "sampled"
    assert regression.request("utkface").expert_actions is None
    prov = nrc.data.provenance("reacher", expert_actions="sampled")
    assert prov["expert_actions"] == "sampled" and prov["train"]["action_noise"] is not None


def test_config_key_flows_into_the_data_and_data_json() -> None:
    base = {"dataset": "reacher", "epochs": 100, "eval_every": 100, "checkpoint_every": 100}
    sampled = training_data(from_dict({**base, "expert_actions": "sampled"}))
    default = training_data(from_dict(base))
    assert sampled.info["expert_actions"] == "sampled"
    assert default.info["expert_actions"] == "deterministic"
    assert sampled.info["provenance"]["train"]["action_noise"]["sigma"] == SAMPLED_SIGMA
    assert not np.array_equal(sampled.raw_targets, default.raw_targets)


@pytest.mark.parametrize("value", ["noisy", "Sampled", 1, ""])
def test_bad_config_values_are_refused_naming_the_key_and_the_choices(value: object) -> None:
    with pytest.raises(ValueError, match=r"config key 'expert_actions' must be one of \('det"):
        from_dict({"expert_actions": value})
    assert TrainConfig().expert_actions is None


def test_the_key_on_an_image_set_is_refused_when_the_data_is_requested() -> None:
    config = from_dict({"dataset": "hopper-height", "expert_actions": "sampled"})
    with pytest.raises(ValueError, match="expert_actions applies to the shipped MuJoCo sets"):
        training_data(config)
