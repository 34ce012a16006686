"""The image sets as regression data (paper §4.2, App. A.2): the rendered MuJoCo sets, CARLA 2D /
1D and UTKFace behind `nrc.data.load`, as float32 NCHW tensors (64 x 64 by default).

- "reacher-fingertip", "hopper-height": rendered (`nrc.data.images.rendered`) and cached; training
  frames from the seed-0 rollouts, test frames from separate seed-1 rollouts.
- "carla-2d", "carla-1d": $NRC_DATA_DIR/carla/SeqTrain and SeqVal (the released folders), the
  first 50,000 training frames by default.
- "utkface": $NRC_DATA_DIR/utkface, a seeded 80/20 split (seed 0) of the images.

The test size defaults to 20 % of the training size, as for the MuJoCo sets.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch

from nrc.data.images import rendered
from nrc.data.images.carla import carla_frames, carla_provenance, load_carla
from nrc.data.images.transforms import IMAGENET_MEAN, IMAGENET_STD, images_to_tensor, resize_images
from nrc.data.images.utkface import (
    checked_folder,
    load_utkface,
    utkface_listing,
    utkface_provenance,
)
from nrc.data.registry import DatasetSpec, data_dir, spec
from nrc.data.subsets import split_indices, subset_rows
from nrc.data.types import ImageSet, RegressionData, Request

SIZE = 64  # pixels of the images as read (before `image_size`)


def folder(name: str) -> Path:
    """Where the released files of CARLA or UTKFace are looked for."""
    return data_dir() / str(spec(name).folder)


def cache_counts(s: DatasetSpec, request: Request) -> tuple[int, int]:
    """Frames of a rendered set to render and cache for training and test: what the request
    uses, the registry's counts by default (generation is sequential, so fewer is a prefix)."""
    train, test = s.cached or (0, 0)
    n_train = request.train_size or train
    return n_train, request.test_size or (s.test_size(n_train) if request.train_size else test)


def carla_limits(s: DatasetSpec, request: Request) -> tuple[int, int]:
    """Frames of CARLA to read for training (the registry's default) and test (20 % of it)."""
    n_train = request.train_size or int(s.train_size or 0)
    return n_train, request.test_size or s.test_size(n_train)


def train_test(request: Request) -> tuple[ImageSet, ImageSet]:
    """Training and test `ImageSet`s of an image dataset, before subsetting."""
    s = spec(request.name)
    if s.files == "generated":
        n_train, n_test = cache_counts(s, request)
        # Test frames come from separate rollouts (data seed 1), as the paper's separate test data.
        return (
            rendered.load_rendered(s.name, n_train, seed=0),
            rendered.load_rendered(s.name, n_test, seed=1),
        )
    if s.folder == "carla":
        variant = s.name.removeprefix("carla-")
        n_train, n_test = carla_limits(s, request)
        root = folder(s.name)
        return (
            load_carla(root / "SeqTrain", variant, limit=n_train, size=(SIZE, SIZE)),
            load_carla(root / "SeqVal", variant, limit=n_test, size=(SIZE, SIZE)),
        )
    faces = load_utkface(folder(s.name), size=SIZE, skip_unparsable=True)
    train, test = split_indices(len(faces), 0.2, seed=0)
    return faces.subset(train), faces.subset(test)


