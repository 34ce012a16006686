"""Image regression sets rendered offline with MuJoCo: offline analogues of CARLA and UTKFace (§4).

The paper's image datasets (CARLA 2D/1D, UTKFace; Table 1) are large downloads. These sets are made
on this machine instead: rollouts of the MuJoCo tasks are rendered by MuJoCo's own offscreen
renderer (`MUJOCO_GL=egl`, notes §6) from a fixed camera, and the targets are simulator quantities
that the picture determines:

- `reacher-fingertip` (n = 2, analogue of CARLA 2D): the fingertip's (x, y) in the arena plane,
  seen from above; rollouts of the inverse-kinematics + PD Reacher expert (`nrc.data.experts`).
- `hopper-height` (n = 1, analogue of CARLA 1D / UTKFace): the torso's height, seen from the side
  by a camera that does not follow the robot; rollouts of a PD controller tracking a sine reference
  with per-episode random amplitudes and phases (`SinePD`), the hopper allowed to fall, so that
  standing, crouching, tipping and lying poses all occur.

`generate` is deterministic for a seed; `load_rendered` caches the result as HDF5 under
$NRC_DATA_DIR/rendered with its provenance. Command line:
`python -m nrc.data.rendered reacher-fingertip --count 10000 --size 64 --seed 0`.
"""

from __future__ import annotations

import os

# MuJoCo chooses its OpenGL backend when it is first imported; EGL renders without a display.
os.environ.setdefault("MUJOCO_GL", "egl")

import argparse
import json
import logging
import sys
import tempfile
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

from nrc.data.envs import data_dir, task
from nrc.data.experts import Policy, load_policy
from nrc.data.images import ImageSet
from nrc.io import open_hdf5

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
    env = gym.make(task(cfg.task).env_id, **cfg.env_kwargs)
    model, data = env.unwrapped.model, env.unwrapped.data
    renderer = mujoco.Renderer(model, height=size, width=size)
    # Shadows and reflections off: 170-430 frames/s instead of a few dozen (notes §6).
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
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".h5.tmp")
    os.close(fd)
    try:
        with h5py.File(tmp, "w") as f:
            chunk = (min(len(data), 256), *data.images.shape[1:])
            f.create_dataset("images", data=data.images, chunks=chunk, compression="gzip")
            f["targets"] = data.targets
            for key, value in data.extras.items():
                f[f"extras/{key}"] = value
            f.attrs["name"] = data.name
            f.attrs["target_names"] = json.dumps(list(data.target_names))
            f.attrs["provenance"] = json.dumps(data.provenance, sort_keys=True)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; the cache and the shipped samples are shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_rendered(path: str | Path) -> ImageSet:
    """An ImageSet written by `write_rendered`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"rendered dataset not found: {path}")
    with open_hdf5(path) as handle:
        missing = [k for k in ("images", "targets") if k not in handle]
        missing += [k for k in ("name", "target_names", "provenance") if k not in handle.attrs]
        if missing:
            raise ValueError(f"{path}: not a rendered dataset, missing {missing}")
        extras = {key: value[()] for key, value in handle.get("extras", {}).items()}
        return ImageSet(
            str(handle.attrs["name"]),
            handle["images"][()],
            handle["targets"][()],
            tuple(json.loads(handle.attrs["target_names"])),
            json.loads(handle.attrs["provenance"]),
            extras,
        )


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
    """The rendered set from the cache, generating and caching it first if absent."""
    path = cache_path(name, count, size, seed, policy, root)
    if path.is_file() and not regenerate:
        return read_rendered(path)
    data = generate(name, count, size, seed, policy)
    write_rendered(data, path)
    logger.info("cached %s at %s", name, path)
    return data


def sample_path(name: str) -> Path:
    """The tiny sample of set `name` shipped with the package (48 frames, 64 px, seed 0)."""
    spec(name)
    return Path(str(resources.files("nrc.data") / "shipped" / "rendered" / f"{name}-sample.h5"))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of the render command (shared by `main` and a `nrc data render` hook)."""
    parser.add_argument("name", choices=sorted(RENDERED))
    parser.add_argument("--count", type=int, default=10_000, help="number of frames")
    parser.add_argument("--size", type=int, default=64, help="image side in pixels")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--policy", help="'ik-pd', 'sine-pd', 'expert' or an .npz policy")
    parser.add_argument("--out", type=Path, help="folder (default: $NRC_DATA_DIR/rendered)")
    parser.add_argument("--regenerate", action="store_true", help="ignore a cached file")
    parser.set_defaults(func=render_cmd)


def render_cmd(args: argparse.Namespace) -> int:
    """Generate (or find cached) one rendered set and print where it is."""
    data = load_rendered(
        args.name, args.count, args.size, args.seed, args.policy, args.out, args.regenerate
    )
    path = cache_path(args.name, args.count, args.size, args.seed, args.policy, args.out)
    print(f"{path}: {len(data)} images {data.images.shape[1:3]}, targets {data.target_names}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m nrc.data.rendered NAME [--count N] [--size PX] [--seed S] [--policy P]`."""
    parser = argparse.ArgumentParser(prog="python -m nrc.data.rendered", description=__doc__)
    add_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        return render_cmd(args)
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
