"""Training engine, runs, presets and sweeps (paper §5; docs/training.md).

from nrc.train import preset, run, load_run, sweep
run_dir = run(preset("quick", "reacher"), "runs/quick-reacher")
config, metrics = load_run(run_dir)          # metrics: one row per evaluation (pandas)
result = sweep("quick", {"weight_decay": ["paper"], "seed": [0, 1]}, "runs/wd")
"""

from nrc.train.config import TrainConfig, apply_overrides, from_dict, validate
from nrc.train.engine import Trainer, build_model, evaluate
from nrc.train.presets import PAPER_WD_GRIDS, PRESETS, preset, resolve
from nrc.train.rundir import is_complete, load_run
from nrc.train.runner import resume, run
from nrc.train.sweep import SweepResult, expand, run_points, sweep

__all__ = [
    "PAPER_WD_GRIDS",
    "PRESETS",
    "SweepResult",
    "TrainConfig",
    "Trainer",
    "apply_overrides",
    "build_model",
    "evaluate",
    "expand",
    "from_dict",
    "is_complete",
    "load_run",
    "preset",
    "resolve",
    "resume",
    "run",
    "run_points",
    "sweep",
    "validate",
]
