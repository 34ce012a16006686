"""The regression view: shipped paper-sized sets, the subset rule, held-out episodes (§4, A.1)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import nrc.data
from nrc.data.mujoco.dataset import check_dims, shipped_root, split_last_episodes
from nrc.data.mujoco.readers import read_minari
from nrc.data.registry import MUJOCO, spec
from nrc.data.types import Transitions


@pytest.mark.parametrize("name", MUJOCO)
def test_shipped_sets_have_the_paper_sizes_dims_and_provenance(name: str) -> None:
    task = spec(name)
    data = nrc.data.load(name)
    assert data.x_train.shape == (task.train_size, task.input_dim)
    assert data.y_train.shape == (task.train_size, task.n)
    assert data.x_test.shape == (task.train_size // 5, task.input_dim)
    assert data.y_test.shape == (task.train_size // 5, task.n)
    assert data.x_train.dtype == torch.float32
    assert data.provenance["train"]["env_id"] == task.env_id
    assert data.provenance["train"]["split"] == "train"
    assert data.provenance["test"]["split"] == "test"
    assert data.provenance["train"]["episodes"] >= task.train_episodes
    assert nrc.data.provenance(name) == data.provenance  # from metadata.json alone


def test_first_subset_is_the_first_transitions_of_the_training_file() -> None:
    raw = read_minari(shipped_root() / "reacher-expert-train-v0")
    data = nrc.data.load("reacher", train_size=120, test_size=30)
    np.testing.assert_array_equal(data.x_train.numpy(), raw.observations[:120].astype(np.float32))
    np.testing.assert_array_equal(data.y_train.numpy(), raw.actions[:120].astype(np.float32))
    assert data.x_test.shape == (30, 11)


def test_random_subset_is_seeded_and_drawn_from_the_data() -> None:
    raw = read_minari(shipped_root() / "reacher-expert-train-v0")
    a = nrc.data.load("reacher", train_size=100, subset="random", seed=5)
    b = nrc.data.load("reacher", train_size=100, subset="random", seed=5)
    c = nrc.data.load("reacher", train_size=100, subset="random", seed=6)
    torch.testing.assert_close(a.x_train, b.x_train, rtol=0, atol=0)
    assert not torch.equal(a.x_train, c.x_train)
    rows = {tuple(r) for r in raw.observations.astype(np.float32).tolist()}
    assert all(tuple(r) in rows for r in a.x_train.tolist())
    assert len({tuple(r) for r in a.x_train.tolist()}) == 100


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"train_size": 1001}, "train_size = 1001 exceeds the 1000 rows"),
        ({"train_size": 0}, "train_size must be a positive integer, got 0"),
        ({"test_size": 10_000}, "test_size = 10000 exceeds"),
        ({"subset": "last"}, "subset must be"),
    ],
)
def test_bad_sizes_and_subsets_are_rejected(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        nrc.data.load("reacher", **kwargs)


def transitions(episode_lengths: list[int], obs_dim: int = 11, act_dim: int = 3) -> Transitions:
    """Constant-free fake transitions with the given episode lengths."""
    n = sum(episode_lengths)
    rng = np.random.default_rng(0)
    return Transitions(
        observations=rng.normal(size=(n, obs_dim)),
        actions=rng.normal(size=(n, act_dim)),
        rewards=np.zeros(n),
        episode=np.repeat(np.arange(len(episode_lengths)), episode_lengths),
        source="fake.hdf5",
    )


def test_held_out_episodes_are_whole_separate_and_at_least_a_fifth() -> None:
    train, test = split_last_episodes(transitions([30, 30, 30, 5, 5]))
    assert set(np.unique(test.episode)) == {2, 3, 4}
    assert set(np.unique(train.episode)) == {0, 1}
    with pytest.raises(ValueError, match="fake.hdf5: 1 episode"):
        split_last_episodes(transitions([40]))


def test_wrong_dims_for_a_paper_task_name_the_file_and_field() -> None:
    with pytest.raises(ValueError, match=r"fake\.hdf5: 'observations' has 10 columns"):
        check_dims(transitions([5], obs_dim=10), "hopper")
    with pytest.raises(ValueError, match=r"fake\.hdf5: 'actions' has 3 columns"):
        check_dims(transitions([5], obs_dim=11), "reacher")


def test_d4rl_source_holds_out_its_last_episodes(tmp_path) -> None:
    from tests.data.test_loaders import write_d4rl

    write_d4rl(tmp_path / "h.hdf5", lengths=(20, 20, 10), obs_dim=11, act_dim=3)
    data = nrc.data.load(f"d4rl:{tmp_path / 'h.hdf5'}")
    assert data.x_train.shape == (40, 11) and data.x_test.shape == (8, 11)
    assert nrc.data.provenance(f"d4rl:{tmp_path / 'h.hdf5'}") == data.provenance
    data = nrc.data.load(f"d4rl:{tmp_path / 'h.hdf5'}", test=f"d4rl:{tmp_path / 'h.hdf5'}")
    assert data.x_train.shape == (50, 11) and data.x_test.shape == (10, 11)


def test_unknown_collected_prefix_says_where_it_looked(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("NRC_DATA_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"hopper-big-train-v0.*nrc data collect"):
        nrc.data.load("hopper-big")
