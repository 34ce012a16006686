"""The regression view of a behaviour-cloning dataset: states → actions (paper §4, App. A.1).

The paper trains on the first `data_size` transitions of the training data and tests on the first
`data_size // 5` of separate test data; `subset="random"` draws a seeded random subset instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nrc.data.envs import TASKS, data_dir
from nrc.data.experts import shipped_dir
from nrc.data.loaders import Transitions, read_minari, read_source


@dataclass(frozen=True)
class RegressionData:
    """Train/test tensors (float32) of a regression task, with where they came from."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    name: str
    provenance: dict[str, Any]


def shipped_root() -> Path:
    """Folder of the Minari datasets shipped with the package."""
    return shipped_dir() / "minari"


def read_pair(name: str, test: str | None) -> tuple[Transitions, Transitions]:
    """Training and test transitions for `name` (see `load`)."""
    if name in TASKS:
        root, prefix = shipped_root(), f"{name}-expert"
    elif ":" in name:
        train = read_source(name)
        return (train, read_source(test)) if test else split_last_episodes(train)
    else:
        root, prefix = data_dir() / "minari", name
    return read_minari(root / f"{prefix}-train-v0"), read_minari(root / f"{prefix}-test-v0")


def split_last_episodes(t: Transitions, fraction: float = 0.2) -> tuple[Transitions, Transitions]:
    """Split off the last whole episodes holding ≥ `fraction` of the transitions as the test set."""
    ids = np.unique(t.episode)
    need = int(np.ceil(fraction * len(t)))
    cut = len(ids)
    while cut > 0 and np.isin(t.episode, ids[cut:]).sum() < need:
        cut -= 1
    if cut == 0:
        raise ValueError(
            f"{t.source}: {len(ids)} episode(s) cannot be split into separate train and test "
            "episodes; pass a test source"
        )
    mask = np.isin(t.episode, ids[:cut])
    return take(t, np.flatnonzero(mask), "train"), take(t, np.flatnonzero(~mask), "test")


def take(t: Transitions, rows: np.ndarray, part: str) -> Transitions:
    """The rows `rows` of `t`."""
    return Transitions(
        observations=t.observations[rows],
        actions=t.actions[rows],
        rewards=t.rewards[rows],
        episode=t.episode[rows],
        source=f"{t.source} ({part})",
        provenance=t.provenance,
    )


def subset_rows(t: Transitions, size: int, subset: str, seed: int, field: str) -> np.ndarray:
    """Row indices: the first `size` (paper) or a seeded random `size` of them, in order."""
    if subset not in ("first", "random"):
        raise ValueError(f"subset must be 'first' or 'random', got {subset!r}")
    if size < 1:
        raise ValueError(f"{t.source}: {field} = {size} gives an empty subset")
    if size > len(t):
        raise ValueError(f"{t.source}: {field} = {size} exceeds the {len(t)} transitions there")
    if subset == "first":
        return np.arange(size)
    return np.sort(np.random.default_rng(seed).choice(len(t), size=size, replace=False))


def check_dims(t: Transitions, name: str) -> None:
    """For the paper's tasks: observation and action widths must match Table 1."""
    spec = TASKS.get(name)
    if spec is None:
        return
    for field, got, want in (
        ("observations", t.observations.shape[1], spec.obs_dim),
        ("actions", t.actions.shape[1], spec.act_dim),
    ):
        if got != want:
            raise ValueError(f"{t.source}: '{field}' has {got} columns, {spec.env_id} has {want}")


def load(
    name: str,
    train_size: int | None = None,
    test_size: int | None = None,
    subset: str = "first",
    seed: int = 0,
    test: str | None = None,
    image_size: int | None = None,
    normalization: str = "unit",
) -> RegressionData:
    """States (x) and actions (y) of a behaviour-cloning dataset as float32 tensors.

    `name`: "swimmer", "reacher" or "hopper" (shipped, paper-sized); a prefix of datasets written
    by `nrc data collect` under $NRC_DATA_DIR/minari; or a source "d4rl:PATH", "jat:PATH",
    "minari:ID" (then `test` names the test source; without it the last episodes are held out).
    Sizes default to the paper's: Table 1's training size (else all the data), test 20% of it.
    Image datasets (`nrc.data.images.IMAGE_DATASETS`) are delegated to `load_image_dataset`, with
    `image_size` and `normalization`; these two must keep their defaults for the other datasets.
    """
    from nrc.data.images import IMAGE_DATASETS, load_image_dataset

    if name in IMAGE_DATASETS:
        return load_image_dataset(
            name, train_size, test_size, subset, seed, image_size, normalization
        )
    if image_size is not None or normalization != "unit":
        raise ValueError(
            f"image_size/normalization apply to image datasets {IMAGE_DATASETS}, not {name!r}"
        )
    key = name.lower() if name.lower() in TASKS else name
    train, held_out = read_pair(key, test)
    for part in (train, held_out):
        check_dims(part, key)
    spec = TASKS.get(key)
    n_train = train_size if train_size is not None else (spec.train_size if spec else len(train))
    n_test = test_size if test_size is not None else max(n_train // 5, 1)
    rows_train = subset_rows(train, n_train, subset, seed, "train_size")
    rows_test = subset_rows(held_out, n_test, subset, seed + 1, "test_size")

    def tensor(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))

    return RegressionData(
        x_train=tensor(train.observations[rows_train]),
        y_train=tensor(train.actions[rows_train]),
        x_test=tensor(held_out.observations[rows_test]),
        y_test=tensor(held_out.actions[rows_test]),
        name=key,
        provenance={
            "train": train.provenance,
            "test": held_out.provenance,
            "train_source": train.source,
            "test_source": held_out.source,
            "train_size": n_train,
            "test_size": n_test,
            "subset": subset,
            "seed": seed,
        },
    )
