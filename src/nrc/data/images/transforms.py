"""Pixels to tensors for the image sets: antialiased resizing, uint8 NHWC -> float32 NCHW in
[0, 1] with optional per-channel standardisation, and a seeded train/test split (paper §4.2,
App. A.2). The paper uses "standard preprocessing" and no augmentation (§3.2); this is all that
is done here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from nrc.data.subsets import split_indices
from nrc.data.types import ImageSet, check_images

# Per-channel statistics of ImageNet, for torchvision-pretrained backbones.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


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
