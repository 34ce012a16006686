"""Expert policies that generate the behaviour-cloning data (paper §4, App. A.1; docs/datasets.md).

Two kinds: `MLPPolicy`, a trained stable-baselines3 actor exported to plain arrays, and
`ReacherController`, inverse kinematics plus joint PD control for Reacher-v4.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from nrc.data.mujoco.envs import library_versions, make_env, task
from nrc.data.mujoco.noise import MeanPolicy, Policy, check_sigma, episode_policy
from nrc.io import atomic_path, write_json

logger = logging.getLogger(__name__)

ACTIVATIONS = {"tanh": np.tanh, "relu": lambda z: np.maximum(z, 0.0)}


@dataclass(frozen=True)
class MLPPolicy:
    """A deterministic MLP actor with VecNormalize-style observation scaling.

    Kept as plain arrays (not an SB3 zip + pickled VecNormalize) so that the shipped experts are
    small and load without unpickling: action = clip(W_L σ(... σ(W_1 z + b_1)) + b_L, low, high),
    z = clip((obs − mean)/sqrt(var + ε), ±clip_obs).
    """

    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]
    activation: str
    obs_mean: np.ndarray
    obs_var: np.ndarray
    clip_obs: float
    epsilon: float
    low: np.ndarray
    high: np.ndarray

    def pre_clip(self, obs: np.ndarray) -> np.ndarray:
        """The network's output for one observation, before clipping to the action box."""
        obs = np.asarray(obs, dtype=np.float64)
        z = (obs - self.obs_mean) / np.sqrt(self.obs_var + self.epsilon)
        x = np.clip(z, -self.clip_obs, self.clip_obs)
        sigma = ACTIVATIONS[self.activation]
        for w, b in zip(self.weights[:-1], self.biases[:-1], strict=True):
            x = sigma(w @ x + b)
        return self.weights[-1] @ x + self.biases[-1]

    def act(self, obs: np.ndarray) -> np.ndarray:
        """The deterministic (mean) action for one observation, clipped to the action box."""
        return np.clip(self.pre_clip(obs), self.low, self.high)

    def save(self, path: Path) -> None:
        """Write the policy as an .npz file, atomically."""
        # Weights come from float32 torch layers, so float32 storage is lossless and half the size.
        arrays = {f"w{i}": w.astype(np.float32) for i, w in enumerate(self.weights)}
        arrays |= {f"b{i}": b for i, b in enumerate(self.biases)}
        arrays |= {"obs_mean": self.obs_mean, "obs_var": self.obs_var, "low": self.low}
        arrays |= {"high": self.high, "clip_obs": np.array(self.clip_obs)}
        arrays |= {"epsilon": np.array(self.epsilon), "activation": np.array(self.activation)}
        with atomic_path(path) as tmp, open(tmp, "wb") as handle:
            np.savez(handle, **arrays)

    @classmethod
    def load(cls, path: Path) -> MLPPolicy:
        """Read a policy written by `save`; errors name the file and the missing field."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"expert policy file {path} does not exist")
        with np.load(path, allow_pickle=False) as f:
            required = {"obs_mean", "obs_var", "low", "high", "clip_obs", "epsilon", "activation"}
            missing = sorted(required - set(f.files))
            if missing or "w0" not in f.files:
                raise ValueError(f"{path}: not an MLP policy file, missing {missing or ['w0']}")
            depth = sum(1 for key in f.files if key.startswith("w"))
            return cls(
                weights=tuple(f[f"w{i}"].astype(np.float64) for i in range(depth)),
                biases=tuple(f[f"b{i}"].astype(np.float64) for i in range(depth)),
                activation=str(f["activation"]),
                obs_mean=f["obs_mean"].astype(np.float64),
                obs_var=f["obs_var"].astype(np.float64),
                clip_obs=float(f["clip_obs"]),
                epsilon=float(f["epsilon"]),
                low=f["low"].astype(np.float64),
                high=f["high"].astype(np.float64),
            )


@dataclass(frozen=True)
class ReacherController:
    """Inverse kinematics + joint PD control for Reacher-v4 (docs/datasets.md, "Experts").

    Observation layout (11): cos q (2), sin q (2), target xy (2), joint velocities (2),
    fingertip − target (3). Link lengths 0.1 and 0.11 (the fingertip sits 0.11 past the elbow).
    """

    # Gains from a grid search over 30 episodes (kp ∈ [0.15, 1.5], kd ∈ [0.02, 0.1]): torques cost
    # sum(a²) per step, so gentle gains beat stiff ones.
    kp: float = 0.3
    kd: float = 0.05
    l1: float = 0.1
    l2: float = 0.11

    def pre_clip(self, obs: np.ndarray) -> np.ndarray:
        """PD torques toward the inverse-kinematics solution nearest the current pose."""
        obs = np.asarray(obs, dtype=np.float64)
        q = np.arctan2(obs[2:4], obs[0:2])
        qdot = obs[6:8]
        tx, ty = obs[4], obs[5]
        r2 = min(tx * tx + ty * ty, (self.l1 + self.l2) ** 2)
        cos_elbow = np.clip((r2 - self.l1**2 - self.l2**2) / (2 * self.l1 * self.l2), -1.0, 1.0)
        best = None
        for elbow in (np.arccos(cos_elbow), -np.arccos(cos_elbow)):
            shoulder = np.arctan2(ty, tx) - np.arctan2(
                self.l2 * np.sin(elbow), self.l1 + self.l2 * np.cos(elbow)
            )
            target = np.array([shoulder, elbow])
            error = np.angle(np.exp(1j * (target - q)))  # wrap to (−π, π]
            if best is None or np.sum(error**2) < np.sum(best**2):
                best = error
        return self.kp * best - self.kd * qdot

    def act(self, obs: np.ndarray) -> np.ndarray:
        """The PD torques clipped to Reacher-v4's action box [−1, 1]²."""
        return np.clip(self.pre_clip(obs), -1.0, 1.0)


