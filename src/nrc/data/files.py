"""Every read of a dataset's files, one function per file kind: HDF5 (`hdf5`: rendered caches,
CARLA, D4RL, shipped samples), JSON (`read_json`: Minari metadata), Minari datasets
(`minari_dataset`), parquet (`parquet`: JAT) and pictures (`picture`: UTKFace).

Each turns a damaged file into a ValueError naming the file and what is wrong. The readers of the
package call these through the module (`files.hdf5(path)`), so patching one of them here counts
or intercepts every read of that kind (docs/datasets.md, "Reading files").
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nrc import io

if TYPE_CHECKING:
    import h5py
    import minari
    import pyarrow as pa


@contextmanager
def hdf5(path: str | Path) -> Iterator[h5py.File]:
    """`path` open read-only as HDF5 (`nrc.io.open_hdf5`); an HDF5 error while it is read (a
    truncated or overwritten block, a corrupt compressed chunk) becomes a ValueError naming it."""
    handle = io.open_hdf5(path)
    try:
        with handle:
            yield handle
    except OSError as err:
        raise ValueError(f"{path}: damaged HDF5 file, reading it failed: {err}") from err


def read_json(path: str | Path) -> Any:
    """The JSON document in `path`; ValueError naming the file if it is not valid UTF-8 JSON."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: not a valid JSON file: {err}") from err


def minari_dataset(folder: Path) -> minari.MinariDataset:
    """The Minari dataset in `folder` (its `data/` holds metadata.json and the episodes), opened
    with Minari's own storage; a damaged metadata.json or data file is a ValueError naming it."""
    import minari  # imported here: minari pulls in gymnasium
    from minari.dataset.minari_storage import MinariStorage

    try:
        return minari.MinariDataset(MinariStorage.read(folder / "data"))
    except (OSError, KeyError, AssertionError, ValueError) as err:
        raise ValueError(f"{folder}: damaged Minari dataset: {err}") from err


def parquet(path: Path) -> pa.Table:
    """The parquet table in `path`; ValueError naming the file if it is not readable parquet."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.read_table(path)
    except (OSError, pa.ArrowException) as err:
        raise ValueError(f"{path}: not a readable parquet file: {err}") from err


def picture(path: Path, size: int) -> np.ndarray:
    """One picture as uint8 (size, size, 3) RGB, bilinear resize; ValueError if undecodable."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            rgb = image.convert("RGB")
            if rgb.size != (size, size):
                rgb = rgb.resize((size, size), Image.Resampling.BILINEAR)
            return np.asarray(rgb, dtype=np.uint8)
    except (UnidentifiedImageError, OSError) as err:
        raise ValueError(f"corrupt or unreadable image {path}: {err}") from err
