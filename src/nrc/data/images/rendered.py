"""Image regression sets rendered offline with MuJoCo: offline analogues of CARLA and UTKFace (§4).

The paper's image datasets (CARLA 2D/1D, UTKFace; Table 1) are large downloads. These sets are made
on this machine instead: rollouts of the MuJoCo tasks are rendered by MuJoCo's own offscreen
renderer (`MUJOCO_GL=egl`, docs/images.md) from a fixed camera, and the targets are simulator
quantities that the picture determines:

- `reacher-fingertip` (n = 2, analogue of CARLA 2D): the fingertip's (x, y) in the arena plane,
  seen from above; rollouts of the inverse-kinematics + PD Reacher expert (`nrc.data.experts`).
- `hopper-height` (n = 1, analogue of CARLA 1D / UTKFace): the torso's height, seen from the side
  by a camera that does not follow the robot; rollouts of a PD controller tracking a sine reference
  with per-episode random amplitudes and phases (`SinePD`), the hopper allowed to fall, so that
  standing, crouching, tipping and lying poses all occur.
- `reacher-arm` (n = 2, analogue of CARLA 2D): the y of the fingertip and of the elbow in the
  frames of `reacher-fingertip` (the same rollouts and camera); unlike the fingertip's (x, y)
  the two are correlated and of unequal spread, so NRC3 is informative (docs/images.md).

`generate` is deterministic for a seed; `load_rendered` caches the result as HDF5 under
$NRC_DATA_DIR/rendered with its provenance, and renders a damaged cache file again. Command line:
`nrc data render reacher-fingertip --count 10000 --size 64 --seed 0`.
"""

from __future__ import annotations

import os

# MuJoCo chooses its OpenGL backend when it is first imported; EGL renders without a display.
os.environ.setdefault("MUJOCO_GL", "egl")

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import gymnasium as gym
import h5py
import mujoco
import numpy as np

from nrc.data import files
from nrc.data.mujoco.envs import make_env, task
from nrc.data.mujoco.experts import Policy, load_policy
from nrc.data.registry import data_dir
from nrc.data.types import ImageSet
from nrc.io import atomic_path

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1


