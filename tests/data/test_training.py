"""Expert training: checkpoints, resume, the exported actor (App. A.1)."""

from __future__ import annotations

import json
import pickle
import tempfile

import numpy as np
import pytest
import torch

from nrc.data.mujoco.envs import make_env
from nrc.data.mujoco.experts import MLPPolicy
from nrc.data.mujoco.training import ALGORITHMS, TrainPaths, train_expert

# A tiny network and short rollouts keep the test fast; the run logic is the same.
SMALL = {
    "n_steps": 128,
    "batch_size": 64,
    "n_epochs": 1,
    "policy_kwargs": {"activation_fn": "tanh", "net_arch": {"pi": [8], "vf": [8]}},
}


@pytest.fixture(autouse=True)
def one_thread():
    """Training in a test shares the CPU: one torch thread, restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_training_checkpoints_and_resumes_where_it_stopped(tmp_path) -> None:
    state = train_expert("hopper", tmp_path, 200, 0, 64, 1, algorithm="ppo", hyperparameters=SMALL)
    assert state["steps"] == 256  # each chunk runs whole PPO rollouts of n_steps = 128
    assert [h["steps"] for h in state["history"]] == [128, 256]
    for name in ("model.zip", "vecnormalize.pkl", "best.npz", "state.json"):
        assert (tmp_path / name).is_file()
    state = train_expert("hopper", tmp_path, 300, checkpoint_every=64, eval_episodes=1)
    assert [h["steps"] for h in state["history"]] == [128, 256, 384]
    saved = json.loads((tmp_path / "state.json").read_text())
    assert saved["steps"] == 384 and saved["algorithm"] == "PPO"
    assert saved["hyperparameters"]["n_steps"] == 128 and "stable_baselines3" in saved["versions"]
    best = max(h["mean_return"] for h in saved["history"])
    assert saved["best"]["mean_return"] == best


@pytest.mark.parametrize(("env", "algorithm"), [("hopper", "ppo"), ("swimmer", "ars")])
def test_exported_actor_acts_like_the_sb3_model(tmp_path, env: str, algorithm: str) -> None:
    small = SMALL if algorithm == "ppo" else {}
    train_expert(env, tmp_path, 10, 10, 1, algorithm=algorithm, hyperparameters=small)
    paths = TrainPaths(tmp_path)
    model = ALGORITHMS[algorithm].load(paths.model, device="cpu")
    exported = MLPPolicy.load(paths.best)
    obs_env = make_env(env)
    obs = np.stack([obs_env.observation_space.sample() * 0.1 for _ in range(20)])
    normed = obs
    if paths.normalizer.is_file():
        with open(paths.normalizer, "rb") as f:
            normed = pickle.load(f).normalize_obs(obs)
    expected, _ = model.predict(normed, deterministic=True)
    got = np.stack([exported.act(o) for o in obs])
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_training_leaves_no_sb3_log_folder_in_the_temp_dir(tmp_path, monkeypatch) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    monkeypatch.delenv("SB3_LOGDIR", raising=False)
    train_expert("hopper", tmp_path / "run", 10, 0, 64, 1, algorithm="ppo", hyperparameters=SMALL)
    assert not list(scratch.glob("SB3-*"))


def test_resuming_with_other_settings_is_refused(tmp_path) -> None:
    train_expert("hopper", tmp_path, 10, 0, 64, 1, algorithm="ppo", hyperparameters=SMALL)
    with pytest.raises(ValueError, match="keeps its hyperparameters"):
        train_expert("hopper", tmp_path, 300, hyperparameters=SMALL | {"n_epochs": 2})
    with pytest.raises(ValueError, match="uses PPO, not ars"):
        train_expert("hopper", tmp_path, 300, algorithm="ars")


def test_reacher_and_unknown_algorithms_are_rejected(tmp_path) -> None:
    with pytest.raises(ValueError, match="IK"):
        train_expert("reacher", tmp_path, total_steps=10)
    with pytest.raises(ValueError, match="algorithm must be one of"):
        train_expert("hopper", tmp_path, total_steps=10, algorithm="sac")
