"""Expert policies: the exported MLP actor and Reacher's IK + PD controller (docs/datasets.md)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nrc.data.mujoco import experts
from nrc.data.mujoco.experts import MLPPolicy, ReacherController, evaluate, load_policy, ship_expert


def small_policy(rng: np.random.Generator) -> MLPPolicy:
    """A random 3 → 4 → 2 ReLU actor with float32-representable weights."""
    w = [rng.normal(size=(4, 3)).astype(np.float32), rng.normal(size=(2, 4)).astype(np.float32)]
    b = [rng.normal(size=4).astype(np.float32), rng.normal(size=2).astype(np.float32)]
    return MLPPolicy(
        weights=tuple(x.astype(np.float64) for x in w),
        biases=tuple(x.astype(np.float64) for x in b),
        activation="relu",
        obs_mean=np.array([0.5, -1.0, 2.0]),
        obs_var=np.array([4.0, 1.0, 0.25]),
        clip_obs=10.0,
        epsilon=1e-8,
        low=-np.ones(2),
        high=np.ones(2),
    )


def test_mlp_policy_matches_a_hand_computed_forward_pass() -> None:
    policy = small_policy(np.random.default_rng(0))
    obs = np.array([1.5, 0.0, 2.5])
    z = (obs - policy.obs_mean) / np.sqrt(policy.obs_var + policy.epsilon)
    hidden = [max(v, 0.0) for v in policy.weights[0] @ z + policy.biases[0]]
    expected = np.clip(policy.weights[1] @ np.array(hidden) + policy.biases[1], -1.0, 1.0)
    np.testing.assert_allclose(policy.act(obs), expected, rtol=1e-12)


def test_mlp_policy_clips_observations_and_actions() -> None:
    policy = small_policy(np.random.default_rng(1))
    far = np.array([1e6, -1e6, 1e6])
    clipped = policy.obs_mean + 10.0 * np.sqrt(policy.obs_var + policy.epsilon) * np.sign(far)
    np.testing.assert_allclose(policy.act(far), policy.act(clipped), rtol=1e-9)
    assert np.all(np.abs(policy.act(far)) <= 1.0)


def test_mlp_policy_round_trips_through_npz(tmp_path) -> None:
    policy = small_policy(np.random.default_rng(2))
    policy.save(tmp_path / "p.npz")
    loaded = MLPPolicy.load(tmp_path / "p.npz")
    obs = np.random.default_rng(3).normal(size=(5, 3))
    for o in obs:
        np.testing.assert_array_equal(loaded.act(o), policy.act(o))


def test_mlp_policy_load_errors_name_the_file(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        MLPPolicy.load(tmp_path / "nope.npz")
    np.savez(tmp_path / "bad.npz", w0=np.eye(2))
    with pytest.raises(ValueError, match=r"bad\.npz.*obs_mean"):
        MLPPolicy.load(tmp_path / "bad.npz")


def reacher_obs(q: np.ndarray, qdot: np.ndarray, target: np.ndarray) -> np.ndarray:
    """A Reacher-v4 observation for joint angles q, velocities qdot and a target."""
    tip = np.array(
        [0.1 * np.cos(q[0]) + 0.11 * np.cos(q.sum()), 0.1 * np.sin(q[0]) + 0.11 * np.sin(q.sum())]
    )
    return np.concatenate([np.cos(q), np.sin(q), target, qdot, [*(tip - target), 0.0]])


def test_reacher_controller_drives_toward_the_inverse_kinematics_pose() -> None:
    goal = np.array([0.3, 0.8])  # elbow-positive pose; its fingertip is the target
    target = np.array(
        [
            0.1 * np.cos(goal[0]) + 0.11 * np.cos(goal.sum()),
            0.1 * np.sin(goal[0]) + 0.11 * np.sin(goal.sum()),
        ]
    )
    q, qdot = np.array([0.25, 0.7]), np.array([0.2, -0.1])
    controller = ReacherController(kp=2.0, kd=0.5)
    expected = 2.0 * (goal - q) - 0.5 * qdot
    np.testing.assert_allclose(controller.act(reacher_obs(q, qdot, target)), expected, atol=1e-9)
    at_rest = controller.act(reacher_obs(goal, np.zeros(2), target))
    np.testing.assert_allclose(at_rest, 0.0, atol=1e-9)


def test_reacher_controller_is_expert_level_and_deterministic() -> None:
    controller = ReacherController()
    returns = evaluate(controller, "reacher", 5, seed=7)
    np.testing.assert_array_equal(returns, evaluate(controller, "reacher", 5, seed=7))
    rng = np.random.default_rng(0)

    class Random:
        def act(self, obs: np.ndarray) -> np.ndarray:
            return rng.uniform(-1, 1, size=2)

    assert returns.mean() > -6.0
    assert returns.mean() > evaluate(Random(), "reacher", 5, seed=7).mean() + 20


def test_load_policy_rejects_ik_pd_outside_reacher() -> None:
    with pytest.raises(ValueError, match="ik-pd"):
        load_policy("ik-pd", "hopper")
    with pytest.raises(ValueError, match="unknown MuJoCo task"):
        load_policy("expert", "walker")


def test_ship_expert_writes_policy_and_provenance(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(experts, "shipped_dir", lambda: tmp_path / "shipped")
    payload = ship_expert("reacher", None, episodes=2)
    saved = json.loads((tmp_path / "shipped" / "experts" / "reacher.json").read_text())
    assert saved == payload
    assert saved["evaluation"]["episodes"] == 2
    assert saved["policy"] == "ik-pd"
    with pytest.raises(FileNotFoundError, match="state.json"):
        ship_expert("hopper", tmp_path / "no-run", episodes=1)
