"""Resumable stable-baselines3 training of the Swimmer and Hopper experts (paper App. A.1).

Hyperparameters are rl-baselines3-zoo's MuJoCo settings for PPO (VecNormalize on), with constant
learning rates so that a resumed run continues exactly where it stopped.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import VecNormalize

from nrc.data.atomic import atomic_path
from nrc.data.envs import library_versions, make_env, task
from nrc.data.experts import MLPPolicy, evaluate, write_json

logger = logging.getLogger(__name__)

# rl-baselines3-zoo hyperparams/ppo.yml: "Swimmer-v3" (SB3 defaults + gamma 0.9999) and the tuned
# "Hopper-v3" entry.
PPO_CONFIGS: dict[str, dict[str, Any]] = {
    "swimmer": {"gamma": 0.9999},
    "hopper": {
        "batch_size": 32,
        "n_steps": 512,
        "gamma": 0.999,
        "learning_rate": 9.80828e-05,
        "ent_coef": 0.00229519,
        "clip_range": 0.2,
        "n_epochs": 5,
        "gae_lambda": 0.99,
        "max_grad_norm": 0.7,
        "vf_coef": 0.835671,
        "policy_kwargs": {
            "log_std_init": -2,
            "ortho_init": False,
            "activation_fn": "relu",
            "net_arch": {"pi": [256, 256], "vf": [256, 256]},
        },
    },
}

ACTIVATION_MODULES = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh}


@dataclass(frozen=True)
class TrainPaths:
    """Files of one training run inside its folder."""

    root: Path

    @property
    def model(self) -> Path:
        """Latest SB3 checkpoint (policy, value function, optimiser)."""
        return self.root / "model.zip"

    @property
    def normalizer(self) -> Path:
        """Latest VecNormalize statistics."""
        return self.root / "vecnormalize.pkl"

    @property
    def best(self) -> Path:
        """Best exported policy so far (by evaluation return)."""
        return self.root / "best.npz"

    @property
    def state(self) -> Path:
        """Progress: steps done, evaluation history, best return, provenance."""
        return self.root / "state.json"


def sb3_kwargs(config: dict[str, Any]) -> dict[str, Any]:
    """PPO keyword arguments from a JSON-friendly config (activation names become modules)."""
    kwargs = dict(config)
    if "policy_kwargs" in kwargs:
        policy = dict(kwargs["policy_kwargs"])
        policy["activation_fn"] = ACTIVATION_MODULES[policy["activation_fn"]]
        kwargs["policy_kwargs"] = policy
    return kwargs


def export_policy(model: PPO, normalizer: VecNormalize) -> MLPPolicy:
    """The deterministic actor of `model` with the normalizer's current statistics."""
    layers = [m for m in model.policy.mlp_extractor.policy_net if isinstance(m, torch.nn.Linear)]
    layers.append(model.policy.action_net)
    activation = model.policy.activation_fn.__name__.lower()
    space = model.action_space
    return MLPPolicy(
        weights=tuple(layer.weight.detach().double().numpy().copy() for layer in layers),
        biases=tuple(layer.bias.detach().double().numpy().copy() for layer in layers),
        activation=activation,
        obs_mean=np.asarray(normalizer.obs_rms.mean, dtype=np.float64).copy(),
        obs_var=np.asarray(normalizer.obs_rms.var, dtype=np.float64).copy(),
        clip_obs=float(normalizer.clip_obs),
        epsilon=float(normalizer.epsilon),
        low=np.asarray(space.low, dtype=np.float64),
        high=np.asarray(space.high, dtype=np.float64),
    )


class CheckpointEval(BaseCallback):
    """Every `every` steps: evaluate the exported actor, keep the best, checkpoint the run."""

    def __init__(
        self, env: str, paths: TrainPaths, state: dict[str, Any], every: int, episodes: int
    ) -> None:
        super().__init__()
        self.env, self.paths, self.state = env, paths, state
        self.every, self.episodes = every, episodes
        self.next_at = (state["steps"] // every + 1) * every

    def _on_step(self) -> bool:
        if self.num_timesteps >= self.next_at:
            self.next_at += self.every
            self.checkpoint()
        return True

    def checkpoint(self) -> None:
        """Evaluate, update the best policy, and save model + normalizer + state atomically."""
        normalizer = self.model.get_vec_normalize_env()
        policy = export_policy(self.model, normalizer)
        seed = self.state["seed"] + 10_000
        returns = evaluate(policy, self.env, self.episodes, seed=seed)
        mean = float(returns.mean())
        self.state["steps"] = int(self.num_timesteps)
        self.state["history"].append({"steps": self.state["steps"], "mean_return": mean})
        if self.state["best"] is None or mean > self.state["best"]["mean_return"]:
            policy.save(self.paths.best)
            self.state["best"] = {"steps": self.state["steps"], "mean_return": mean}
        with atomic_path(self.paths.model) as tmp:
            self.model.save(tmp)
        with atomic_path(self.paths.normalizer) as tmp:
            normalizer.save(tmp)
        write_json(self.paths.state, self.state)
        logger.info("%s: %d steps, eval mean return %.1f", self.env, self.state["steps"], mean)


def train_expert(
    env: str,
    out: Path,
    total_steps: int,
    seed: int = 0,
    checkpoint_every: int = 50_000,
    eval_episodes: int = 10,
    hyperparameters: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train (or resume) a PPO expert for `env` until `total_steps`; returns the run's state.

    The folder `out` holds model.zip, vecnormalize.pkl, best.npz and state.json; calling this again
    with a larger `total_steps` continues from the last checkpoint. `hyperparameters` override
    entries of PPO_CONFIGS (top-level keys) for a new run; a resumed run keeps its own.
    """
    name = task(env).name
    if name not in PPO_CONFIGS:
        raise ValueError(f"no trained expert for {name!r}: reacher uses the IK + PD controller")
    if total_steps < 1 or checkpoint_every < 1:
        raise ValueError("total_steps and checkpoint_every must be >= 1")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = TrainPaths(out)
    config = PPO_CONFIGS[name] | (hyperparameters or {})
    venv = make_vec_env(lambda: make_env(name), n_envs=1, seed=seed)
    if paths.model.is_file() and paths.normalizer.is_file() and paths.state.is_file():
        state = json.loads(paths.state.read_text())
        if hyperparameters and state["hyperparameters"] != config:
            raise ValueError(f"{paths.state}: a resumed run keeps its hyperparameters")
        venv = VecNormalize.load(str(paths.normalizer), venv)
        model = PPO.load(paths.model, env=venv, device="cpu")
        logger.info("%s: resuming from %d steps", name, state["steps"])
    else:
        venv = VecNormalize(venv, gamma=config["gamma"])
        model = PPO("MlpPolicy", venv, seed=seed, device="cpu", **sb3_kwargs(config))
        state = {
            "env_id": task(name).env_id,
            "algorithm": "PPO",
            "hyperparameters": config,
            "normalize": "VecNormalize(norm_obs=True, norm_reward=True)",
            "source": "rl-baselines3-zoo hyperparams/ppo.yml",
            "seed": seed,
            "steps": 0,
            "history": [],
            "best": None,
            "versions": library_versions(),
        }
    remaining = total_steps - state["steps"]
    if remaining > 0:
        callback = CheckpointEval(name, paths, state, checkpoint_every, eval_episodes)
        model.learn(remaining, callback=callback, reset_num_timesteps=False)
        if state["steps"] != model.num_timesteps:
            callback.checkpoint()
    return state
