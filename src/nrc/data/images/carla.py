"""CARLA imitation-learning data (Codevilla et al. 2018; paper §4, App. A.2).

The released files (`CORL2017ImitationLearningData`, `SeqTrain/data_XXXXX.h5`) each hold `rgb`, a
uint8 (frames, 88, 200, 3) camera stream, and `targets`, float32 (frames, 28) measurements. Column 0
is the steering angle in [-1, 1] and column 10 the speed (km/h, about [0, 85]). CARLA 2D regresses
(speed, steering), CARLA 1D the speed alone (Table 1).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from nrc.data import files
from nrc.data.images.transforms import resize_images
from nrc.data.types import ImageSet, check_targets

logger = logging.getLogger(__name__)

STEERING_COLUMN = 0
SPEED_COLUMN = 10
VARIANTS: dict[str, tuple[tuple[str, int], ...]] = {
    "2d": (("speed", SPEED_COLUMN), ("steering", STEERING_COLUMN)),
    "1d": (("speed", SPEED_COLUMN),),
}


def carla_files(path: str | Path) -> list[Path]:
    """The HDF5 files at `path`: the file itself, or every *.h5 in the folder, sorted by name."""
    path = Path(path).expanduser()
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"CARLA data not found: {path} is neither an .h5 file nor a folder")
    files = sorted(path.glob("*.h5"))
    if not files:
        raise FileNotFoundError(f"CARLA folder {path} holds no .h5 files")
    return files


def read_carla_file(path: Path, columns: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(rgb frames uint8 N x H x W x 3, targets[:, columns] float32) of one CARLA HDF5 file."""
    with files.hdf5(path) as handle:
        missing = [key for key in ("rgb", "targets") if key not in handle]
        if missing:
            raise ValueError(f"{path}: missing dataset(s) {missing}; expected 'rgb' and 'targets'")
        rgb, targets = handle["rgb"], handle["targets"]
        if rgb.ndim != 4 or rgb.shape[3] != 3 or rgb.dtype != np.uint8:
            raise ValueError(
                f"{path}: 'rgb' must be uint8 (N, H, W, 3), got {rgb.dtype} {rgb.shape}"
            )
        if targets.ndim != 2 or targets.shape[1] <= max(columns):
            raise ValueError(
                f"{path}: 'targets' must be (N, >{max(columns)}) to hold columns {list(columns)},"
                f" got {targets.shape}"
            )
        if targets.shape[0] != rgb.shape[0]:
            raise ValueError(f"{path}: {rgb.shape[0]} frames but {targets.shape[0]} target rows")
        y = targets[()][:, list(columns)].astype(np.float32)
        check_targets(y, len(y), str(path))
        return rgb[()], y


def load_carla(
    path: str | Path,
    variant: str = "2d",
    limit: int | None = None,
    size: tuple[int, int] | None = None,
) -> ImageSet:
    """CARLA 2D (speed, steering) or 1D (speed) from a file or folder of the released HDF5 files.

    Files are read in name order; `limit` keeps the first `limit` frames (the Deep-NRC code used the
    first 50,000), `size` resizes the 88 x 200 frames as they are read.
    """
    if variant not in VARIANTS:
        raise ValueError(f"unknown CARLA variant {variant!r}; choose from {sorted(VARIANTS)}")
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit}")
    names, columns = zip(*VARIANTS[variant], strict=True)
    images, targets, used = [], [], []
    count = 0
    for file in carla_files(path):
        rgb, y = read_carla_file(file, columns)
        if limit is not None:
            rgb, y = rgb[: limit - count], y[: limit - count]
        images.append(resize_images(rgb, size) if size is not None and len(rgb) else rgb)
        targets.append(y)
        used.append(file.name)
        count += len(rgb)
        if limit is not None and count >= limit:
            break
    if len({im.shape[1:] for im in images}) > 1:
        raise ValueError(f"CARLA files under {path} have different frame sizes; pass size=(H, W)")
    logger.info("read %d CARLA frames from %d file(s) under %s", count, len(used), path)
    provenance = carla_provenance(path, variant, used, count, size)
    return ImageSet(
        f"carla-{variant}",
        np.concatenate(images),
        np.concatenate(targets),
        tuple(names),
        provenance,
    )


def carla_provenance(
    path: str | Path, variant: str, used: list[str], frames: int, size: tuple[int, int] | None
) -> dict[str, object]:
    """The provenance of `load_carla`: files and frames read, target columns, resizing."""
    return {
        "source": "CARLA imitation learning (Codevilla et al. 2018)",
        "path": str(Path(path).expanduser().resolve()),
        "files": used,
        "frames": frames,
        "target_columns": {name: column for name, column in VARIANTS[variant]},
        "resized_to": list(size) if size is not None else None,
    }


def carla_frames(path: str | Path, limit: int | None) -> tuple[list[str], int]:
    """(file names, frame count) that `load_carla(path, limit=limit)` reads, from the shapes of
    the files' `rgb` datasets alone (no pixels are read)."""
    used, count = [], 0
    for file in carla_files(path):
        with files.hdf5(file) as handle:
            if "rgb" not in handle:
                raise ValueError(
                    f"{file}: missing dataset(s) ['rgb']; expected 'rgb' and 'targets'"
                )
            frames = int(handle["rgb"].shape[0])
        if limit is not None:
            frames = min(frames, limit - count)
        used.append(file.name)
        count += frames
        if limit is not None and count >= limit:
            break
    return used, count