def sizes(request: Request, train_count: int, test_count: int) -> tuple[int, int]:
    """(training, test) sizes: all the training rows by default, the test 20 % of that."""
    n_train = request.train_size if request.train_size is not None else train_count
    n_test = request.test_size
    if n_test is None:
        n_test = min(test_count, max(n_train // 5, 1))
    return n_train, n_test


def pixels(normalization: str) -> str:
    """The provenance's description of the pixel values."""
    scale = "ImageNet-standardised" if normalization == "imagenet" else "in [0, 1]"
    return f"float32, channels first, {scale}"


def provenance_dict(
    request: Request,
    train: dict[str, Any],
    test: dict[str, Any],
    sizes: tuple[int, int],
    image_size: list[int],
) -> dict[str, Any]:
    """The provenance of a loaded image dataset (the same for `load_data` and
    `read_provenance`)."""
    return {
        "train": train,
        "test": test,
        "train_size": sizes[0],
        "test_size": sizes[1],
        "subset": request.subset,
        "seed": request.seed,
        "image_size": image_size,
        "pixels": pixels(request.normalization),
    }  # fmt: skip


def load_data(request: Request) -> RegressionData:
    """An image dataset as `RegressionData` (see the module docstring and `nrc.data.load`)."""
    train, test = train_test(request)
    n_train, n_test = sizes(request, len(train), len(test))
    train = train.subset(
        subset_rows(len(train), n_train, request.subset, request.seed, "train_size")
    )
    test = test.subset(
        subset_rows(len(test), n_test, request.subset, request.seed + 1, "test_size")
    )
    if request.image_size is not None:
        size = (request.image_size, request.image_size)
        train = dataclasses.replace(train, images=resize_images(train.images, size))
        test = dataclasses.replace(test, images=resize_images(test.images, size))
    mean, std = (
        (IMAGENET_MEAN, IMAGENET_STD) if request.normalization == "imagenet" else (None, None)
    )
    return RegressionData(
        x_train=images_to_tensor(train.images, mean, std),
        y_train=torch.from_numpy(train.targets.copy()),
        x_test=images_to_tensor(test.images, mean, std),
        y_test=torch.from_numpy(test.targets.copy()),
        name=request.name,
        provenance=provenance_dict(
            request, train.provenance, test.provenance, (len(train), len(test)),
            list(train.images.shape[1:3]),
        ),
    )  # fmt: skip


def parts_provenance(request: Request) -> tuple[dict, dict, int, int]:
    """(training provenance, test provenance, training rows, test rows) before subsetting, read
    without pixels: rendered files' attributes, CARLA's dataset shapes, UTKFace's file names."""
    s = spec(request.name)
    if s.files == "generated":
        n_train, n_test = cache_counts(s, request)
        train = rendered.cached_provenance(s.name, n_train, seed=0)
        test = rendered.cached_provenance(s.name, n_test, seed=1)
        return train, test, n_train, n_test
    if s.folder == "carla":
        variant = s.name.removeprefix("carla-")
        limits, root = carla_limits(s, request), folder(s.name)
        parts = []
        for part, limit in zip(("SeqTrain", "SeqVal"), limits, strict=True):
            used, frames = carla_frames(root / part, limit)
            parts.append(
                (carla_provenance(root / part, variant, used, frames, (SIZE, SIZE)), frames)
            )
        return parts[0][0], parts[1][0], parts[0][1], parts[1][1]
    root = checked_folder(folder(s.name), SIZE, None)
    kept, _, skipped = utkface_listing(root, None, skip_unparsable=True)
    faces = utkface_provenance(root, len(kept), SIZE, skipped)
    train, test = split_indices(len(kept), 0.2, seed=0)
    return faces, faces, len(train), len(test)


def read_provenance(request: Request) -> dict[str, Any]:
    """`load_data(request).provenance` without reading pixels (`parts_provenance`)."""
    train, test, train_count, test_count = parts_provenance(request)
    n_train, n_test = sizes(request, train_count, test_count)
    subset_rows(train_count, n_train, request.subset, request.seed, "train_size")
    subset_rows(test_count, n_test, request.subset, request.seed + 1, "test_size")
    side = request.image_size or SIZE
    return provenance_dict(request, train, test, (n_train, n_test), [side, side])


def ensure_rendered(name: str, train_size: int | None = None, test_size: int | None = None) -> None:
    """Render and cache the training and test frames a request of `train_size` and `test_size`
    rows of a rendered set reads (`cache_counts`) unless cached, reading no pixels; nothing for
    the other image sets."""
    if spec(name).files == "generated":
        parts_provenance(Request(name, train_size=train_size, test_size=test_size))
