"""Image regression data shared by CARLA, UTKFace and rendered MuJoCo (paper §4.2, App. A.2).

An `ImageSet` keeps the pictures as uint8 (N, H, W, 3) arrays (a quarter of the float32 memory) and
the targets as float32 (N, n); `to_tensors` turns a train/test split into the float32 NCHW tensors
that the trainer consumes. The paper uses "standard preprocessing" and no augmentation (§3.2);
pixel scaling to [0, 1] with optional per-channel standardisation is all that is done here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F

from nrc.data.envs import data_dir

if TYPE_CHECKING:
    from nrc.data.regression import RegressionData

# Per-channel statistics of ImageNet, for torchvision-pretrained backbones.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class ImageSet:
    """Images (uint8, N x H x W x 3), their targets (float32, N x n) and where they came from.

    `extras` holds further per-sample arrays (first axis N), e.g. the simulator state of a frame.
    """

    name: str
    images: np.ndarray
    targets: np.ndarray
    target_names: tuple[str, ...]
    provenance: dict[str, Any] = field(default_factory=dict)
    extras: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_images(self.images, self.name)
        check_targets(self.targets, len(self.images), self.name)
        if len(self.target_names) != self.targets.shape[1]:
            raise ValueError(
                f"{self.name}: {len(self.target_names)} target names for"
                f" {self.targets.shape[1]} target columns"
            )
        for key, value in self.extras.items():
            if len(value) != len(self.images):
                raise ValueError(
                    f"{self.name}: extra {key!r} has {len(value)} rows, not {len(self)}"
                )

    def __len__(self) -> int:
        return len(self.images)

    @property
    def n_targets(self) -> int:
        """Target dimension n."""
        return int(self.targets.shape[1])

    def subset(self, index: np.ndarray | Sequence[int]) -> ImageSet:
        """The samples at `index`, in that order, with the same provenance."""
        index = np.asarray(index, dtype=np.int64)
        return ImageSet(
            self.name,
            self.images[index],
            self.targets[index],
            self.target_names,
            self.provenance,
            {key: value[index] for key, value in self.extras.items()},
        )


def check_images(images: np.ndarray, name: str, allow_empty: bool = False) -> None:
    """ValueError unless `images` is a uint8 array of shape (N, H, W, 3) (N >= 1 unless allowed)."""
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8:
        raise ValueError(f"{name}: images must be a uint8 numpy array, got {type(images)}")
    if images.ndim != 4 or images.shape[3] != 3 or min(images.shape[int(allow_empty) :]) == 0:
        raise ValueError(f"{name}: images must have shape (N, H, W, 3), got {images.shape}")


def check_targets(targets: np.ndarray, count: int, name: str) -> None:
    """ValueError unless `targets` is a finite float32 (count, n) array with n >= 1."""
    if not isinstance(targets, np.ndarray) or targets.dtype != np.float32:
        raise ValueError(f"{name}: targets must be a float32 numpy array")
    if targets.ndim != 2 or targets.shape[0] != count or targets.shape[1] < 1:
        raise ValueError(f"{name}: targets must have shape ({count}, n), got {targets.shape}")
    bad = ~np.isfinite(targets).all(axis=1)
    if bad.any():
        rows = np.flatnonzero(bad)[:5].tolist()
        raise ValueError(f"{name}: {int(bad.sum())} target rows hold NaN/Inf (first rows {rows})")


def resize_images(images: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize uint8 (N, H, W, 3) images to (height, width) with antialiased bilinear filtering."""
    check_images(images, "resize_images")
    height, width = size
    if height < 1 or width < 1:
        raise ValueError(f"image size must be positive, got {size}")
    if images.shape[1:3] == (height, width):
        return images
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float()
    x = F.interpolate(x, size=(height, width), mode="bilinear", antialias=True, align_corners=False)
    return x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()


