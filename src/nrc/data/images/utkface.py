"""UTKFace age regression (Zhang et al. 2017; paper §4, App. A.2).

A folder of face images named `[age]_[gender]_[race]_[date&time].jpg` (the aligned-and-cropped
release appends `.chip.jpg`); the target is the age, 0-116. A handful of files in the public
release lack a field; they are an error unless `skip_unparsable=True`, which drops and lists them.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np

from nrc.data import files
from nrc.data.types import ImageSet

logger = logging.getLogger(__name__)

NAME_PATTERN = re.compile(
    r"^(?P<age>\d{1,3})_(?P<gender>[01])_(?P<race>[0-4])_(?P<date>\d{8,17})\S*\.jpg$"
)
MAX_AGE = 116


def parse_age(filename: str) -> int:
    """The age encoded in a UTKFace file name; ValueError naming the file if it does not parse."""
    match = NAME_PATTERN.match(filename)
    if match is None:
        raise ValueError(f"UTKFace file name {filename!r} is not age_gender_race_date*.jpg")
    age = int(match["age"])
    if age > MAX_AGE:
        raise ValueError(f"UTKFace file name {filename!r}: age {age} is above {MAX_AGE}")
    return age


def utkface_listing(
    folder: Path, limit: int | None, skip_unparsable: bool
) -> tuple[list[Path], list[int], list[str]]:
    """(files kept, their ages, names skipped as unparsable) of a UTKFace folder, in name order,
    from the file names alone."""
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".jpg")
    if not paths:
        raise FileNotFoundError(f"UTKFace folder {folder} holds no .jpg files")
    ages: list[int] = []
    kept: list[Path] = []
    skipped: list[str] = []
    for path in paths:
        try:
            ages.append(parse_age(path.name))
        except ValueError:
            if not skip_unparsable:
                raise
            skipped.append(path.name)
            continue
        kept.append(path)
        if limit is not None and len(kept) == limit:
            break
    if skipped:
        logger.warning("skipped %d UTKFace files with unparsable names: %s", len(skipped), skipped)
    if not kept:
        raise ValueError(f"no UTKFace file in {folder} has a parsable name")
    return kept, ages, skipped


def utkface_provenance(folder: Path, images: int, size: int, skipped: list[str]) -> dict:
    """The provenance of `load_utkface`."""
    return {
        "source": "UTKFace (Zhang et al. 2017)",
        "path": str(folder.resolve()),
        "images": images,
        "size": size,
        "skipped_unparsable": skipped,
    }


def checked_folder(folder: str | Path, size: int, limit: int | None) -> Path:
    """`folder` as a Path after checking it and the arguments of `load_utkface`."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(f"UTKFace folder not found: {folder}")
    if size < 1 or (limit is not None and limit < 1):
        raise ValueError(f"size and limit must be >= 1, got size={size}, limit={limit}")
    return folder


def load_utkface(
    folder: str | Path,
    size: int = 64,
    limit: int | None = None,
    skip_unparsable: bool = False,
) -> ImageSet:
    """UTKFace images (resized to size x size) with the age as the single target, in name order."""
    folder = checked_folder(folder, size, limit)
    kept, ages, skipped = utkface_listing(folder, limit, skip_unparsable)
    images = np.stack([files.picture(path, size) for path in kept])
    provenance = utkface_provenance(folder, len(kept), size, skipped)
    targets = np.asarray(ages, dtype=np.float32)[:, None]
    return ImageSet("utkface", images, targets, ("age",), provenance)
