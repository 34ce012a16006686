"""Readers of the original formats on small fixture files written here (paper §4, App. A.1)."""

from __future__ import annotations

import h5py
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from nrc.data.mujoco.readers import read_d4rl, read_jat, read_minari, read_source


def write_d4rl(path, lengths=(3, 2), obs_dim=4, act_dim=2, **override) -> dict:
    """A D4RL-style file with episodes of the given lengths; returns the arrays written."""
    n = sum(lengths)
    rng = np.random.default_rng(0)
    ends = np.cumsum(lengths) - 1
    data = {
        "observations": rng.normal(size=(n, obs_dim)).astype(np.float32),
        "actions": rng.uniform(-1, 1, size=(n, act_dim)).astype(np.float32),
        "rewards": rng.normal(size=n).astype(np.float32),
        "terminals": np.isin(np.arange(n), ends[:-1]),
        "timeouts": np.arange(n) == ends[-1],
    }
    data |= override
    with h5py.File(path, "w") as f:
        for key, value in data.items():
            if value is not None:
                f[key] = value
    return data


def test_d4rl_reader_splits_episodes_at_terminals_and_timeouts(tmp_path) -> None:
    data = write_d4rl(tmp_path / "hopper.hdf5")
    t = read_d4rl(tmp_path / "hopper.hdf5")
    np.testing.assert_array_equal(t.observations, data["observations"].astype(np.float64))
    np.testing.assert_array_equal(t.actions, data["actions"].astype(np.float64))
    np.testing.assert_array_equal(t.episode, [0, 0, 0, 1, 1])
    assert t.episodes() == 2 and t.provenance["format"] == "d4rl"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"timeouts": None}, r"missing D4RL field\(s\) \['timeouts'\]"),
        ({"rewards": np.zeros(4, dtype=np.float32)}, "differ in length"),
    ],
)
def test_d4rl_reader_rejects_bad_files(tmp_path, override, message) -> None:
    write_d4rl(tmp_path / "bad.hdf5", **override)
    with pytest.raises(ValueError, match=message) as info:
        read_d4rl(tmp_path / "bad.hdf5")
    assert "bad.hdf5" in str(info.value)


def test_d4rl_reader_names_the_first_nan_row(tmp_path) -> None:
    obs = np.ones((5, 4), dtype=np.float32)
    obs[3, 1] = np.nan
    write_d4rl(tmp_path / "nan.hdf5", observations=obs)
    with pytest.raises(ValueError, match=r"nan\.hdf5: 'observations' has 1 rows .*row 3"):
        read_d4rl(tmp_path / "nan.hdf5")


def test_missing_files_say_where_and_how(tmp_path, monkeypatch) -> None:
    with pytest.raises(FileNotFoundError, match=r"hopper-expert-v2\.hdf5.*download"):
        read_d4rl(tmp_path / "hopper-expert-v2.hdf5")
    with pytest.raises(FileNotFoundError, match=r"no JAT parquet file .*huggingface-cli"):
        read_jat(tmp_path / "mujoco-swimmer")
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    with pytest.raises(FileNotFoundError, match=r"mujoco/hopper/expert-v0.*minari download"):
        read_minari("mujoco/hopper/expert-v0")


def jat_table(episodes: list[tuple[int, int, int]], obs_dim=3, act_dim=2) -> pa.Table:
    """A JAT-style table: per row, (T_obs, T_act, T_rew) steps."""
    rng = np.random.default_rng(1)
    return pa.table(
        {
            "continuous_observations": [
                rng.normal(size=(t, obs_dim)).tolist() for t, _, _ in episodes
            ],
            "continuous_actions": [rng.normal(size=(t, act_dim)).tolist() for _, t, _ in episodes],
            "rewards": [rng.normal(size=t).tolist() for _, _, t in episodes],
        }
    )


def test_jat_reader_concatenates_shards_in_name_order(tmp_path) -> None:
    first, second = jat_table([(4, 4, 4), (2, 2, 2)]), jat_table([(3, 3, 3)])
    pq.write_table(second, tmp_path / "train-00001.parquet")
    pq.write_table(first, tmp_path / "train-00000.parquet")
    t = read_jat(tmp_path)
    assert t.observations.shape == (9, 3) and t.actions.shape == (9, 2)
    np.testing.assert_array_equal(t.episode, [0] * 4 + [1] * 2 + [2] * 3)
    expected = np.array(first.column("continuous_observations").to_pylist()[0])
    np.testing.assert_array_equal(t.observations[:4], expected)
    assert t.provenance["files"] == ["train-00000.parquet", "train-00001.parquet"]


def test_jat_reader_rejects_length_mismatch_missing_column_and_ragged_rows(tmp_path) -> None:
    pq.write_table(jat_table([(4, 3, 4)]), tmp_path / "a.parquet")
    with pytest.raises(ValueError, match=r"a\.parquet: row 0 has 4 observations, 3 actions"):
        read_jat(tmp_path / "a.parquet")
    pq.write_table(jat_table([(2, 2, 2)]).drop(["rewards"]), tmp_path / "b.parquet")
    with pytest.raises(ValueError, match=r"b\.parquet: missing JAT column\(s\) \['rewards'\]"):
        read_jat(tmp_path / "b.parquet")
    ragged = pa.table(
        {
            "continuous_observations": [[[0.0, 1.0], [2.0]]],
            "continuous_actions": [[[0.0], [1.0]]],
            "rewards": [[0.0, 1.0]],
        }
    )
    pq.write_table(ragged, tmp_path / "c.parquet")
    with pytest.raises(ValueError, match=r"c\.parquet: 'continuous_observations' in row 0"):
        read_jat(tmp_path / "c.parquet")


def test_minari_reader_finds_ids_under_minari_datasets_path(tmp_path, monkeypatch) -> None:
    from nrc.data.mujoco.collect import collect_episodes, write_dataset
    from nrc.data.mujoco.experts import ReacherController

    buffers = collect_episodes("reacher", ReacherController(), seed=0, episodes=1)
    write_dataset(tmp_path, "reacher-x-v0", "reacher", buffers, {"policy": "ik-pd"})
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path))
    t = read_source("minari:reacher-x-v0")
    assert t.observations.shape == (50, 11) and t.provenance["policy"] == "ik-pd"


def test_read_source_rejects_unknown_kinds() -> None:
    with pytest.raises(ValueError, match="KIND:LOCATION"):
        read_source("parquet:/x")
    with pytest.raises(ValueError, match="KIND:LOCATION"):
        read_source("hopper")


def test_d4rl_reader_names_a_corrupt_file(tmp_path) -> None:
    path = tmp_path / "hopper-expert-v2.hdf5"
    path.write_bytes(b"\x00" * 64)
    with pytest.raises(ValueError, match=r"hopper-expert-v2.hdf5 is not a readable HDF5 file"):
        read_d4rl(path)
