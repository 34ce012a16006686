"""Atomic writes leave either the complete new file or the old one, never a partial file."""

from __future__ import annotations

import json
import stat

import pytest

from nrc.io import atomic_path, atomic_write, open_hdf5, write_json


def test_write_json_round_trip_and_mode(tmp_path) -> None:
    path = write_json(tmp_path / "sub" / "a.json", {"x": 1.5, "y": [1, 2]})
    assert json.loads(path.read_text()) == {"x": 1.5, "y": [1, 2]}
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_failed_write_leaves_old_file_and_no_temporary(tmp_path) -> None:
    target = tmp_path / "table.csv"
    target.write_text("old")

    def broken(tmp) -> None:
        tmp.write_text("half")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError, match="interrupted"):
        atomic_write(target, broken)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["table.csv"]


def test_temporary_keeps_the_suffix(tmp_path) -> None:
    with atomic_path(tmp_path / "x.npz") as tmp:
        assert tmp.suffix == ".npz" and tmp.parent == tmp_path
        tmp.write_bytes(b"data")
    assert (tmp_path / "x.npz").read_bytes() == b"data"


def test_open_hdf5_names_a_file_that_is_not_hdf5(tmp_path) -> None:
    bad = tmp_path / "broken.h5"
    bad.write_bytes(b"not an hdf5 file")
    with pytest.raises(ValueError, match=r"broken.h5 is not a readable HDF5 file"):
        open_hdf5(bad)
