"""The datasets `nrc` knows, one `DatasetSpec` per name: the one place that answers every question
about a dataset (kind, target dimension, default sizes, the paper dataset it is or stands in for,
the paper's Table 1 row and weight-decay grid, where its files come from, which module loads it).

Importing this module is cheap (no simulator, HDF5, Minari or image library), so that presets,
plans and command lines can ask it questions without loading anything.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from nrc.data.types import Table1Row

STATE, IMAGE_INPUT = "raw state", "RGB image"
MUJOCO_LOADER = "nrc.data.mujoco.dataset"
IMAGE_LOADER = "nrc.data.images.dataset"


def data_dir() -> Path:
    """Folder of large datasets, caches and expert runs: $NRC_DATA_DIR or ~/.cache/nrc."""
    return Path(os.environ.get("NRC_DATA_DIR", Path.home() / ".cache" / "nrc")).expanduser()


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset.

    - `kind`: "mujoco" (state vectors -> actions) or "image" (pictures -> targets).
    - `n`: target dimension; `train_size`: default training size (None: all the data); the
      default test size is 20 % of the training size (paper §4.2, `test_size`).
    - `paper`: the paper's dataset this one is (its own name) or stands in for (a rendered set);
      `paper_row`: that dataset's row of the paper's Table 1; `wd_grid`: its weight decays in the
      paper's Figs. 7/8, 0 included.
    - `files`: "shipped" (inside the package), "generated" (rendered here and cached under
      `data_dir()`) or "user" (released files the user puts under `data_dir() / folder`, whose
      sub-folders `parts` must exist); `cached`: frames rendered for training and test.
    - `loader`: the module whose `load_data(request)` and `read_provenance(request)` serve it.
    - `reproduced`: whether `nrc reproduce` takes it by default (when its files are present).
    - MuJoCo only: `env_id` (the gymnasium -v4 layout the paper's data used), `input_dim` (the
      observation width), `train_episodes` (episodes of the shipped training set) and `actions`,
      the default variant of the expert's actions (`EXPERT_ACTIONS`: "deterministic" output or
      "sampled" around it with σ = `SAMPLED_SIGMA`, docs/datasets.md "Sampled actions").
    """

    name: str
    kind: str
    n: int
    train_size: int | None
    files: str
    paper: str
    paper_row: Table1Row
    wd_grid: tuple[float, ...]
    loader: str
    cached: tuple[int, int] | None = None
    reproduced: bool = True
    folder: str | None = None
    parts: tuple[str, ...] = ()
    env_id: str | None = None
    input_dim: int | None = None
    train_episodes: int | None = None
    actions: str | None = None

    def test_size(self, train_size: int) -> int:
        """Default test size for `train_size` training rows: 20 % of it, at least 1."""
        return max(train_size // 5, 1)

    def files_present(self) -> bool:
        """Whether the dataset can be loaded without downloading: always for shipped and
        generated sets; for user files, whether their folders exist under `data_dir()`."""
        if self.files != "user":
            return True
        root = data_dir() / str(self.folder)
        return all((root / part).is_dir() for part in self.parts or ("",))

    def minari_prefix(self, actions: str | None) -> str:
        """Prefix of the shipped Minari datasets of a MuJoCo set with expert actions `actions`."""
        return f"{self.name}-expert" + ("-sampled" if actions == "sampled" else "")

    def module(self) -> ModuleType:
        """The loader module (imported on first use: it pulls in MuJoCo, HDF5 or Pillow)."""
        return importlib.import_module(self.loader)


def _paper(
    name: str, size: int, input_type: str, n: int, corr: list[float], lam: float
) -> Table1Row:
    """A row of the paper's Table 1 (correlations of the target pairs (1,2), (1,3), (2,3))."""
    return Table1Row(name, size, input_type, n, corr, lam)


# The paper's Table 1 and its weight-decay grids: Fig. 7 (MuJoCo, the camera-ready launchers)
# and the Fig. 8 legends (images; which legend belongs to which column is not stated there).
_ROWS = {
    "swimmer": _paper("swimmer", 1_000, STATE, 2, [-0.244], 0.276),
    "reacher": _paper("reacher", 1_000, STATE, 2, [-0.00933], 0.0097),
    "hopper": _paper("hopper", 10_000, STATE, 3, [-0.215, -0.090, 0.059], 0.215),
    "carla-2d": _paper("carla-2d", 600_000, IMAGE_INPUT, 2, [-0.0055], 0.156),
    "carla-1d": _paper("carla-1d", 600_000, IMAGE_INPUT, 1, [], 208.63),
    "utkface": _paper("utkface", 25_000, IMAGE_INPUT, 1, [], 1428.0),
}
_GRIDS = {
    "swimmer": (0.0, 5e-5, 5e-4, 5e-3, 1e-2),
    "reacher": (0.0, 5e-6, 5e-5, 5e-4, 1.5e-3),
    "hopper": (0.0, 5e-6, 5e-5, 5e-4, 1e-3, 5e-3, 1e-2),
    "carla-2d": (0.0, 1e-4, 1e-3, 1e-2, 1e-1),
    "carla-1d": (0.0, 5e-4, 1e-2, 5e-2, 1e-1),
    "utkface": (0.0, 5e-4, 5e-3, 1e-2, 1e-1),
}


# The variants of a MuJoCo set's targets (docs/datasets.md, "Sampled actions"): the experts'
# deterministic actions, or draws from N(μ(s), σ² I) around them, clipped to the action box;
# σ is the largest of a grid that keeps every expert within 10 % of its random-to-expert
# return gap (`nrc data sigma`, `nrc.data.mujoco.sigma`), not fitted to Table 1.
EXPERT_ACTIONS = ("deterministic", "sampled")
SAMPLED_SIGMA = 0.1


def _mujoco(
    name: str, env_id: str, input_dim: int, n: int, size: int, episodes: int
) -> DatasetSpec:
    """A shipped MuJoCo behaviour-cloning set at the paper's size (Table 1, App. A.1)."""
    return DatasetSpec(
        name, "mujoco", n, size, "shipped", name, _ROWS[name], _GRIDS[name], MUJOCO_LOADER,
        env_id=env_id, input_dim=input_dim, train_episodes=episodes, actions="deterministic",
    )  # fmt: skip


def _image(name: str, n: int, paper: str, train_size: int | None, **files: object) -> DatasetSpec:
    """An image regression set standing for (or being) the paper's dataset `paper`."""
    source = "generated" if "cached" in files else "user"
    return DatasetSpec(
        name, "image", n, train_size, source, paper, _ROWS[paper], _GRIDS[paper], IMAGE_LOADER,
        **files,  # type: ignore[arg-type]
    )  # fmt: skip


CARLA_PARTS = ("SeqTrain", "SeqVal")  # the released folders
SPECS: dict[str, DatasetSpec] = {
    # The -v4 layouts: the paper's data (JAT, D4RL) was recorded with them.
    "swimmer": _mujoco("swimmer", "Swimmer-v4", 8, 2, 1_000, 1),
    "reacher": _mujoco("reacher", "Reacher-v4", 11, 2, 1_000, 20),
    "hopper": _mujoco("hopper", "Hopper-v4", 11, 3, 10_000, 10),
    # Rendered here (docs/images.md): seed-0 rollouts for training, seed-1 rollouts for test.
    "reacher-fingertip": _image(
        "reacher-fingertip", 2, "carla-2d", 10_000, cached=(10_000, 2_000), reproduced=False
    ),
    "hopper-height": _image("hopper-height", 1, "carla-1d", 10_000, cached=(10_000, 2_000)),
    "reacher-arm": _image("reacher-arm", 2, "carla-2d", 10_000, cached=(10_000, 2_000)),
    # Released files; CARLA's first 50,000 training frames (the Deep-NRC code's choice).
    "carla-2d": _image("carla-2d", 2, "carla-2d", 50_000, folder="carla", parts=CARLA_PARTS),
    "carla-1d": _image("carla-1d", 1, "carla-1d", 50_000, folder="carla", parts=CARLA_PARTS),
    "utkface": _image("utkface", 1, "utkface", None, folder="utkface"),
}  # fmt: skip

MUJOCO: tuple[str, ...] = tuple(name for name, s in SPECS.items() if s.kind == "mujoco")
IMAGE: tuple[str, ...] = tuple(name for name, s in SPECS.items() if s.kind == "image")
RENDERED: tuple[str, ...] = tuple(name for name, s in SPECS.items() if s.files == "generated")


def names(kind: str | None = None) -> tuple[str, ...]:
    """The known dataset names, all or those of `kind` ("mujoco" or "image"), in registry order."""
    if kind not in (None, "mujoco", "image"):
        raise ValueError(f"kind must be 'mujoco', 'image' or None, got {kind!r}")
    return tuple(name for name, s in SPECS.items() if kind is None or s.kind == kind)


def spec(name: str) -> DatasetSpec:
    """The dataset called `name`; ValueError listing the known names otherwise."""
    if not isinstance(name, str) or name not in SPECS:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(SPECS)}")
    return SPECS[name]
