"""Training: the loop and its callbacks, run directories, launchers, presets and sweeps (paper §5;
docs/training.md, docs/architecture.md).

from nrc.train import preset, run, load_run, sweep
run_dir = run(preset("quick", "reacher"), "runs/quick-reacher")
config, metrics = load_run(run_dir)          # metrics: one row per evaluation (pandas)
result = sweep("quick", {"weight_decay": ["paper"], "seed": [0, 1]}, "runs/wd")
"""

from nrc.train.callbacks import CollapseMonitor, Progress, RunWriter, evaluate, measure
from nrc.train.config import TrainConfig, apply_overrides, from_dict, validate
from nrc.train.launch import Launcher, ProcessPool, RunSpec, Serial, launcher_for
from nrc.train.loop import Callback, Loop
from nrc.train.presets import PAPER_WD_GRIDS, PRESETS, preset, resolve
from nrc.train.runner import resume, run
from nrc.train.setup import build_model, training_data
from nrc.train.store import RunInUseError, RunStore, is_complete, load_run
from nrc.train.sweep import SweepResult, expand, run_points, sweep

__all__ = [
    "PAPER_WD_GRIDS",
    "PRESETS",
    "Callback",
    "CollapseMonitor",
    "Launcher",
    "Loop",
    "ProcessPool",
    "Progress",
    "RunInUseError",
    "RunSpec",
    "RunStore",
    "RunWriter",
    "Serial",
    "SweepResult",
    "TrainConfig",
    "apply_overrides",
    "build_model",
    "evaluate",
    "expand",
    "from_dict",
    "is_complete",
    "launcher_for",
    "load_run",
    "measure",
    "preset",
    "resolve",
    "resume",
    "run",
    "run_points",
    "sweep",
    "training_data",
    "validate",
]