@dataclass
class SinePD:
    """Joint PD control toward q_ref(t) = centre + amplitude * sin(2π t / period + phase).

    For Hopper (observation: z, pitch, 3 joint angles, then 6 velocities); one instance per episode,
    its parameters drawn by `SinePD.draw` from a seeded generator. Deterministic given them.
    """

    centre: np.ndarray
    amplitude: np.ndarray
    phase: np.ndarray
    period: float
    kp: float = 3.0
    kd: float = 0.3
    t: int = 0

    @classmethod
    def draw(cls, rng: np.random.Generator) -> SinePD:
        """Random reference within the joint ranges (thigh, leg in [-150°, 0], foot in ±45°)."""
        return cls(
            centre=rng.uniform([-1.2, -1.2, -0.4], [0.0, 0.0, 0.4]),
            amplitude=rng.uniform(0.1, 0.8, size=3),
            phase=rng.uniform(0.0, 2 * np.pi, size=3),
            period=float(rng.uniform(10.0, 60.0)),
        )

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Torques for the next control step (the step counter `t` advances on each call)."""
        ref = self.centre + self.amplitude * np.sin(2 * np.pi * self.t / self.period + self.phase)
        self.t += 1
        return np.clip(self.kp * (ref - obs[2:5]) - self.kd * obs[8:11], -1.0, 1.0)


@dataclass(frozen=True)
class RenderedSpec:
    """How one rendered set is made: task, camera, episode length, target and default policy."""

    name: str
    task: str
    target_names: tuple[str, ...]
    target_doc: str
    target: Callable[[mujoco.MjData], np.ndarray]
    camera: dict[str, Any]
    episode_steps: int
    frame_stride: int
    default_policy: str
    env_kwargs: dict[str, Any] = field(default_factory=dict)


RENDERED: dict[str, RenderedSpec] = {
    "reacher-fingertip": RenderedSpec(
        name="reacher-fingertip",
        task="reacher",
        target_names=("fingertip_x", "fingertip_y"),
        target_doc="world (x, y) of body 'fingertip', metres",
        target=lambda data: data.body("fingertip").xpos[:2].copy(),
        camera={"lookat": [0.0, 0.0, 0.0], "distance": 0.62, "azimuth": 90.0, "elevation": -90.0},
        episode_steps=50,
        frame_stride=5,
        default_policy="ik-pd",
    ),
    "hopper-height": RenderedSpec(
        name="hopper-height",
        task="hopper",
        target_names=("torso_height",),
        target_doc="qpos[1] (rootz): height of the torso centre above the floor, metres",
        target=lambda data: data.qpos[1:2].copy(),
        camera={"lookat": [0.0, 0.0, 0.7], "distance": 3.2, "azimuth": 90.0, "elevation": -5.0},
        episode_steps=100,
        frame_stride=4,
        default_policy="sine-pd",
        env_kwargs={"terminate_when_unhealthy": False},
    ),
    "reacher-arm": RenderedSpec(
        name="reacher-arm",
        task="reacher",
        target_names=("fingertip_y", "elbow_y"),
        target_doc="world y of bodies 'fingertip' and 'body1' (the elbow), metres",
        target=lambda data: np.array([data.body("fingertip").xpos[1], data.body("body1").xpos[1]]),
        camera={"lookat": [0.0, 0.0, 0.0], "distance": 0.62, "azimuth": 90.0, "elevation": -90.0},
        episode_steps=50,
        frame_stride=5,
        default_policy="ik-pd",
    ),
}


def spec(name: str) -> RenderedSpec:
    """The rendered set called `name`; ValueError listing the known ones otherwise."""
    if name not in RENDERED:
        raise ValueError(f"unknown rendered dataset {name!r}; choose from {sorted(RENDERED)}")
    return RENDERED[name]


def episode_policy(policy: str, task_name: str, rng: np.random.Generator) -> Policy:
    """The policy for one episode: 'sine-pd' (drawn from `rng`) or any `load_policy` spec."""
    if policy == "sine-pd":
        if task_name != "hopper":
            raise ValueError(f"policy 'sine-pd' exists only for hopper, not {task_name!r}")
        return SinePD.draw(rng)
    return load_policy(policy, task_name)


def free_camera(settings: dict[str, Any]) -> mujoco.MjvCamera:
    """A fixed (free) MuJoCo camera from lookat/distance/azimuth/elevation."""
    camera = mujoco.MjvCamera()
    camera.type = mujoco.mjtCamera.mjCAMERA_FREE
    camera.lookat[:] = settings["lookat"]
    camera.distance = settings["distance"]
    camera.azimuth = settings["azimuth"]
    camera.elevation = settings["elevation"]
    return camera


def generate(
    name: str, count: int = 10_000, size: int = 64, seed: int = 0, policy: str | None = None
) -> ImageSet:
    """Render `count` size x size frames of rollouts of set `name`, with their targets.

    Episodes of `episode_steps` steps; every `frame_stride`-th state is rendered. The environment
    is reset with `seed` once (later resets continue its generator) and per-episode policy
    parameters come from numpy's generator seeded with `seed`: the output depends on `seed` only.
    """
    cfg = spec(name)
    if count < 1 or size < 8:
        raise ValueError(f"count must be >= 1 and size >= 8, got count={count}, size={size}")
    policy = policy or cfg.default_policy
    env = make_env(cfg.task, **cfg.env_kwargs)
    model, data = env.unwrapped.model, env.unwrapped.data
    renderer = mujoco.Renderer(model, height=size, width=size)
    # Shadows and reflections off: 170-430 frames/s instead of a few dozen (docs/images.md).
    renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = False
    renderer.scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = False
    camera = free_camera(cfg.camera)
    rng = np.random.default_rng(seed)
    images = np.empty((count, size, size, 3), dtype=np.uint8)
    targets = np.empty((count, len(cfg.target_names)), dtype=np.float32)
    qpos = np.empty((count, model.nq), dtype=np.float64)
    episodes = np.empty(count, dtype=np.int32)
    start = time.perf_counter()
    obs, _ = env.reset(seed=seed)
    k, episode = 0, 0
    try:
        while k < count:
            actor = episode_policy(policy, cfg.task, rng)
            for step in range(cfg.episode_steps):
                obs, _, terminated, truncated, _ = env.step(actor.act(obs))
                if step % cfg.frame_stride == cfg.frame_stride - 1 and k < count:
                    # mj_step leaves body poses one substep behind qpos: recompute them so the
                    # picture, the target and the stored qpos describe the same state.
                    mujoco.mj_forward(model, data)
                    renderer.update_scene(data, camera=camera)
                    images[k] = renderer.render()
                    targets[k] = cfg.target(data)
                    qpos[k], episodes[k] = data.qpos, episode
                    k += 1
                if terminated or truncated:
                    break
            obs, _ = env.reset()
            episode += 1
    finally:
        renderer.close()
        env.close()
    seconds = time.perf_counter() - start
    logger.info("rendered %d %s frames in %.1f s (%.0f/s)", count, name, seconds, count / seconds)
    provenance = {
        "format_version": FORMAT_VERSION,
        "dataset": name,
        "env_id": task(cfg.task).env_id,
        "env_kwargs": cfg.env_kwargs,
        "policy": policy,
        "seed": seed,
        "count": count,
        "size": size,
        "episodes": episode,
        "episode_steps": cfg.episode_steps,
        "frame_stride": cfg.frame_stride,
        "targets": cfg.target_doc,
        "camera": cfg.camera,
        "renderer": f"mujoco.Renderer, MUJOCO_GL={os.environ.get('MUJOCO_GL')}",
        "render_flags_off": ["shadow", "reflection"],
        "versions": {"mujoco": mujoco.__version__, "gymnasium": gym.__version__},
    }
    extras = {"qpos": qpos, "episode": episodes}
    return ImageSet(name, images, targets, cfg.target_names, provenance, extras)


def write_rendered(data: ImageSet, path: Path) -> None:
    """Write images, targets, extras and provenance to an HDF5 file, atomically."""
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        chunk = (min(len(data), 256), *data.images.shape[1:])
        f.create_dataset("images", data=data.images, chunks=chunk, compression="gzip")
        f["targets"] = data.targets
        for key, value in data.extras.items():
            f[f"extras/{key}"] = value
        f.attrs["name"] = data.name
        f.attrs["target_names"] = json.dumps(list(data.target_names))
        f.attrs["provenance"] = json.dumps(data.provenance, sort_keys=True)


def read_attrs(path: Path, handle: h5py.File) -> tuple[str, tuple[str, ...], dict[str, Any]]:
    """(name, target names, provenance) of an open rendered file; ValueError naming it when
    the file is not one or its JSON attributes are damaged."""
    missing = [k for k in ("images", "targets") if k not in handle]
    missing += [k for k in ("name", "target_names", "provenance") if k not in handle.attrs]
    if missing:
        raise ValueError(f"{path}: not a rendered dataset, missing {missing}")
    try:
        names = tuple(json.loads(handle.attrs["target_names"]))
        provenance = json.loads(handle.attrs["provenance"])
    except (TypeError, ValueError) as err:
        raise ValueError(f"{path}: damaged JSON attribute of a rendered dataset: {err}") from err
    return str(handle.attrs["name"]), names, provenance


def read_rendered(path: str | Path) -> ImageSet:
    """An ImageSet written by `write_rendered`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"rendered dataset not found: {path}")
    with files.hdf5(path) as handle:
        name, target_names, provenance = read_attrs(path, handle)
        extras = {key: value[()] for key, value in handle.get("extras", {}).items()}
        return ImageSet(
            name, handle["images"][()], handle["targets"][()], target_names, provenance, extras
        )


