"""Readers for the paper's original MuJoCo data and for our Minari datasets (paper §4, App. A.1).

Formats: D4RL HDF5 (hopper-expert-v2 …), JAT parquet shards (jat-project/jat-dataset, one row per
episode) and Minari datasets. Nothing is ever downloaded: a missing file raises FileNotFoundError
saying where we looked and how to get it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nrc.data import files
from nrc.data.types import Transitions

if TYPE_CHECKING:
    import minari
    from minari.dataset.episode_data import EpisodeData

D4RL_KEYS = ("observations", "actions", "rewards", "terminals", "timeouts")
JAT_COLUMNS = ("continuous_observations", "continuous_actions", "rewards")


def checked(t: Transitions) -> Transitions:
    """`t` after checking shapes, lengths and finiteness; ValueError names the source and field."""
    fields = {"observations": 2, "actions": 2, "rewards": 1, "episode": 1}
    for name, ndim in fields.items():
        value = getattr(t, name)
        if value.ndim != ndim:
            raise ValueError(f"{t.source}: '{name}' must be {ndim}-D, got shape {value.shape}")
        if len(value) != len(t.actions):
            raise ValueError(
                f"{t.source}: '{name}' has {len(value)} rows but 'actions' has {len(t.actions)}"
            )
    if len(t) == 0:
        raise ValueError(f"{t.source}: no transitions")
    for name in ("observations", "actions", "rewards"):
        value = getattr(t, name)
        bad = ~np.isfinite(value.reshape(len(value), -1)).all(axis=1)
        if bad.any():
            rows = np.flatnonzero(bad)
            raise ValueError(
                f"{t.source}: '{name}' has {len(rows)} rows with NaN/Inf (first: row {rows[0]})"
            )
    return t


def from_episodes(
    obs: list[np.ndarray],
    act: list[np.ndarray],
    rew: list[np.ndarray],
    episode: list[np.ndarray],
    source: str,
    provenance: dict,
) -> Transitions:
    """Checked `Transitions` from per-episode arrays (observations, actions, rewards, index)."""
    return checked(
        Transitions(
            observations=np.concatenate(obs),
            actions=np.concatenate(act),
            rewards=np.concatenate(rew),
            episode=np.concatenate(episode),
            source=source,
            provenance=provenance,
        )
    )


def read_d4rl(path: str | Path) -> Transitions:
    """A D4RL HDF5 file (e.g. hopper-expert-v2.hdf5); episodes end at `terminals | timeouts`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"D4RL file {path} does not exist; download it on a machine with internet, e.g. "
            "http://rail.eecs.berkeley.edu/datasets/offline_rl/gym_mujoco_v2/"
            "hopper_expert-v2.hdf5, and pass its path"
        )
    with files.hdf5(path) as f:
        missing = [key for key in D4RL_KEYS if key not in f]
        if missing:
            raise ValueError(f"{path}: missing D4RL field(s) {missing}")
        data = {key: np.asarray(f[key]) for key in D4RL_KEYS}
    lengths = {key: len(value) for key, value in data.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"{path}: D4RL fields differ in length: {lengths}")
    ends = data["terminals"].astype(bool) | data["timeouts"].astype(bool)
    episode = np.concatenate([[0], np.cumsum(ends[:-1])]).astype(np.int64)
    return checked(
        Transitions(
            observations=data["observations"].astype(np.float64),
            actions=data["actions"].astype(np.float64),
            rewards=data["rewards"].astype(np.float64),
            episode=episode,
            source=str(path),
            provenance={"format": "d4rl", "path": str(path)},
        )
    )


def read_jat(path: str | Path) -> Transitions:
    """JAT parquet shards: a .parquet file or a folder of them (read in name order)."""
    path = Path(path)
    shards = sorted(path.glob("*.parquet")) if path.is_dir() else [path]
    if not path.exists() or not shards:
        raise FileNotFoundError(
            f"no JAT parquet file at {path}; get the shards on a machine with internet, e.g. "
            "`huggingface-cli download jat-project/jat-dataset --repo-type dataset "
            "--include 'mujoco-swimmer/*'`, and pass the file or folder"
        )
    obs, act, rew, episode = [], [], [], []
    for file in shards:
        table = files.parquet(file)
        missing = [c for c in JAT_COLUMNS if c not in table.column_names]
        if missing:
            raise ValueError(f"{file}: missing JAT column(s) {missing}")
        columns = {c: table.column(c).to_pylist() for c in JAT_COLUMNS}
        for row, (o, a, r) in enumerate(zip(*columns.values(), strict=True)):
            if not len(o) == len(a) == len(r):
                raise ValueError(
                    f"{file}: row {row} has {len(o)} observations, {len(a)} actions, "
                    f"{len(r)} rewards"
                )
            obs.append(ragged_check(o, file, "continuous_observations", row))
            act.append(ragged_check(a, file, "continuous_actions", row))
            rew.append(np.asarray(r, dtype=np.float64))
            episode.append(np.full(len(r), len(episode), dtype=np.int64))
    dims = {
        name: {x.shape[1:] for x in xs} for name, xs in (("observations", obs), ("actions", act))
    }
    for name, shapes in dims.items():
        if len(shapes) > 1:
            raise ValueError(f"{path}: episodes disagree on the width of '{name}': {shapes}")
    provenance = {"format": "jat", "path": str(path), "files": [f.name for f in shards]}
    return from_episodes(obs, act, rew, episode, str(path), provenance)


