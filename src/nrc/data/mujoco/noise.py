"""Sampled expert actions: a Gaussian policy around a deterministic expert (docs/datasets.md,
"Sampled actions").

The paper's MuJoCo data (§4, App. A.1) record the actions that stochastic experts executed (JAT's
PPO experts, D4RL's hopper-expert). Our experts are deterministic, so the sampled variant draws
a ~ N(μ(s), (σ·h)² I) around the expert's pre-clip output μ(s), h the half-width of the action
box, clips the draw to the box and records the clipped (executed) draw. Each episode has its own
numpy generator, so the same seed gives identical arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import gymnasium as gym
import numpy as np


class Policy(Protocol):
    """Anything that maps one observation to one action."""

    def act(self, obs: np.ndarray) -> np.ndarray:
        """The action for observation `obs` (1-D)."""
        ...


@runtime_checkable
class MeanPolicy(Policy, Protocol):
    """A policy whose action is its pre-clip output clipped to the action box, so that it can
    be the mean of a Gaussian policy (`nrc.data.mujoco.experts`: the trained experts and
    Reacher's controller)."""

    def pre_clip(self, obs: np.ndarray) -> np.ndarray:
        """The action for observation `obs` before clipping to the action box."""
        ...


def check_sigma(sigma: object) -> float:
    """`sigma` as a float; ValueError unless it is a finite number >= 0 (0: deterministic)."""
    if isinstance(sigma, bool) or not isinstance(sigma, int | float) or not np.isfinite(sigma):
        raise ValueError(f"action noise sigma must be a finite number >= 0, got {sigma!r}")
    if sigma < 0:
        raise ValueError(f"action noise sigma must be >= 0, got {sigma!r}")
    return float(sigma)


def generator(entropy: list[int]) -> np.random.Generator:
    """The noise generator of one episode: PCG64 seeded by the first child of
    `SeedSequence(entropy)`, so that it is independent of the reset seed drawn from the parent."""
    return np.random.default_rng(np.random.SeedSequence(entropy).spawn(1)[0])


@dataclass(frozen=True)
class GaussianActions:
    """Actions clip(μ(s) + σ·h·ε, low, high), ε ~ N(0, I) from `rng`, h = (high − low)/2."""

    policy: MeanPolicy
    sigma: float
    low: np.ndarray
    high: np.ndarray
    rng: np.random.Generator

    def act(self, obs: np.ndarray) -> np.ndarray:
        """One executed action: a Gaussian draw around the expert's pre-clip output, clipped."""
        mean = np.asarray(self.policy.pre_clip(obs), dtype=np.float64)
        scale = self.sigma * (self.high - self.low) / 2.0
        return np.clip(mean + scale * self.rng.standard_normal(mean.shape), self.low, self.high)


@dataclass(frozen=True)
class UniformActions:
    """Actions drawn uniformly from the action box: the random reference of a normalised return."""

    low: np.ndarray
    high: np.ndarray
    rng: np.random.Generator

    def act(self, obs: np.ndarray) -> np.ndarray:
        """One uniform draw from the box (the observation is ignored)."""
        return self.rng.uniform(self.low, self.high)


def noise_provenance(sigma: float) -> dict[str, Any]:
    """The noise model of sampled actions with `sigma`, as recorded in a dataset's provenance."""
    return {
        "distribution": "gaussian N(mu(s), (sigma*h)^2 I) on the pre-clip expert output mu(s)",
        "sigma": sigma,
        "scale": "h = (high - low)/2, the half-width of the action box (1 for all three tasks)",
        "clipping": "the draw is clipped to the action box [low, high]",
        "recorded": "the executed (clipped) draw, as D4RL and JAT record executed actions",
        "generator": (
            "numpy default_rng(SeedSequence([seed, split, episode]).spawn(1)[0]) per episode "
            "(split: train 0, test 1); the reset seed comes from the parent SeedSequence"
        ),
    }


def episode_policy(
    policy: Policy, sigma: float, space: gym.spaces.Box, entropy: list[int]
) -> Policy:
    """The actor of one episode: `policy` itself (σ = 0) or Gaussian draws around its pre-clip
    output in the box `space`, from the generator of `entropy`."""
    if sigma == 0:
        return policy
    if not isinstance(policy, MeanPolicy):
        raise ValueError(f"action noise needs a policy with a pre-clip output, got {policy!r}")
    low, high = (np.asarray(b, dtype=np.float64) for b in (space.low, space.high))
    return GaussianActions(policy, sigma, low, high, generator(entropy))
