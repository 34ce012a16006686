"""Progress of a whole launch: each run's epoch, the job's estimated work done, its ETA
(docs/training.md, "Progress").

A run reports its epoch in `progress.json` of its run directory (`write_run_progress`, called by
`RunWriter` at most once per `WRITE_EVERY_S`, and at its first and last epoch). The launching
process reads these files every `POLL_EVERY_S` in a thread of its own (`watching`), wherever the
runs execute (this process, pool workers, Ray tasks on a shared filesystem), so no new channel
between processes is needed. `Watched` wraps any launcher with this display: one tqdm bar over
the estimated work with the ETA and the runs in flight as `name epoch/epochs`, or without a
terminal a log line every `LOG_EVERY_S`.

The estimate: a run costs `epochs × ceil(train_size / batch_size)` optimizer steps times the
seconds per step of its model kind, measured from the runs of that kind seen progressing in this
job (an unmeasured kind: a measured kind's cost scaled by `PRIOR_STEP_COST`); the ETA places the
remaining runs, in launch order, on as many slots as runs were seen in flight at once.
"""

from __future__ import annotations

import contextlib
import heapq
import logging
import math
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from nrc.data import registry
from nrc.io import write_json
from nrc.train.config import TrainConfig
from nrc.train.store import RunStore, read_json

if TYPE_CHECKING:
    from nrc.train.launch import Done, Launcher, RunSpec, Status

log = logging.getLogger(__name__)

PROGRESS = "progress.json"
WRITE_EVERY_S = 1.0  # a run rewrites its progress file at most this often
POLL_EVERY_S = 1.0  # the launching process reads the files this often
LOG_EVERY_S = 30.0  # without a terminal, one log line this often
# Seconds per step relative to the MLP's until a kind is measured (docs/training.md, "Progress").
PRIOR_STEP_COST = {"mlp": 1.0}
PRIOR_OTHER = 100.0


@dataclass(frozen=True)
class RunProgress:
    """What a run's progress file says: `epoch` of `epochs` done at wall-clock `time`."""

    epoch: int
    epochs: int
    time: float


def write_run_progress(run_dir: Path, epoch: int, epochs: int, now: float | None = None) -> None:
    """Atomically write the progress file of the run in `run_dir` (`now`: time.time())."""
    stamp = time.time() if now is None else now
    write_json(Path(run_dir) / PROGRESS, {"epoch": epoch, "epochs": epochs, "time": stamp})


def read_run_progress(run_dir: Path) -> RunProgress | None:
    """The progress file of the run in `run_dir`; None when there is none, ValueError naming the
    file when it is not one."""
    path = Path(run_dir) / PROGRESS
    if not path.is_file():
        return None
    values = read_json(path)
    try:
        progress = RunProgress(int(values["epoch"]), int(values["epochs"]), float(values["time"]))
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"{path}: not a progress file ({err!r})") from err
    if not 0 <= progress.epoch <= progress.epochs:
        raise ValueError(f"{path}: epoch {progress.epoch} outside 0..{progress.epochs}")
    return progress


class Throttle:
    """`due()` is true at its first call and then at most once per `every` seconds of `clock`."""

    def __init__(self, every: float = WRITE_EVERY_S, clock: Callable[[], float] = time.monotonic):
        self.every, self.clock = every, clock
        self.last: float | None = None

    def due(self) -> bool:
        """Whether `every` seconds passed since the last true answer (which this one becomes)."""
        now = self.clock()
        if self.last is not None and now - self.last < self.every:
            return False
        self.last = now
        return True


def steps_per_epoch(config: TrainConfig) -> int:
    """Optimizer steps of one epoch: ceil(training rows / batch size); the rows are the config's
    `train_size`, else its dataset's default, else (unknown) one batch."""
    known = registry.SPECS.get(config.dataset)
    rows = config.train_size or (known.train_size if known else None) or config.batch_size
    return math.ceil(rows / config.batch_size)


@dataclass
class Tracked:
    """What the launching process knows of one run: its config, whether it ended, its first and
    latest progress seen in this job (`first`, `last`)."""

    config: TrainConfig
    ended: bool = False
    failed: bool = False
    first: RunProgress | None = None
    last: RunProgress | None = None

    @property
    def running(self) -> bool:
        """Seen training in this job and not ended."""
        return self.last is not None and not self.ended

    def fraction(self) -> float:
        """Fraction of its epochs done (1 once ended)."""
        if self.ended:
            return 1.0
        return 0.0 if self.last is None else self.last.epoch / self.last.epochs


def seen(run: Tracked, progress: RunProgress) -> Tracked:
    """`run` with `progress` as its latest sighting (and first, if it is the first)."""
    return replace(run, first=run.first or progress, last=progress)


