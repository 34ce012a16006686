"""Collection: deterministic rollouts, Minari round trip with provenance, atomic writes (§4)."""

from __future__ import annotations

import numpy as np
import pytest

from nrc.data.mujoco import collect
from nrc.data.mujoco.collect import collect_dataset, collect_episodes, episode_seed, write_dataset
from nrc.data.mujoco.envs import make_env
from nrc.data.mujoco.experts import ReacherController
from nrc.data.mujoco.readers import read_minari
from nrc.data.registry import MUJOCO, spec


class ZeroPolicy:
    """Zero torques: cheap and deterministic, for layout tests."""

    def __init__(self, dim: int) -> None:
        self.dim = dim

    def act(self, obs: np.ndarray) -> np.ndarray:
        return np.zeros(self.dim)


def test_same_seed_gives_identical_episodes_and_other_seeds_differ() -> None:
    a = collect_episodes("reacher", ReacherController(), seed=3, episodes=2)
    b = collect_episodes("reacher", ReacherController(), seed=3, episodes=2)
    c = collect_episodes("reacher", ReacherController(), seed=4, episodes=2)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x.observations, y.observations)
        np.testing.assert_array_equal(x.actions, y.actions)
    assert not np.array_equal(a[0].observations, c[0].observations)


def test_train_and_test_splits_use_different_reset_seeds() -> None:
    train = {episode_seed(0, "train", i) for i in range(50)}
    test = {episode_seed(0, "test", i) for i in range(50)}
    assert not train & test and len(train) == len(test) == 50


@pytest.mark.parametrize("name", MUJOCO)
def test_episode_layout_matches_the_paper_dims(name: str) -> None:
    task = spec(name)
    (episode,) = collect_episodes(name, ZeroPolicy(task.n), seed=0, episodes=1)
    assert episode.observations.shape == (len(episode) + 1, task.input_dim)
    assert episode.actions.shape == (len(episode), task.n)


def test_min_transitions_adds_episodes_until_reached() -> None:
    buffers = collect_episodes("reacher", ReacherController(), 0, episodes=1, min_transitions=120)
    assert len(buffers) == 3 and sum(len(b) for b in buffers) == 150


def test_write_then_read_returns_the_rollouts_and_provenance(tmp_path) -> None:
    buffers = collect_episodes("reacher", ReacherController(), seed=1, episodes=2)
    path = write_dataset(tmp_path, "r-v0", "reacher", buffers, {"policy": "ik-pd", "seed": 1})
    t = read_minari(path)
    np.testing.assert_array_equal(
        t.observations, np.concatenate([b.observations[:-1] for b in buffers])
    )
    np.testing.assert_array_equal(t.actions, np.concatenate([b.actions for b in buffers]))
    np.testing.assert_array_equal(t.episode, np.repeat([0, 1], 50))
    assert t.provenance["policy"] == "ik-pd" and t.provenance["dataset_id"] == "r-v0"


def test_interrupted_write_leaves_old_dataset_and_no_debris(tmp_path, monkeypatch) -> None:
    root = tmp_path / "root"
    buffers = collect_episodes("reacher", ReacherController(), seed=1, episodes=1)
    write_dataset(root, "r-v0", "reacher", buffers, {"run": "first"})

    def interrupted(self, episodes) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(type(hdf5_storage(tmp_path / "probe")), "update_episodes", interrupted)
    for dataset_id in ("r-v0", "new-v0"):
        with pytest.raises(KeyboardInterrupt):
            write_dataset(root, dataset_id, "reacher", buffers, {"run": "second"})
    assert [p.name for p in root.iterdir()] == ["r-v0"]
    assert read_minari(root / "r-v0").provenance["run"] == "first"


def hdf5_storage(folder):
    """A Minari HDF5 storage object, to reach its concrete class."""
    env = make_env("reacher")
    return collect.MinariStorage.new(
        folder, env.observation_space, env.action_space, data_format="hdf5"
    )


def test_collect_dataset_writes_train_and_a_fifth_as_test(tmp_path) -> None:
    paths = collect_dataset("reacher", "ik-pd", episodes=5, seed=0, root=tmp_path, prefix="r")
    train, test = read_minari(paths["train"]), read_minari(paths["test"])
    assert len(train) == 250 and len(test) == 50
    assert train.provenance["split"] == "train" and test.provenance["kp"] == 0.3
    assert {"mujoco", "gymnasium", "minari"} <= set(train.provenance["versions"])
