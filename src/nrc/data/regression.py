"""`nrc.data.load` and `nrc.data.provenance`: the arguments validated before anything is read,
then served by the loader module the registry names for the dataset (`DatasetSpec.loader`);
names outside the registry (collected prefixes, "KIND:LOCATION" sources) are MuJoCo data."""

from __future__ import annotations

import importlib
from numbers import Integral
from types import ModuleType
from typing import Any

from nrc.data.registry import EXPERT_ACTIONS, MUJOCO_LOADER, SPECS, names
from nrc.data.types import RegressionData, Request

SOURCES = ("d4rl", "jat", "minari")


def positive(value: object, argument: str, optional: bool = True) -> None:
    """ValueError naming `argument` unless `value` is an int >= 1 (or None when optional)."""
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ValueError(f"{argument} must be a positive integer, got {value!r}")


def is_source(name: str) -> bool:
    """Whether `name` has the form "KIND:LOCATION" with a known KIND."""
    kind, sep, location = name.partition(":")
    return bool(sep) and kind in SOURCES and bool(location)


def check_name(name: object) -> str:
    """The dataset name `name`, lower-cased for the MuJoCo tasks; ValueError naming the argument
    unless it is a registered name, a source "KIND:LOCATION" or a plain collected prefix."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a dataset name, got {name!r}; known: {', '.join(SPECS)}")
    if name.lower() in names("mujoco"):
        return name.lower()
    if name in SPECS or is_source(name):
        return name
    if ":" in name:
        raise ValueError(f"name {name!r} must look like KIND:LOCATION, KIND in {list(SOURCES)}")
    if "/" in name or "\\" in name or name.startswith("."):
        raise ValueError(
            f"name {name!r} is neither a known dataset ({', '.join(SPECS)}) nor a collected "
            "prefix (no path separators); give a file as KIND:PATH"
        )
    return name


def check_actions(expert_actions: object, key: str) -> str | None:
    """The expert-action variant of dataset `key`: `expert_actions`, or the registry's default
    (`DatasetSpec.actions`) when None; None for the sets without one. ValueError naming the
    argument for a value outside `EXPERT_ACTIONS`, or a value given for a set without variants
    (image sets, collected prefixes, sources: their targets are what their files hold)."""
    if expert_actions is not None and expert_actions not in EXPERT_ACTIONS:
        raise ValueError(
            f"expert_actions must be one of {EXPERT_ACTIONS} (or None: the dataset's default), "
            f"got {expert_actions!r}"
        )
    default = SPECS[key].actions if key in SPECS else None
    if default is None and expert_actions is not None:
        raise ValueError(
            f"expert_actions applies to the shipped MuJoCo sets {names('mujoco')}, not {key!r}: "
            "image sets have no expert, and a collected prefix or KIND:LOCATION source holds "
            "the actions it was recorded with (its provenance says which); leave it None"
        )
    return default if expert_actions is None else str(expert_actions)


def request(
    name: object,
    train_size: object = None,
    test_size: object = None,
    subset: object = "first",
    seed: object = 0,
    test: object = None,
    image_size: object = None,
    normalization: object = "unit",
    expert_actions: object = None,
) -> Request:
    """The validated arguments of `load` (see there); ValueError naming the bad argument."""
    key = check_name(name)
    positive(train_size, "train_size")
    positive(test_size, "test_size")
    if subset not in ("first", "random"):
        raise ValueError(f"subset must be 'first' or 'random', got {subset!r}")
    if isinstance(seed, bool) or not isinstance(seed, Integral) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if test is not None and not (isinstance(test, str) and is_source(test) and is_source(key)):
        raise ValueError(
            f"test must be a source KIND:LOCATION (KIND in {list(SOURCES)}) beside a source "
            f"name, got test={test!r} for name={key!r}"
        )
    image = key in SPECS and SPECS[key].kind == "image"
    if (image_size is not None or normalization != "unit") and not image:
        raise ValueError(
            f"image_size/normalization apply to image datasets {names('image')}, not {key!r}"
        )
    positive(image_size, "image_size")
    if normalization not in ("unit", "imagenet"):
        raise ValueError(f"normalization must be 'unit' or 'imagenet', got {normalization!r}")
    actions = check_actions(expert_actions, key)
    return Request(
        key, train_size, test_size, str(subset), int(seed), test, image_size, str(normalization),
        actions,
    )  # type: ignore[arg-type]  # fmt: skip


def loader(req: Request) -> ModuleType:
    """The module that serves `req.name` (its `load_data` and `read_provenance`)."""
    spec = SPECS.get(req.name)
    return spec.module() if spec is not None else importlib.import_module(MUJOCO_LOADER)


def load(
    name: str,
    train_size: int | None = None,
    test_size: int | None = None,
    subset: str = "first",
    seed: int = 0,
    test: str | None = None,
    image_size: int | None = None,
    normalization: str = "unit",
    expert_actions: str | None = None,
) -> RegressionData:
    """Inputs (x) and targets (y) of a regression dataset as float32 train/test tensors.

    `name`: a registered dataset (`nrc.data.registry.names()`: the shipped MuJoCo sets "swimmer",
    "reacher", "hopper" and the image sets); a prefix of datasets written by `nrc data collect`
    under $NRC_DATA_DIR/minari; or a source "d4rl:PATH", "jat:PATH", "minari:ID" (then `test`
    may name the test source; without it the last episodes are held out). Sizes default to the
    registry's training size (else all the data) and a test set of 20 % of it; `subset` "first"
    keeps the first rows (the paper's rule), "random" a random subset drawn with `seed`.
    `image_size` (pixels, square) and `normalization` ("unit" or "imagenet") apply to image sets.
    `expert_actions` ("deterministic" or "sampled", default `DatasetSpec.actions`) picks the
    targets of a shipped MuJoCo set: the expert's actions or Gaussian draws around them
    (docs/datasets.md, "Sampled actions"); for other sets it must stay None. Every argument is
    checked before anything is read (ValueError naming the argument).
    """
    req = request(
        name, train_size, test_size, subset, seed, test, image_size, normalization, expert_actions
    )
    return loader(req).load_data(req)


def provenance(
    name: str,
    train_size: int | None = None,
    test_size: int | None = None,
    subset: str = "first",
    seed: int = 0,
    test: str | None = None,
    image_size: int | None = None,
    normalization: str = "unit",
    expert_actions: str | None = None,
) -> dict[str, Any]:
    """`load(...).provenance` of the same arguments, reading metadata only (no pixels, no float
    tensors): Minari metadata.json, rendered files' attributes, CARLA's dataset shapes,
    UTKFace's file names. A "KIND:LOCATION" source is read in full, without tensors."""
    req = request(
        name, train_size, test_size, subset, seed, test, image_size, normalization, expert_actions
    )
    return loader(req).read_provenance(req)
