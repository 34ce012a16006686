"""Expert training: checkpoints, resume, exported best policy (App. A.1)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from nrc.data.experts import MLPPolicy
from nrc.data.training import train_expert

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
    state = train_expert(
        "hopper", tmp_path, 200, checkpoint_every=64, eval_episodes=1, hyperparameters=SMALL
    )
    assert state["steps"] == 256  # whole PPO rollouts of n_steps = 128
    assert [h["steps"] for h in state["history"]] == [64, 128, 192, 256]
    for name in ("model.zip", "vecnormalize.pkl", "best.npz", "state.json"):
        assert (tmp_path / name).is_file()
    state = train_expert("hopper", tmp_path, 300, checkpoint_every=64, eval_episodes=1)
    assert state["steps"] == 384
    assert [h["steps"] for h in state["history"]] == [64 * k for k in range(1, 7)]
    saved = json.loads((tmp_path / "state.json").read_text())
    assert saved["steps"] == 384 and saved["algorithm"] == "PPO"
    assert saved["hyperparameters"]["n_steps"] == 128 and "stable_baselines3" in saved["versions"]
    best = max(h["mean_return"] for h in saved["history"])
    assert saved["best"]["mean_return"] == best
    policy = MLPPolicy.load(tmp_path / "best.npz")
    assert policy.act(np.zeros(11)).shape == (3,)


def test_reacher_has_no_trained_expert(tmp_path) -> None:
    with pytest.raises(ValueError, match="IK"):
        train_expert("reacher", tmp_path, total_steps=10)


def test_resuming_with_other_hyperparameters_is_refused(tmp_path) -> None:
    train_expert(
        "hopper", tmp_path, 10, checkpoint_every=64, eval_episodes=1, hyperparameters=SMALL
    )
    with pytest.raises(ValueError, match="keeps its hyperparameters"):
        train_expert("hopper", tmp_path, 300, hyperparameters=SMALL | {"n_epochs": 2})
