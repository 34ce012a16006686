"""The two row-selection rules of every dataset: a subset of the rows (the first ones, the
paper's rule, or a seeded random draw) and a seeded random train/test partition."""

from __future__ import annotations

import numpy as np


def subset_rows(count: int, size: int, subset: str, seed: int, what: str) -> np.ndarray:
    """Row indices of a subset of `count` rows: the first `size` (`subset="first"`) or a seeded
    random `size` of them, sorted. `what` names the data and the size in errors."""
    if subset not in ("first", "random"):
        raise ValueError(f"subset must be 'first' or 'random', got {subset!r}")
    if size < 1:
        raise ValueError(f"{what} = {size} gives an empty subset")
    if size > count:
        raise ValueError(f"{what} = {size} exceeds the {count} rows there")
    if subset == "first":
        return np.arange(size)
    return np.sort(np.random.default_rng(seed).choice(count, size=size, replace=False))


def split_indices(count: int, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded random train/test partition of range(count); both parts sorted."""
    if not 0.0 <= test_fraction < 1.0:
        raise ValueError(f"test_fraction must lie in [0, 1), got {test_fraction}")
    n_test = round(count * test_fraction)
    if count - n_test < 1:
        raise ValueError(f"cannot split {count} samples with test_fraction={test_fraction}")
    order = np.random.default_rng(seed).permutation(count)
    return np.sort(order[n_test:]), np.sort(order[:n_test])