def shipped_dir() -> Path:
    """Folder of the data shipped inside the package."""
    return Path(str(resources.files("nrc.data") / "shipped"))


def load_policy(spec: str, env: str) -> MeanPolicy:
    """A policy: "expert" (the shipped one for `env`), "ik-pd" (Reacher) or an .npz path."""
    if spec == "ik-pd":
        if task(env).name != "reacher":
            raise ValueError(f"policy 'ik-pd' exists only for reacher, not {env!r}")
        return ReacherController()
    if spec == "expert":
        name = task(env).name
        if name == "reacher":
            return ReacherController()
        return MLPPolicy.load(shipped_dir() / "experts" / f"{name}.npz")
    return MLPPolicy.load(Path(spec))


def evaluate(
    policy: Policy, env: str, episodes: int, seed: int, action_noise: float = 0.0
) -> np.ndarray:
    """Undiscounted returns of `episodes` episodes; episode i is reset with seed `seed + i` and,
    with `action_noise` σ > 0, samples its actions with the generator of `[seed + i]`."""
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    sigma = check_sigma(action_noise)
    environment = make_env(env)
    returns = np.empty(episodes)
    for i in range(episodes):
        actor = episode_policy(policy, sigma, environment.action_space, [seed + i])
        obs, _ = environment.reset(seed=seed + i)
        total, done = 0.0, False
        while not done:
            obs, reward, terminated, truncated, _ = environment.step(actor.act(obs))
            total += float(reward)
            done = terminated or truncated
        returns[i] = total
    environment.close()
    return returns


def policy_provenance(spec: str, env: str) -> dict[str, Any]:
    """What produced the actions: the controller's gains, or the expert's provenance JSON."""
    policy = load_policy(spec, env)
    if isinstance(policy, ReacherController):
        return {
            "policy": "ik-pd",
            "kp": policy.kp,
            "kd": policy.kd,
            "l1": policy.l1,
            "l2": policy.l2,
        }
    path = shipped_dir() / "experts" / f"{task(env).name}.npz" if spec == "expert" else Path(spec)
    sidecar = path.with_suffix(".json")
    info = json.loads(sidecar.read_text()) if sidecar.is_file() else {}
    return {"policy": str(path.name), "expert": info}


EVAL_SEED = 1_000_000  # evaluation episodes use reset seeds EVAL_SEED + i, apart from training's


def ship_expert(env: str, policy: str | Path | None, episodes: int = 100) -> dict[str, Any]:
    """Evaluate an expert over `episodes` episodes and store it with its provenance in the package.

    `policy`: a run folder of `nrc data train-expert` (its best.npz and state.json are used), or
    None for Reacher's IK + PD controller. Writes shipped/experts/{env}.npz (trained experts) and
    {env}.json; returns the JSON payload.
    """
    name = task(env).name
    out = shipped_dir() / "experts"
    out.mkdir(parents=True, exist_ok=True)
    if policy is None:
        controller = ReacherController() if name == "reacher" else None
        if controller is None:
            raise ValueError(f"{name} has no controller; pass the training run folder")
        payload: dict[str, Any] = {"policy": "ik-pd", "kp": controller.kp, "kd": controller.kd}
        expert: Policy = controller
    else:
        run = Path(policy)
        state_file, best_file = run / "state.json", run / "best.npz"
        for file in (state_file, best_file):
            if not file.is_file():
                raise FileNotFoundError(f"training run file {file} does not exist")
        state = json.loads(state_file.read_text())
        expert = MLPPolicy.load(best_file)
        payload = {key: value for key, value in state.items() if key != "history"}
        payload["learning_curve"] = state["history"]
    returns = evaluate(expert, name, episodes, seed=EVAL_SEED)
    payload |= {
        "env_id": task(name).env_id,
        "evaluation": {
            "episodes": episodes,
            "reset_seeds": f"{EVAL_SEED} + i",
            "mean_return": float(returns.mean()),
            "std_return": float(returns.std()),
            "min_return": float(returns.min()),
            "max_return": float(returns.max()),
            "versions": library_versions(),
        },
    }
    if isinstance(expert, MLPPolicy):
        expert.save(out / f"{name}.npz")
    write_json(out / f"{name}.json", payload)
    logger.info("%s expert: mean return %.2f over %d episodes", name, returns.mean(), episodes)
    return payload
