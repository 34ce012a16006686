"""Roll out an expert and store the transitions as a Minari dataset (HDF5 backend) (paper §4).

Each dataset holds whole episodes; episode i of split `split` is reset with a seed drawn from
`SeedSequence([seed, split, i])`. The actions are the expert's deterministic output or, with
`action_noise` σ > 0, Gaussian draws around it from a generator seeded by the same sequence
(`nrc.data.mujoco.noise`), so the same seed gives identical arrays. A dataset is built in a
temporary folder beside its destination and moved into place only when complete.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import gymnasium as gym
import minari
import numpy as np
from minari.data_collector import EpisodeBuffer
from minari.dataset.minari_storage import MinariStorage

from nrc.data.mujoco.envs import library_versions, make_env, task
from nrc.data.mujoco.experts import Policy, load_policy, policy_provenance
from nrc.data.mujoco.noise import check_sigma, episode_policy, noise_provenance

logger = logging.getLogger(__name__)

SPLITS = {"train": 0, "test": 1}


def episode_seed(seed: int, split: str, episode: int) -> int:
    """Reset seed of `episode` in `split`: independent streams per (seed, split, episode)."""
    return int(np.random.SeedSequence([seed, SPLITS[split], episode]).generate_state(1)[0])


def rollout(env: gym.Env, policy: Policy, reset_seed: int, episode_id: int) -> EpisodeBuffer:
    """One episode as a Minari buffer: T+1 observations, T actions (as executed), rewards, flags."""
    obs, _ = env.reset(seed=reset_seed)
    observations, actions, rewards, terminations, truncations = [obs], [], [], [], []
    done = False
    while not done:
        action = np.asarray(policy.act(obs), dtype=env.action_space.dtype)
        obs, reward, terminated, truncated, _ = env.step(action)
        observations.append(obs)
        actions.append(action)
        rewards.append(float(reward))
        terminations.append(bool(terminated))
        truncations.append(bool(truncated))
        done = terminated or truncated
    return EpisodeBuffer(
        id=episode_id,
        seed=reset_seed,
        observations=np.stack(observations),
        actions=np.stack(actions),
        rewards=rewards,
        terminations=terminations,
        truncations=truncations,
        infos={},
    )


def collect_episodes(
    env_name: str,
    policy: Policy,
    seed: int,
    split: str = "train",
    episodes: int = 1,
    min_transitions: int = 0,
    action_noise: float = 0.0,
) -> list[EpisodeBuffer]:
    """At least `episodes` episodes, and more until they hold `min_transitions` transitions;
    `action_noise` σ > 0 records sampled actions (episode i draws from its own generator,
    seeded by `[seed, split, i]`)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {sorted(SPLITS)}, got {split!r}")
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    sigma = check_sigma(action_noise)
    env = make_env(env_name)
    buffers: list[EpisodeBuffer] = []
    steps = 0
    while len(buffers) < episodes or steps < min_transitions:
        i = len(buffers)
        actor = episode_policy(policy, sigma, env.action_space, [seed, SPLITS[split], i])
        buffers.append(rollout(env, actor, episode_seed(seed, split, i), i))
        steps += len(buffers[-1])
    env.close()
    returns = [sum(b.rewards) for b in buffers]
    logger.info(
        "%s/%s (action noise %g): %d episodes, %d transitions, mean return %.2f",
        env_name,
        split,
        sigma,
        len(buffers),
        steps,
        float(np.mean(returns)),
    )
    return buffers


def write_dataset(
    root: Path, dataset_id: str, env_name: str, buffers: list[EpisodeBuffer], provenance: dict
) -> Path:
    """Write `buffers` as the Minari dataset `root/dataset_id`, atomically; returns its folder.

    `provenance` (JSON-serialisable) goes into the Minari metadata under "nrc_provenance".
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    final = root / dataset_id
    env = make_env(env_name)
    staging = Path(tempfile.mkdtemp(dir=root, prefix=f".{dataset_id}.tmp-"))
    try:
        storage = MinariStorage.new(
            staging / "data",
            observation_space=env.observation_space,
            action_space=env.action_space,
            env_spec=env.spec,
            data_format="hdf5",
        )
        storage.update_metadata(metadata(dataset_id, env, provenance))
        storage.update_episodes(buffers)
        staging.chmod(0o755)  # mkdtemp makes it private
        replace_dir(staging, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        env.close()
    return final


def metadata(dataset_id: str, env: gym.Env, provenance: dict) -> dict[str, Any]:
    """Minari metadata (the keys `minari.load_dataset` reads) plus our provenance."""
    return {
        "dataset_id": dataset_id,
        "minari_version": minari.__version__,
        "algorithm_name": str(provenance.get("policy", "unknown")),
        "author": {"nrc"},
        "code_permalink": "nrc.data.mujoco.collect",
        "description": f"{env.spec.id} expert rollouts for behaviour cloning (nrc, paper §4)",
        "eval_env_spec": env.spec.to_json(),
        "requirements": [f"mujoco=={library_versions()['mujoco']}"],
        "nrc_provenance": provenance,
    }


def replace_dir(src: Path, dst: Path) -> None:
    """Move the complete folder `src` to `dst`, replacing an existing `dst` without a gap in which
    `dst` is half-written (os.replace cannot overwrite a non-empty folder, hence the swap)."""
    if dst.exists():
        old = Path(tempfile.mkdtemp(dir=dst.parent, prefix=f".{dst.name}.old-"))
        os.replace(dst, old / dst.name)
        os.replace(src, dst)
        shutil.rmtree(old)
    else:
        os.replace(src, dst)


def collect_dataset(
    env_name: str,
    policy_spec: str,
    episodes: int,
    seed: int,
    root: Path,
    prefix: str,
    min_train_transitions: int = 0,
    action_noise: float = 0.0,
) -> dict[str, Path]:
    """Roll out `policy_spec` and write `{prefix}-train-v0` and `{prefix}-test-v0` under `root`.

    The test split is separate episodes holding at least 20% of the training transitions (App. A.1).
    `action_noise` σ > 0 records sampled actions; the provenance states the noise model.
    """
    sigma = check_sigma(action_noise)
    policy = load_policy(policy_spec, env_name)
    train = collect_episodes(
        env_name, policy, seed, "train", episodes, min_train_transitions, sigma
    )
    n_train = sum(len(b) for b in train)
    test = collect_episodes(env_name, policy, seed, "test", 1, -(-n_train // 5), sigma)
    actions = (
        "Gaussian draws around the policy's pre-clip output, clipped to the action box "
        "(as executed); see action_noise"
        if sigma
        else "deterministic policy output, clipped to the action box (as executed)"
    )
    base = {
        "env_id": task(env_name).env_id,
        "seed": seed,
        "generator": "nrc.data.mujoco.collect.collect_dataset",
        "actions": actions,
        "expert_actions": "sampled" if sigma else "deterministic",
        "action_noise": noise_provenance(sigma) if sigma else None,
        "versions": library_versions(),
    } | policy_provenance(policy_spec, env_name)
    paths = {}
    for split, buffers in (("train", train), ("test", test)):
        returns = [float(sum(b.rewards)) for b in buffers]
        provenance = base | {
            "split": split,
            "episodes": len(buffers),
            "transitions": int(sum(len(b) for b in buffers)),
            "episode_returns": returns,
            "mean_return": float(np.mean(returns)),
        }
        paths[split] = write_dataset(root, f"{prefix}-{split}-v0", env_name, buffers, provenance)
    return paths