def images_to_tensor(
    images: np.ndarray,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
) -> torch.Tensor:
    """uint8 (N, H, W, 3) -> float32 (N, 3, H, W) in [0, 1], then (x - mean) / std per channel."""
    check_images(images, "images_to_tensor", allow_empty=True)
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float().div_(255.0).contiguous()
    if (mean is None) != (std is None):
        raise ValueError("give both mean and std for standardisation, or neither")
    if mean is not None and std is not None:
        m = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
        s = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
        if m.numel() != 3 or s.numel() != 3 or not torch.all(s > 0):
            raise ValueError(f"mean and std need 3 channels and std > 0, got {mean}, {std}")
        x = x.sub_(m).div_(s)
    return x


def split_indices(count: int, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded random train/test partition of range(count); both parts sorted."""
    if not 0.0 <= test_fraction < 1.0:
        raise ValueError(f"test_fraction must lie in [0, 1), got {test_fraction}")
    n_test = round(count * test_fraction)
    if count - n_test < 1:
        raise ValueError(f"cannot split {count} samples with test_fraction={test_fraction}")
    order = np.random.default_rng(seed).permutation(count)
    return np.sort(order[n_test:]), np.sort(order[:n_test])


def to_tensors(
    data: ImageSet,
    test_fraction: float = 0.2,
    seed: int = 0,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(x_train, y_train, x_test, y_test) as float32 tensors, images NCHW (`images_to_tensor`)."""
    train, test = split_indices(len(data), test_fraction, seed)
    return (
        images_to_tensor(data.images[train], mean, std),
        torch.from_numpy(data.targets[train].copy()),
        images_to_tensor(data.images[test], mean, std),
        torch.from_numpy(data.targets[test].copy()),
    )


# Names `load_image_dataset` knows; the real files are looked for under $NRC_DATA_DIR.
IMAGE_DATASETS = ("reacher-fingertip", "hopper-height", "carla-2d", "carla-1d", "utkface")
RENDERED_DATASETS = ("reacher-fingertip", "hopper-height")  # generated by nrc.data.rendered
RENDERED_TRAIN, RENDERED_TEST = 10_000, 2_000
CARLA_TRAIN = 50_000  # the Deep-NRC code's "first 50,000 samples" (paper.md §8.3)


def files_present(name: str) -> bool:
    """Whether the real files of CARLA ("carla-2d", "carla-1d") or UTKFace are under
    $NRC_DATA_DIR (`load_image_dataset` never downloads them); the rendered sets are generated,
    so they are always available."""
    if name not in IMAGE_DATASETS:
        raise ValueError(f"unknown image dataset {name!r}; choose from {IMAGE_DATASETS}")
    if name in RENDERED_DATASETS:
        return True
    folder = _real_folder(name)
    return (folder / "SeqTrain" if name.startswith("carla-") else folder).is_dir()


def ensure_rendered(name: str) -> None:
    """Render and cache the training and test frames of a rendered set unless cached (the files
    `load_image_dataset` reads), without building tensors; nothing for the real datasets."""
    if name in RENDERED_DATASETS:
        _train_test(name, None, None)


def _real_folder(name: str) -> Path:
    """Where the released files of CARLA ("carla-2d", "carla-1d") or UTKFace are looked for."""
    return data_dir() / ("carla" if name.startswith("carla-") else "utkface")


def _rows(count: int, size: int | None, subset: str, seed: int, what: str) -> np.ndarray:
    """The first `size` of `count` rows, or a seeded random `size` of them (sorted)."""
    if subset not in ("first", "random"):
        raise ValueError(f"subset must be 'first' or 'random', got {subset!r}")
    size = count if size is None else size
    if not 1 <= size <= count:
        raise ValueError(f"{what} = {size} must lie in [1, {count}]")
    if subset == "first":
        return np.arange(size)
    return np.sort(np.random.default_rng(seed).choice(count, size=size, replace=False))


def _train_test(name: str, train_size: int | None, test_size: int | None) -> tuple[ImageSet, ...]:
    """Training and test `ImageSet`s of an image dataset, before subsetting."""
    # Imported here: the rendered sets pull in MuJoCo and gymnasium, the others h5py/Pillow.
    if name in RENDERED_DATASETS:
        from nrc.data.rendered import load_rendered

        n_train = max(train_size or RENDERED_TRAIN, RENDERED_TRAIN)
        n_test = max(test_size or RENDERED_TEST, RENDERED_TEST)
        # Test frames come from separate rollouts (data seed 1), as the paper's separate test data.
        return load_rendered(name, n_train, seed=0), load_rendered(name, n_test, seed=1)
    if name.startswith("carla-"):
        from nrc.data.carla import load_carla

        root = _real_folder(name)
        variant = name.removeprefix("carla-")
        n_train = train_size or CARLA_TRAIN
        n_test = test_size or max(n_train // 5, 1)
        return (
            load_carla(root / "SeqTrain", variant, limit=n_train, size=(64, 64)),
            load_carla(root / "SeqVal", variant, limit=n_test, size=(64, 64)),
        )
    from nrc.data.utkface import load_utkface

    faces = load_utkface(_real_folder(name), size=64, skip_unparsable=True)
    train, test = split_indices(len(faces), 0.2, seed=0)
    return faces.subset(train), faces.subset(test)


def load_image_dataset(
    name: str,
    train_size: int | None = None,
    test_size: int | None = None,
    subset: str = "first",
    seed: int = 0,
    image_size: int | None = None,
    normalization: str = "unit",
) -> RegressionData:
    """An image dataset as `nrc.data.RegressionData` (float32 NCHW images, 64 x 64 by default).

    - "reacher-fingertip", "hopper-height": rendered (`nrc.data.rendered`), cached; training
      frames from the seed-0 rollouts (10,000 by default), test frames from the seed-1 rollouts
      (2,000 by default).
    - "carla-2d", "carla-1d": $NRC_DATA_DIR/carla/SeqTrain and SeqVal (the released folders),
      first 50,000 training frames by default, test 20 % of the training size.
    - "utkface": $NRC_DATA_DIR/utkface, a seeded 80/20 split (seed 0) of the images.

    `train_size`/`test_size` keep the first rows (`subset="first"`) or a random subset (`seed`);
    the test size defaults to 20 % of the training size. `image_size` resizes to a square of that
    side (`resize_images`); `normalization` "unit" keeps pixels in [0, 1], "imagenet" then
    standardises them with ImageNet's channel mean and std (for pretrained backbones).
    """
    from nrc.data.regression import RegressionData  # nrc.data.regression may import this module

    if name not in IMAGE_DATASETS:
        raise ValueError(f"unknown image dataset {name!r}; choose from {IMAGE_DATASETS}")
    if normalization not in ("unit", "imagenet"):
        raise ValueError(f"normalization must be 'unit' or 'imagenet', got {normalization!r}")
    if image_size is not None and (isinstance(image_size, bool) or image_size < 1):
        raise ValueError(f"image_size must be a positive number of pixels, got {image_size!r}")
    mean, std = (IMAGENET_MEAN, IMAGENET_STD) if normalization == "imagenet" else (None, None)
    train, test = _train_test(name, train_size, test_size)
    train = train.subset(_rows(len(train), train_size, subset, seed, "train_size"))
    # As for the MuJoCo sets (paper §4.2): the test set is 20 % of the training size by default.
    n_test = test_size if test_size is not None else min(len(test), max(len(train) // 5, 1))
    test = test.subset(_rows(len(test), n_test, subset, seed + 1, "test_size"))
    if image_size is not None:
        size = (image_size, image_size)
        train = dataclasses.replace(train, images=resize_images(train.images, size))
        test = dataclasses.replace(test, images=resize_images(test.images, size))
    return RegressionData(
        x_train=images_to_tensor(train.images, mean, std),
        y_train=torch.from_numpy(train.targets.copy()),
        x_test=images_to_tensor(test.images, mean, std),
        y_test=torch.from_numpy(test.targets.copy()),
        name=name,
        provenance={
            "train": train.provenance,
            "test": test.provenance,
            "train_size": len(train),
            "test_size": len(test),
            "subset": subset,
            "seed": seed,
            "image_size": list(train.images.shape[1:3]),
            "pixels": "float32, channels first, "
            + ("ImageNet-standardised" if normalization == "imagenet" else "in [0, 1]"),
        },
    )