def read_rendered_provenance(path: Path) -> dict[str, Any]:
    """The provenance of a rendered file, from its attributes alone (no pixels are read)."""
    with files.hdf5(path) as handle:
        return read_attrs(path, handle)[2]


def cache_path(
    name: str, count: int, size: int, seed: int, policy: str | None, root: Path | None = None
) -> Path:
    """Cache file of a set: $NRC_DATA_DIR/rendered/NAME-SIZEpx-nCOUNT-POLICY-sSEED.h5."""
    cfg = spec(name)
    label = Path(policy).stem if policy else cfg.default_policy
    folder = Path(root) if root is not None else data_dir() / "rendered"
    return folder / f"{name}-{size}px-n{count}-{label}-s{seed}.h5"


def load_rendered(
    name: str,
    count: int = 10_000,
    size: int = 64,
    seed: int = 0,
    policy: str | None = None,
    root: Path | None = None,
    regenerate: bool = False,
) -> ImageSet:
    """The rendered set from the cache, generating and caching it first if absent. A damaged
    cache file (nrc wrote it, so nothing is lost) is rendered again, with a warning."""
    path = cache_path(name, count, size, seed, policy, root)
    if path.is_file() and not regenerate:
        try:
            return read_rendered(path)
        except ValueError as err:
            logger.warning("rendering %s again: the cached file is damaged (%s)", name, err)
    data = generate(name, count, size, seed, policy)
    write_rendered(data, path)
    logger.info("cached %s at %s", name, path)
    return data


def cached_provenance(name: str, count: int, seed: int) -> dict[str, Any]:
    """The provenance of the cached 64 px set (rendered and cached first when absent or
    damaged), reading the file's attributes only."""
    path = cache_path(name, count, 64, seed, None)
    if path.is_file():
        try:
            return read_rendered_provenance(path)
        except ValueError as err:
            logger.warning("rendering %s again: the cached file is damaged (%s)", name, err)
    return load_rendered(name, count, seed=seed, regenerate=True).provenance


def sample_path(name: str) -> Path:
    """The tiny sample of set `name` shipped with the package (48 frames, 64 px, seed 0)."""
    spec(name)
    return Path(str(resources.files("nrc.data") / "shipped" / "rendered" / f"{name}-sample.h5"))
