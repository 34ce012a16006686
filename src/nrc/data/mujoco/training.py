"""Resumable training of the Swimmer and Hopper experts with stable-baselines3 (paper App. A.1).

Settings are rl-baselines3-zoo's MuJoCo entries (hyperparams/ppo.yml, hyperparams/ars.yml) with
constant learning rates, so that a resumed run continues exactly where it stopped. ARS with a
linear policy (sb3-contrib) is the default: measured here on one shared core, it reached Swimmer
335 after 100k steps and Hopper 2,900 after 550k, where PPO sat near 150 and 1,000 at 500k.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sb3_contrib import ARS
from stable_baselines3 import PPO
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.vec_env import VecNormalize

from nrc.data.mujoco.envs import library_versions, make_env, task
from nrc.data.mujoco.experts import MLPPolicy, evaluate
from nrc.io import atomic_path, write_json

logger = logging.getLogger(__name__)

ALGORITHMS: dict[str, type[BaseAlgorithm]] = {"ppo": PPO, "ars": ARS}

# (task, algorithm) -> policy class, VecNormalize arguments (None: no normaliser), hyperparameters.
CONFIGS: dict[tuple[str, str], dict[str, Any]] = {
    ("swimmer", "ppo"): {
        "policy": "MlpPolicy",
        "normalize": {"norm_obs": True, "norm_reward": True},
        "hyperparameters": {"gamma": 0.9999},
    },
    ("hopper", "ppo"): {
        "policy": "MlpPolicy",
        "normalize": {"norm_obs": True, "norm_reward": True},
        "hyperparameters": {
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
    },
    ("swimmer", "ars"): {
        "policy": "LinearPolicy",
        "normalize": None,
        "hyperparameters": {
            "learning_rate": 0.02,
            "delta_std": 0.01,
            "n_delta": 1,
            "n_top": 1,
            "alive_bonus_offset": 0,
        },
    },
    ("hopper", "ars"): {
        "policy": "LinearPolicy",
        "normalize": {"norm_obs": True, "norm_reward": False},
        "hyperparameters": {
            "learning_rate": 0.01,
            "delta_std": 0.025,
            "n_delta": 8,
            "n_top": 4,
            "alive_bonus_offset": -1,
        },
    },
}
DEFAULT_ALGORITHM = {"swimmer": "ars", "hopper": "ars"}

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
        """Latest VecNormalize statistics (runs with a normaliser only)."""
        return self.root / "vecnormalize.pkl"

    @property
    def best(self) -> Path:
        """Best exported policy so far (by evaluation return)."""
        return self.root / "best.npz"

    @property
    def state(self) -> Path:
        """Progress: steps done, evaluation history, best return, provenance."""
        return self.root / "state.json"


def sb3_kwargs(hyperparameters: dict[str, Any]) -> dict[str, Any]:
    """SB3 keyword arguments from JSON-friendly hyperparameters (activation names → modules)."""
    kwargs = dict(hyperparameters)
    if "policy_kwargs" in kwargs:
        policy = dict(kwargs["policy_kwargs"])
        if "activation_fn" in policy:
            policy["activation_fn"] = ACTIVATION_MODULES[policy["activation_fn"]]
        kwargs["policy_kwargs"] = policy
    return kwargs


def export_policy(model: BaseAlgorithm, normalizer: VecNormalize | None) -> MLPPolicy:
    """The deterministic actor of a PPO or ARS model with the normaliser's current statistics."""
    policy = model.policy
    if hasattr(policy, "mlp_extractor"):  # PPO: shared trunk + action head
        modules = [*policy.mlp_extractor.policy_net, policy.action_net]
    else:  # ARS: one Sequential
        modules = list(policy.action_net)
    layers = [m for m in modules if isinstance(m, torch.nn.Linear)]
    dim = model.observation_space.shape[0]
    space = model.action_space
    return MLPPolicy(
        weights=tuple(layer.weight.detach().double().numpy().copy() for layer in layers),
        biases=tuple(
            np.zeros(layer.out_features)
            if layer.bias is None
            else layer.bias.detach().double().numpy().copy()
            for layer in layers
        ),
        activation=policy.activation_fn.__name__.lower(),
        obs_mean=np.zeros(dim) if normalizer is None else normalizer.obs_rms.mean.astype(float),
        obs_var=np.ones(dim) if normalizer is None else normalizer.obs_rms.var.astype(float),
        clip_obs=np.inf if normalizer is None else float(normalizer.clip_obs),
        epsilon=0.0 if normalizer is None else float(normalizer.epsilon),
        low=np.asarray(space.low, dtype=np.float64),
        high=np.asarray(space.high, dtype=np.float64),
    )


