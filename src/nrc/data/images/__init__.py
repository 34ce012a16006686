"""The image regression sets (paper §4.2, App. A.2): the rendered MuJoCo sets (`rendered`), the
CARLA and UTKFace readers (`carla`, `utkface`), pixel transforms (`transforms`) and the regression
view that `nrc.data.load` serves (`dataset`).

The names below are a temporary bridge for callers written before this package was split; they
resolve lazily to their new homes.
"""

from __future__ import annotations

import importlib
from typing import Any

_MOVED = {
    "ensure_rendered": ("nrc.data.images.dataset", "ensure_rendered"),
    "to_tensors": ("nrc.data.images.transforms", "to_tensors"),
    "IMAGE_DATASETS": ("nrc.data.registry", "IMAGE"),
}


def files_present(name: str) -> bool:
    """`nrc.data.registry.spec(name).files_present()`."""
    from nrc.data.registry import spec

    return spec(name).files_present()


def __getattr__(name: str) -> Any:
    if name not in _MOVED:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, attribute = _MOVED[name]
    return getattr(importlib.import_module(module), attribute)