def step_costs(runs: Sequence[Tracked]) -> dict[str, float]:
    """Seconds per optimizer step of each model kind, over the runs seen progressing: their
    seconds between first and latest sighting over the steps trained in between."""
    seconds: dict[str, float] = {}
    steps: dict[str, int] = {}
    for run in runs:
        if run.first is None or run.last is None or run.last.epoch <= run.first.epoch:
            continue
        kind = run.config.model
        seconds[kind] = seconds.get(kind, 0.0) + run.last.time - run.first.time
        trained = (run.last.epoch - run.first.epoch) * steps_per_epoch(run.config)
        steps[kind] = steps.get(kind, 0) + trained
    return {kind: max(seconds[kind], 0.0) / steps[kind] for kind in steps}


def step_cost(kind: str, costs: dict[str, float]) -> float:
    """Seconds per step of `kind`: measured (`costs`), else a measured kind's scaled by
    `PRIOR_STEP_COST`, else (nothing measured yet) the prior itself, in MLP-step units."""
    prior = PRIOR_STEP_COST.get(kind, PRIOR_OTHER)
    if kind in costs:
        return costs[kind]
    if not costs:
        return prior
    base, cost = min(costs.items())
    return cost * prior / PRIOR_STEP_COST.get(base, PRIOR_OTHER)


def run_cost(config: TrainConfig, costs: dict[str, float]) -> float:
    """Estimated cost of a whole run of `config`: its steps times its kind's `step_cost`."""
    return config.epochs * steps_per_epoch(config) * step_cost(config.model, costs)


def finish_time(running: Sequence[float], queued: Sequence[float], slots: int) -> float:
    """Seconds until the last run ends when the runs in flight need `running` seconds each and
    the `queued` ones start in order, each as soon as one of `slots` is free."""
    ends = list(running) + [0.0] * max(0, slots - len(running))
    heapq.heapify(ends)
    for cost in queued:
        heapq.heappush(ends, heapq.heappop(ends) + cost)
    return max(ends, default=0.0)


@dataclass(frozen=True)
class Estimate:
    """The job's estimated `done` and `total` work (seconds once a cost is measured, else prior
    units) and the seconds left (`eta`, None until a step cost is measured)."""

    done: float
    total: float
    eta: float | None

    @property
    def fraction(self) -> float:
        """Share of the estimated work done."""
        return self.done / self.total if self.total > 0 else 1.0


def estimate(runs: Sequence[Tracked], slots: int) -> Estimate:
    """The work done and left of `runs` (in launch order) and the ETA on `slots` parallel slots
    (docs/training.md, "Progress")."""
    costs = step_costs(runs)
    whole = [run_cost(run.config, costs) for run in runs]
    done = sum(w * run.fraction() for w, run in zip(whole, runs, strict=True))
    running = [w * (1 - r.fraction()) for w, r in zip(whole, runs, strict=True) if r.running]
    queued = [w for w, r in zip(whole, runs, strict=True) if not r.ended and not r.running]
    eta = finish_time(running, queued, max(slots, len(running), 1)) if costs else None
    return Estimate(done, sum(whole), eta)


class Watch:
    """The launching process's view of a launch of `specs`: runs already complete count as
    ended at once; `poll` reads the progress files the runs wrote since the watch began
    (`clock`: time.time(), as the runs stamp their files); `finished` records a run's status."""

    def __init__(self, specs: Sequence[RunSpec], clock: Callable[[], float] = time.time) -> None:
        self.specs = list(specs)
        self.started = clock()
        self.lock = threading.Lock()
        self.runs = {spec.name: Tracked(spec.config, ended=_reusable(spec)) for spec in specs}
        self.most_in_flight = 0
        self.unreadable: set[str] = set()

    def _read(self, spec: RunSpec) -> RunProgress | None:
        """The run's progress written in this job; a damaged file is logged once and skipped."""
        try:
            progress = read_run_progress(spec.dir)
        except (OSError, ValueError) as err:
            if spec.name not in self.unreadable:
                self.unreadable.add(spec.name)
                log.warning("progress of %s unreadable: %s", spec.name, err)
            return None
        return progress if progress is not None and progress.time >= self.started else None

    def _look(self, spec: RunSpec) -> None:
        """Take the run's latest progress (the caller holds the lock)."""
        progress = self._read(spec)
        if progress is not None and progress != self.runs[spec.name].last:
            self.runs[spec.name] = seen(self.runs[spec.name], progress)

    def poll(self) -> None:
        """Read the progress of every run that has not ended."""
        with self.lock:
            for spec in self.specs:
                if not self.runs[spec.name].ended:
                    self._look(spec)
            flying = sum(run.running for run in self.runs.values())
            self.most_in_flight = max(self.most_in_flight, flying)

    def finished(self, spec: RunSpec, status: Status) -> None:
        """Record that `spec` ended with `status` (its last progress read first, for its cost)."""
        with self.lock:
            self._look(spec)
            failed = status["status"] != "complete"
            self.runs[spec.name] = replace(self.runs[spec.name], ended=True, failed=failed)

    def state(self) -> JobState:
        """The job as it stands."""
        with self.lock:
            runs = [self.runs[spec.name] for spec in self.specs]
            flying = [
                (spec.name, run.last.epoch, run.last.epochs)
                for spec, run in zip(self.specs, runs, strict=True)
                if run.running and run.last is not None
            ]
            return JobState(
                estimate(runs, self.most_in_flight),
                ended=sum(run.ended for run in runs),
                failed=sum(run.failed for run in runs),
                total=len(runs),
                in_flight=flying,
            )