def checkpoint(
    model: BaseAlgorithm, env: str, paths: TrainPaths, state: dict[str, Any], episodes: int
) -> None:
    """Evaluate the exported actor, keep the best, save the model and state atomically."""
    normalizer = model.get_vec_normalize_env()
    policy = export_policy(model, normalizer)
    returns = evaluate(policy, env, episodes, seed=state["seed"] + 10_000)
    mean = float(returns.mean())
    state["steps"] = int(model.num_timesteps)
    state["history"].append({"steps": state["steps"], "mean_return": mean})
    if state["best"] is None or mean > state["best"]["mean_return"]:
        policy.save(paths.best)
        state["best"] = {"steps": state["steps"], "mean_return": mean}
    with atomic_path(paths.model) as tmp:
        model.save(tmp)
    if normalizer is not None:
        with atomic_path(paths.normalizer) as tmp:
            normalizer.save(tmp)
    write_json(paths.state, state)
    logger.info("%s: %d steps, eval mean return %.1f", env, state["steps"], mean)


def train_expert(
    env: str,
    out: Path,
    total_steps: int,
    seed: int = 0,
    checkpoint_every: int = 50_000,
    eval_episodes: int = 10,
    algorithm: str | None = None,
    hyperparameters: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train (or resume) an expert for `env` until `total_steps`; returns the run's state.

    The folder `out` holds model.zip (+ vecnormalize.pkl), best.npz and state.json; calling this
    again with a larger `total_steps` continues from the last checkpoint. `algorithm` is "ppo" or
    "ars" (default: DEFAULT_ALGORITHM); `hyperparameters` override top-level entries of the
    config for a new run, and a resumed run keeps its own.
    """
    name = task(env).name
    if name not in DEFAULT_ALGORITHM:
        raise ValueError(f"no trained expert for {name!r}: reacher uses the IK + PD controller")
    if total_steps < 1 or checkpoint_every < 1:
        raise ValueError("total_steps and checkpoint_every must be >= 1")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = TrainPaths(out)
    venv = make_vec_env(lambda: make_env(name), n_envs=1, seed=seed)
    if paths.model.is_file() and paths.state.is_file():
        state = json.loads(paths.state.read_text())
        if algorithm and algorithm != state["algorithm"].lower():
            raise ValueError(f"{paths.state}: the run uses {state['algorithm']}, not {algorithm}")
        if (
            hyperparameters
            and state["hyperparameters"] != state["hyperparameters"] | hyperparameters
        ):
            raise ValueError(f"{paths.state}: a resumed run keeps its hyperparameters")
        if state["normalize"] is not None:
            venv = VecNormalize.load(str(paths.normalizer), venv)
        model = ALGORITHMS[state["algorithm"].lower()].load(paths.model, env=venv, device="cpu")
        logger.info("%s: resuming from %d steps", name, state["steps"])
    else:
        algo = algorithm or DEFAULT_ALGORITHM[name]
        if (name, algo) not in CONFIGS:
            raise ValueError(f"algorithm must be one of {sorted(ALGORITHMS)}, got {algo!r}")
        config = CONFIGS[(name, algo)]
        merged = config["hyperparameters"] | (hyperparameters or {})
        if config["normalize"] is not None:
            gamma = merged.get("gamma", 0.99)
            venv = VecNormalize(venv, gamma=gamma, **config["normalize"])
        model = ALGORITHMS[algo](
            config["policy"], venv, seed=seed, device="cpu", **sb3_kwargs(merged)
        )
        state = {
            "env_id": task(name).env_id,
            "algorithm": algo.upper(),
            "policy": config["policy"],
            "hyperparameters": merged,
            "normalize": config["normalize"],
            "source": f"rl-baselines3-zoo hyperparams/{algo}.yml",
            "seed": seed,
            "steps": 0,
            "history": [],
            "best": None,
            "versions": library_versions(),
        }
    # A logger with no outputs: without one, every `learn` call creates an empty
    # <tempdir>/SB3-<time> folder (SB3's `configure`); progress is logged by `checkpoint`.
    model.set_logger(Logger(folder=None, output_formats=[]))
    # Learn in chunks and checkpoint between them: inside ARS's update the network holds
    # perturbed candidate weights, so a mid-update callback would save the wrong policy.
    while model.num_timesteps < total_steps:
        chunk = min(checkpoint_every, total_steps - model.num_timesteps)
        model.learn(chunk, reset_num_timesteps=False)
        checkpoint(model, name, paths, state, eval_episodes)
    return state
