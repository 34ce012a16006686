"""The data package's leaf types: `RegressionData` (what `nrc.data.load` returns), `ImageSet`
(uint8 pictures with their targets), `Transitions` (flat state-action pairs) and `Table1Row`.

This module imports numpy only (torch appears in annotations), so that every other module of the
package can depend on it without pulling in a simulator, HDF5 or an image library.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class RegressionData:
    """Train/test tensors (float32) of a regression task, with where they came from."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    name: str
    provenance: dict[str, Any]


@dataclass(frozen=True)
class Table1Row:
    """One row of the paper's Table 1: size, input type, n, target correlations of the pairs
    (1,2), (1,3), (2,3) and λ_min of the centred target covariance (divisor M)."""

    name: str
    size: int
    input_type: str
    n: int
    target_corr: list[float]
    lambda_min: float


@dataclass(frozen=True)
class Transitions:
    """Flat (state, action) pairs in episode order: row i was taken in episode `episode[i]`."""

    observations: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    episode: np.ndarray
    source: str
    provenance: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.actions)

    def episodes(self) -> int:
        """Number of episodes."""
        return len(np.unique(self.episode))


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


@dataclass(frozen=True)
class Request:
    """The validated arguments of `nrc.data.load` / `nrc.data.provenance` (see `load`)."""

    name: str
    train_size: int | None = None
    test_size: int | None = None
    subset: str = "first"
    seed: int = 0
    test: str | None = None
    image_size: int | None = None
    normalization: str = "unit"
    expert_actions: str | None = None