def _reusable(spec: RunSpec) -> bool:
    """Whether the run is complete already (an inconsistent one is not: its launch reports it)."""
    try:
        return RunStore(spec.dir).is_complete()
    except (OSError, ValueError):
        return False


@dataclass(frozen=True)
class JobState:
    """A launch as it stands: its estimate, runs ended (of them failed) of `total`, and the runs
    in flight as (name, epoch, epochs)."""

    estimate: Estimate
    ended: int
    failed: int
    total: int
    in_flight: list[tuple[str, int, int]] = field(default_factory=list)


def clock_text(seconds: float | None) -> str:
    """`seconds` as H:MM:SS ("?" when unknown)."""
    if seconds is None:
        return "?"
    whole = round(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def status_text(state: JobState) -> str:
    """The status line: runs ended (and failed), the ETA, the runs in flight as `name e/E`."""
    failed = f" ({state.failed} failed)" if state.failed else ""
    flying = ", ".join(f"{name} {epoch}/{epochs}" for name, epoch, epochs in state.in_flight)
    text = f"{state.ended}/{state.total} runs{failed}, ETA {clock_text(state.estimate.eta)}"
    return text + (f" | in flight: {flying}" if flying else "")


class Display(Protocol):
    """Where a launch's state goes."""

    def show(self, state: JobState) -> None: ...

    def close(self, state: JobState) -> None: ...


class Bar:
    """Two lines on a terminal: a tqdm bar of the job's estimated work (percent) with the runs
    ended and the ETA, and under it the runs in flight."""

    FORMAT = "{desc} {percentage:3.0f}%|{bar:24}| "

    def __init__(self, desc: str) -> None:
        self.bar = tqdm(total=100.0, desc=desc, bar_format=self.FORMAT, position=0)
        self.flying = tqdm(total=0, bar_format="{desc}", position=1, leave=False)

    def show(self, state: JobState) -> None:
        """Redraw with `state`."""
        ended, _, flying = status_text(state).partition(" | ")
        self.bar.bar_format = self.FORMAT + ended.replace("{", "{{").replace("}", "}}")
        self.bar.n = 100.0 * state.estimate.fraction
        self.flying.set_description_str(flying, refresh=False)
        self.bar.refresh()
        self.flying.refresh()

    def close(self, state: JobState) -> None:
        """Draw `state` a last time and close the lines."""
        self.show(state)
        self.flying.close()
        self.bar.close()


class LogLines:
    """Without a terminal: the state as a log line at most once per `every` seconds of `clock`,
    and at the end."""

    def __init__(
        self, desc: str, every: float = LOG_EVERY_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.desc, self.throttle = desc, Throttle(every, clock)

    def show(self, state: JobState) -> None:
        """Log `state` if a line is due."""
        if self.throttle.due():
            self._log(state)

    def close(self, state: JobState) -> None:
        """Log the final state."""
        self._log(state)

    def _log(self, state: JobState) -> None:
        done = 100.0 * state.estimate.fraction
        log.info("%s %.0f%% of the estimated work: %s", self.desc, done, status_text(state))


def display_for(desc: str, interactive: bool | None = None) -> Display:
    """A `Bar` on a terminal (stderr, or `interactive`), else `LogLines`."""
    terminal = sys.stderr.isatty() if interactive is None else interactive
    return Bar(desc) if terminal else LogLines(desc)


@contextlib.contextmanager
def watching(watch: Watch, display: Display, every: float = POLL_EVERY_S) -> Iterator[Watch]:
    """Poll `watch` and show it on `display` every `every` seconds in a thread for the block;
    the thread is stopped and joined when the block ends, however it ends."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(every):
            watch.poll()
            display.show(watch.state())

    thread = threading.Thread(target=loop, name="nrc-progress", daemon=True)
    display.show(watch.state())
    thread.start()
    try:
        yield watch
    finally:
        stop.set()
        thread.join()
        watch.poll()
        display.close(watch.state())


class Watched:
    """`launcher` with the progress of each launch shown (`display_for`; docs/training.md,
    "Progress"); `desc` names the job."""

    def __init__(
        self,
        launcher: Launcher,
        desc: str = "runs",
        interactive: bool | None = None,
        every: float = POLL_EVERY_S,
    ) -> None:
        self.launcher, self.desc, self.interactive, self.every = launcher, desc, interactive, every

    def launch(self, specs: Sequence[RunSpec], done: Done) -> None:
        """Launch `specs` through the wrapped launcher while their progress is shown."""
        watch = Watch(specs)

        def finished(spec: RunSpec, status: Status) -> None:
            watch.finished(spec, status)
            done(spec, status)

        display = display_for(self.desc, self.interactive)
        # on a terminal, log lines go above the bar instead of through it
        redirect = logging_redirect_tqdm() if isinstance(display, Bar) else contextlib.nullcontext()
        with redirect, watching(watch, display, self.every):
            self.launcher.launch(specs, finished)
