"""The regression view of a behaviour-cloning dataset, states -> actions (paper §4, App. A.1):
the shipped paper-sized sets, datasets collected under $NRC_DATA_DIR/minari, and the original
D4RL/JAT/Minari files.

The paper trains on the first `train_size` transitions of the training data and tests on the
first `train_size // 5` of separate test data; `subset="random"` draws a seeded random subset.
A shipped set comes in two variants of its targets, the expert's deterministic actions and
sampled ones (`Request.expert_actions`, docs/datasets.md "Sampled actions").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from nrc.data.mujoco.experts import shipped_dir
from nrc.data.mujoco.readers import minari_folder, minari_provenance, read_minari, read_source
from nrc.data.registry import SPECS, data_dir
from nrc.data.subsets import subset_rows
from nrc.data.types import RegressionData, Request, Transitions


def shipped_root() -> Path:
    """Folder of the Minari datasets shipped with the package."""
    return shipped_dir() / "minari"


def minari_pair(name: str, actions: str | None) -> tuple[Path, Path] | None:
    """The training and test Minari folders of a shipped set (its variant `actions`) or a
    collected prefix; None for a "KIND:LOCATION" source."""
    if ":" in name:
        return None
    if name in SPECS:
        root, prefix = shipped_root(), SPECS[name].minari_prefix(actions)
    else:
        root, prefix = data_dir() / "minari", name
    train = root / f"{prefix}-train-v0"
    if name not in SPECS and not train.is_dir():
        raise FileNotFoundError(
            f"{name!r} is not a known dataset ({', '.join(SPECS)}) nor one collected under "
            f"{root} (no {train.name} there); `nrc data collect ENV --name {name}` makes one"
        )
    return train, root / f"{prefix}-test-v0"


def read_pair(request: Request) -> tuple[Transitions, Transitions]:
    """Training and test transitions of `request` (see `nrc.data.load`)."""
    folders = minari_pair(request.name, request.expert_actions)
    if folders is None:
        train, test = read_source(request.name), request.test
        return (train, read_source(test)) if test else split_last_episodes(train)
    return read_minari(folders[0]), read_minari(folders[1])


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


def check_dims(t: Transitions, name: str) -> None:
    """For the paper's tasks: observation and action widths must match Table 1."""
    spec = SPECS.get(name)
    if spec is None:
        return
    for field, got, want in (
        ("observations", t.observations.shape[1], spec.input_dim),
        ("actions", t.actions.shape[1], spec.n),
    ):
        if got != want:
            raise ValueError(f"{t.source}: '{field}' has {got} columns, {spec.env_id} has {want}")


def sizes(request: Request, train_count: int, test_count: int) -> tuple[int, int]:
    """(training, test) sizes of `request` for data with these row counts, checked against them:
    Table 1's training size (else all the data) and 20 % of it by default."""
    spec = SPECS.get(request.name)
    n_train = request.train_size
    if n_train is None:
        n_train = spec.train_size if spec is not None and spec.train_size else train_count
    n_test = request.test_size if request.test_size is not None else max(n_train // 5, 1)
    for count, size, what in (
        (train_count, n_train, "train_size"),
        (test_count, n_test, "test_size"),
    ):
        if size > count:
            raise ValueError(f"{request.name}: {what} = {size} exceeds the {count} rows there")
    return n_train, n_test


def provenance_dict(
    request: Request,
    train: dict[str, Any],
    test: dict[str, Any],
    sources: tuple[str, str],
    n_train: int,
    n_test: int,
) -> dict[str, Any]:
    """The provenance of a loaded MuJoCo dataset (the same for `load_data` and
    `read_provenance`)."""
    return {
        "train": train,
        "test": test,
        "train_source": sources[0],
        "test_source": sources[1],
        "train_size": n_train,
        "test_size": n_test,
        "subset": request.subset,
        "seed": request.seed,
        "expert_actions": request.expert_actions,
    }  # fmt: skip


def load_data(request: Request) -> RegressionData:
    """States (x) and actions (y) of `request.name` as float32 tensors (see `nrc.data.load`)."""
    train, held_out = read_pair(request)
    for part in (train, held_out):
        check_dims(part, request.name)
    n_train, n_test = sizes(request, len(train), len(held_out))
    rows_train = subset_rows(len(train), n_train, request.subset, request.seed, "train_size")
    rows_test = subset_rows(len(held_out), n_test, request.subset, request.seed + 1, "test_size")

    def tensor(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))

    return RegressionData(
        x_train=tensor(train.observations[rows_train]),
        y_train=tensor(train.actions[rows_train]),
        x_test=tensor(held_out.observations[rows_test]),
        y_test=tensor(held_out.actions[rows_test]),
        name=request.name,
        provenance=provenance_dict(
            request, train.provenance, held_out.provenance, (train.source, held_out.source),
            n_train, n_test,
        ),
    )  # fmt: skip


def read_provenance(request: Request) -> dict[str, Any]:
    """`load_data(request).provenance`, from the Minari metadata alone for shipped and collected
    sets; a "KIND:LOCATION" source is read in full (its provenance depends on the episodes)."""
    folders = minari_pair(request.name, request.expert_actions)
    if folders is None:
        train, held_out = read_pair(request)
        n_train, n_test = sizes(request, len(train), len(held_out))
        sources = (train.source, held_out.source)
        return provenance_dict(
            request, train.provenance, held_out.provenance, sources, n_train, n_test
        )
    paths = tuple(minari_folder(folder) for folder in folders)
    (train, train_count), (test, test_count) = (minari_provenance(path) for path in paths)
    n_train, n_test = sizes(request, train_count, test_count)
    return provenance_dict(request, train, test, (str(paths[0]), str(paths[1])), n_train, n_test)
