"""Damaged files: a truncated or overwritten HDF5, a corrupt metadata.json or parquet file is a
ValueError naming the file (user and shipped files); nrc's own rendered caches are rendered
again (tests/data/test_images_rendered.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

import nrc.data
from nrc.data.images.carla import load_carla
from nrc.data.mujoco import dataset
from nrc.data.mujoco.readers import read_d4rl, read_jat, read_minari
from tests.data.test_loaders import write_d4rl


def overwrite_first_chunk(path: Path, key: str) -> None:
    """Overwrite the first stored chunk of dataset `key` with garbage (the file stays openable)."""
    with h5py.File(path, "r") as f:
        info = f[key].id.get_chunk_info(0)
    with open(path, "r+b") as f:
        f.seek(info.byte_offset)
        f.write(b"\xff" * info.size)


def test_d4rl_with_a_damaged_block_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "hopper_expert-v2.hdf5"
    write_d4rl(path)
    data = {k: v[()] for k, v in h5py.File(path, "r").items()}
    with h5py.File(path, "w") as f:
        for key, value in data.items():
            f.create_dataset(key, data=value, chunks=True, compression="gzip")
    overwrite_first_chunk(path, "observations")
    with pytest.raises(ValueError, match=r"hopper_expert-v2\.hdf5: damaged HDF5 file"):
        read_d4rl(path)
    path.write_bytes(path.read_bytes()[:200])  # truncated
    with pytest.raises(ValueError, match=r"hopper_expert-v2\.hdf5 is not a readable HDF5 file"):
        nrc.data.load(f"d4rl:{path}")


def test_carla_with_a_damaged_block_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "data_00000.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset(
            "rgb", data=np.zeros((4, 8, 8, 3), np.uint8), chunks=True, compression="gzip"
        )
        f["targets"] = np.zeros((4, 28), dtype=np.float32)
    overwrite_first_chunk(path, "rgb")
    with pytest.raises(ValueError, match=r"data_00000\.h5: damaged HDF5 file"):
        load_carla(path)


def test_garbage_parquet_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "train-00000.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(ValueError, match=r"train-00000\.parquet: not a readable parquet file"):
        read_jat(tmp_path)


@pytest.fixture
def shipped_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the shipped Minari datasets that `nrc.data.load` reads instead of the package's."""
    root = tmp_path / "shipped"
    shutil.copytree(dataset.shipped_root(), root)
    monkeypatch.setattr(dataset, "shipped_root", lambda: root)
    return root


def test_shipped_dataset_with_corrupt_metadata_names_the_file(shipped_copy: Path) -> None:
    meta = shipped_copy / "reacher-expert-train-v0" / "data" / "metadata.json"
    meta.write_bytes(meta.read_bytes()[:100])
    for read in (nrc.data.load, nrc.data.provenance):
        with pytest.raises(
            ValueError, match=r"reacher-expert-train-v0/data/metadata\.json: not a valid JSON"
        ):
            read("reacher")
    meta.write_bytes(b"\xff\xfe binary")
    with pytest.raises(ValueError, match=r"metadata\.json: not a valid JSON file"):
        read_minari(meta.parent.parent)


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_shipped_dataset_with_a_damaged_hdf5_names_the_folder(
    shipped_copy: Path, damage: str
) -> None:
    data = shipped_copy / "hopper-expert-test-v0" / "data" / "main_data.hdf5"
    raw = data.read_bytes()
    data.write_bytes(b"\x00" * len(raw) if damage == "garbage" else raw[: len(raw) // 2])
    with pytest.raises(ValueError, match=r"hopper-expert-test-v0: damaged Minari"):
        nrc.data.load("hopper")


def test_collected_dataset_with_a_damaged_hdf5_names_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A collected dataset records what the user asked for only in files that may be the damaged
    ones, so it is not collected again: the error names it and `nrc data collect` rebuilds it."""
    from nrc.data.mujoco.collect import collect_dataset

    monkeypatch.setenv("NRC_DATA_DIR", str(tmp_path))
    paths = collect_dataset("reacher", "ik-pd", 2, 0, tmp_path / "minari", "mine")
    (paths["train"] / "data" / "main_data.hdf5").write_bytes(b"garbage")
    with pytest.raises(ValueError, match=r"mine-train-v0: damaged Minari"):
        nrc.data.load("mine")
