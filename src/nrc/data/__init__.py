"""Regression datasets (paper §4, Table 1): `load` gives train/test tensors of a dataset,
`provenance` where they come from without loading them, `registry` what is known about each.

Layout: `types` (leaf types), `registry` (one `DatasetSpec` per name), `regression` (`load`,
`provenance`), `files` (every read of a dataset's files), `subsets` (row selection), `stats`
(Table 1 rows), `mujoco/` (environments, experts, collection, readers), `images/` (rendered sets,
CARLA, UTKFace, transforms), `commands` (`nrc data ...`). The names below are imported on first
use, so `import nrc.data` does not load MuJoCo, HDF5, Minari or torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "load": "nrc.data.regression",
    "provenance": "nrc.data.regression",
    "RegressionData": "nrc.data.types",
    "ImageSet": "nrc.data.types",
    "Transitions": "nrc.data.types",
    "Table1Row": "nrc.data.types",
    "table1_row": "nrc.data.stats",
    "read_d4rl": "nrc.data.mujoco.readers",
    "read_jat": "nrc.data.mujoco.readers",
    "read_minari": "nrc.data.mujoco.readers",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    """The public name `name`, imported from its module on first use (PEP 562)."""
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
