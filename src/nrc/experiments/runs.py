"""Running a plan: the rendered image sets prepared once, every run launched (longest first;
finished runs reused, unfinished resumed, failures recorded), the tables gathered as `Results`."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from nrc.data import registry
from nrc.experiments.plan import Plan, points
from nrc.experiments.results import Results
from nrc.train import Launcher, Serial, TrainConfig, launcher_for, run_points
from nrc.train.progress import Watched

log = logging.getLogger(__name__)


def prepare(runs: Sequence[tuple[str, TrainConfig]]) -> None:
    """Generate and cache the frames of the rendered image sets that ``runs`` read, before the
    runs start, here rather than in several worker processes at once."""
    from nrc.data.images.dataset import ensure_rendered

    sizes = {(c.dataset, c.train_size, c.test_size) for _, c in runs}
    for name, train_size, test_size in sorted(sizes, key=str):
        if registry.spec(name).kind == "image":
            log.info("preparing %s (%s training, %s test frames)", name, train_size, test_size)
            ensure_rendered(name, train_size, test_size)


def _order(config: TrainConfig) -> tuple[bool, int]:
    """Sort key that starts the longest runs first: ResNet runs (each image step costs about a
    hundred MLP steps), then by optimizer steps."""
    size = config.train_size or (registry.spec(config.dataset).train_size or 1)
    return config.model == "mlp", -config.epochs * -(-size // config.batch_size)


def execute(
    plan: Plan,
    root: Path,
    jobs: int = 1,
    batched: bool | None = None,
    threads: int | None = None,
    tracker: str | None = None,
    launcher: Launcher | None = None,
) -> Results:
    """Run (or reuse) every run of ``plan`` under ``root``, ``jobs`` at a time (longest first;
    with ``batched`` the MLP runs sharing architecture and dataset as stacks, default on CUDA;
    ``threads`` per run, see ``nrc.train.launch.threads_for``; ``tracker`` also receives every
    run's metrics; a given ``launcher``, e.g. Ray's, replaces these), and gather the tables.
    The progress shown is the whole job's: estimated work, ETA and the runs in flight
    (``nrc.train.progress.Watched``, docs/training.md "Progress")."""
    launcher = launcher or launcher_for(jobs, batched=batched, threads=threads)
    todo = sorted(points(plan), key=lambda p: _order(p[1]))
    if not isinstance(launcher, Serial):  # a serial launch renders on first load, here
        prepare(todo)
    log.info("%d runs (%s) with %d job(s)", len(todo), plan.preset, jobs)
    watched = Watched(launcher, desc=f"runs in {root}")
    result = run_points(todo, Path(root), launcher=watched, progress=False, tracker=tracker)
    return Results.from_sweep(plan, Path(root), result.table, result.status)