def ragged_check(rows: list, file: Path, column: str, row: int) -> np.ndarray:
    """One episode's list of vectors as a 2-D array; ValueError if the vectors differ in length."""
    widths = {len(v) for v in rows}
    if len(widths) > 1:
        raise ValueError(f"{file}: '{column}' in row {row} mixes vector lengths {sorted(widths)}")
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), -1)


def minari_root() -> Path:
    """Minari's local dataset folder: $MINARI_DATASETS_PATH or ~/.minari/datasets."""
    default = Path.home() / ".minari" / "datasets"
    return Path(os.environ.get("MINARI_DATASETS_PATH", default)).expanduser()


def minari_folder(dataset: str | Path) -> Path:
    """The folder of a local Minari dataset (a folder, or an id under `minari_root()`);
    FileNotFoundError saying where it looked and how to get the dataset otherwise."""
    folder = Path(dataset)
    if not (folder / "data").is_dir():
        folder = minari_root() / str(dataset)
    if not (folder / "data" / "metadata.json").is_file():
        raise FileNotFoundError(
            f"Minari dataset {dataset!r} not found (looked in {Path(dataset)} and {folder}); "
            f"set MINARI_DATASETS_PATH, run `minari download {dataset}` on a machine with "
            "internet, or create it with `nrc data collect`"
        )
    return folder


def minari_provenance(folder: Path) -> tuple[dict[str, Any], int]:
    """(provenance, number of transitions) of the Minari dataset in `folder`, from its
    metadata.json alone: our provenance (`nrc_provenance`) with the format, id and path."""
    path = folder / "data" / "metadata.json"
    metadata = files.read_json(path)
    if not isinstance(metadata, dict) or not isinstance(metadata.get("total_steps"), int):
        raise ValueError(f"{path}: not Minari metadata (no integer 'total_steps')")
    provenance = dict(metadata.get("nrc_provenance", {}))
    provenance |= {
        "format": "minari",
        "dataset_id": metadata.get("dataset_id"),
        "path": str(folder),
    }
    return provenance, metadata["total_steps"]


def read_minari(dataset: str | Path) -> Transitions:
    """A local Minari dataset: a dataset folder, or an id under `minari_root()`.

    States are the observations at which each action was taken (the last observation of each
    episode has no action and is dropped).
    """
    folder = minari_folder(dataset)
    provenance, _ = minari_provenance(folder)
    data = files.minari_dataset(folder)
    obs, act, rew, episode = [], [], [], []
    for i, ep in enumerate(episodes(data, folder)):
        if len(ep.observations) != len(ep.actions) + 1:
            raise ValueError(
                f"{folder}: episode {ep.id} has {len(ep.observations)} observations for "
                f"{len(ep.actions)} actions (expected one more)"
            )
        obs.append(np.asarray(ep.observations[:-1], dtype=np.float64))
        act.append(np.asarray(ep.actions, dtype=np.float64).reshape(len(ep.actions), -1))
        rew.append(np.asarray(ep.rewards, dtype=np.float64))
        episode.append(np.full(len(ep.actions), i, dtype=np.int64))
    if not act:
        raise ValueError(f"{folder}: the Minari dataset has no episodes")
    return from_episodes(obs, act, rew, episode, str(folder), provenance)


def episodes(data: minari.MinariDataset, folder: Path) -> Iterator[EpisodeData]:
    """The episodes of a Minari dataset in order; a damaged data file is a ValueError naming it."""
    try:
        yield from data.iterate_episodes()
    except (OSError, KeyError) as err:
        raise ValueError(f"{folder}: damaged Minari data file: {err}") from err


READERS = {"d4rl": read_d4rl, "jat": read_jat, "minari": read_minari}


def read_source(spec: str) -> Transitions:
    """Transitions from "d4rl:PATH", "jat:PATH" or "minari:ID_OR_PATH"."""
    kind, sep, location = spec.partition(":")
    if not sep or kind not in READERS or not location:
        raise ValueError(
            f"data source {spec!r} must look like KIND:LOCATION, KIND in {list(READERS)}"
        )
    return READERS[kind](location)
