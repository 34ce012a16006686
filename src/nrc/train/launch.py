"""Launchers: where runs execute. A run is plain data (`RunSpec`), so any launcher takes a list.

`Serial` trains in this process, loading each dataset once for all its runs; `ProcessPool`
trains `jobs` runs at a time in fresh interpreters (spawn) that die with their parent
(Linux `PR_SET_PDEATHSIG`) and refuse to start a queued run once the parent is gone
(docs/reliability.md); `Batched` trains every group of MLP runs that share architecture and
dataset as one stack (`nrc.train.batched`). Every launcher returns one status per run and never
stops at a failure.

Threads (docs/benchmarks.md, "Threads"): an MLP run gets one torch thread (a second one gains
nothing for the paper's MLP and spins against the other runs), a ResNet run its share of the
cores; `threads` overrides both.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import multiprocessing
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch

from nrc.train import setup
from nrc.train.batched import group_key, stackable, train_stack
from nrc.train.config import TrainConfig
from nrc.train.distributed import die_with_parent
from nrc.train.runner import run

log = logging.getLogger(__name__)

Status = dict[str, Any]  # {"status": "complete" | "failed", "error": str | None}
Done = Callable[["RunSpec", Status], None]


@dataclass(frozen=True)
class RunSpec:
    """One run: a name (unique in its launch), its config, its directory and the tracker its
    metrics also go to (`tracker`: None, "tensorboard", "wandb" or "mlflow")."""

    name: str
    config: TrainConfig
    dir: Path
    tracker: str | None = None


class Launcher(Protocol):
    """Trains every spec and reports each one's status to `done` as it finishes."""

    def launch(self, specs: Sequence[RunSpec], done: Done) -> None: ...


def check_jobs(jobs: Any) -> int:
    """`jobs` if it is a positive integer, else ValueError."""
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a positive integer, got {jobs!r}")
    return jobs


def check_threads(threads: Any) -> int | None:
    """`threads` if it is None or a positive integer, else ValueError."""
    if threads is not None and (
        isinstance(threads, bool) or not isinstance(threads, int) or threads < 1
    ):
        raise ValueError(f"threads must be a positive integer, got {threads!r}")
    return threads


def threads_for(config: TrainConfig, jobs: int, threads: int | None = None) -> int:
    """Torch threads of one run of `config` when `jobs` runs share this machine's cores:
    `threads` if given, else 1 for the MLP, else the run's share of the cores."""
    if threads is not None:
        return threads
    return 1 if config.model == "mlp" else max(1, (os.cpu_count() or 1) // jobs)


def attempt(call: Callable[[], Any]) -> Status:
    """Status of one run: complete, or failed with the error (one failure never stops a sweep)."""
    try:
        call()
        return {"status": "complete", "error": None}
    except Exception as err:  # a run may fail in any way; the launch must record it and go on
        log.exception("run failed")
        return {"status": "failed", "error": f"{type(err).__name__}: {err}"}


def _load_key(config: TrainConfig) -> tuple[Any, ...]:
    """What decides the tensors `nrc.data.load` returns for `config`."""
    return tuple(sorted(setup.load_arguments(config).items()))


class _Datasets:
    """Each dataset loaded once for all the runs of a launch (or `data` for every run)."""

    def __init__(self, data: Any | None) -> None:
        self.data = data
        self.loaded: dict[tuple[Any, ...], Any] = {}

    def __call__(self, config: TrainConfig) -> Any:
        if self.data is not None:
            return self.data
        key = _load_key(config)
        if key not in self.loaded:
            self.loaded[key] = setup.load_dataset(config)
        return self.loaded[key]


def _run_here(spec: RunSpec, data_for: _Datasets, threads: int | None) -> Status:
    """One run in this process with its threads (see `threads_for`)."""
    torch.set_num_threads(threads_for(spec.config, 1, threads))
    return attempt(
        lambda: run(spec.config, spec.dir, data=data_for(spec.config), tracker=spec.tracker)
    )


class Serial:
    """Runs in this process, one after the other; each dataset is loaded once (or `data`, the
    same tensors for every run, is used)."""

    def __init__(self, data: Any | None = None, threads: int | None = None) -> None:
        self.data, self.threads = data, check_threads(threads)

    def launch(self, specs: Sequence[RunSpec], done: Done) -> None:
        data_for = _Datasets(self.data)
        for spec in specs:
            done(spec, _run_here(spec, data_for, self.threads))


def _run_in_worker(spec: RunSpec, data: Any, threads: int, parent: int) -> None:
    """One run in a pool worker, unless the parent that queued it is gone."""
    if os.getppid() != parent:
        raise RuntimeError(f"{spec.name}: the launching process {parent} is gone; not started")
    torch.set_num_threads(threads)
    run(spec.config, spec.dir, data=data, tracker=spec.tracker)


class ProcessPool:
    """`jobs` runs at a time in spawned worker processes, in the order given."""

    def __init__(self, jobs: int, data: Any | None = None, threads: int | None = None) -> None:
        self.jobs, self.data, self.threads = check_jobs(jobs), data, check_threads(threads)

    def launch(self, specs: Sequence[RunSpec], done: Done) -> None:
        parent = os.getpid()
        ctx = multiprocessing.get_context("spawn")  # a clean interpreter: no forked torch state
        with cf.ProcessPoolExecutor(
            max_workers=self.jobs,
            mp_context=ctx,
            initializer=die_with_parent,
            initargs=(parent,),
        ) as pool:
            futures = {
                pool.submit(
                    _run_in_worker,
                    spec,
                    self.data,
                    threads_for(spec.config, self.jobs, self.threads),
                    parent,
                ): spec
                for spec in specs
            }
            for future in cf.as_completed(futures):
                done(futures[future], attempt(future.result))


class Batched:
    """Every group of stackable runs that share all but the per-model keys (architecture,
    dataset, sizes, schedule length; `nrc.train.batched.group_key`) trained as one stack in
    this process on `device` (default: CUDA if present), groups one after another; a run that
    cannot be stacked, is alone in its group or logs to a tracker, trains as a single run here."""

    def __init__(
        self,
        data: Any | None = None,
        device: torch.device | str | None = None,
        threads: int | None = None,
    ) -> None:
        self.data, self.device, self.threads = data, device, check_threads(threads)

    def launch(self, specs: Sequence[RunSpec], done: Done) -> None:
        data_for = _Datasets(self.data)
        groups: dict[tuple[Any, ...], list[RunSpec]] = {}
        for spec in specs:
            if stackable(spec.config) is None and spec.tracker is None:
                groups.setdefault(group_key(spec.config), []).append(spec)
            else:
                groups[("single", spec.name)] = [spec]
        for group in groups.values():
            if len(group) == 1:
                done(group[0], _run_here(group[0], data_for, self.threads))
                continue
            torch.set_num_threads(threads_for(group[0].config, 1, self.threads))
            try:
                status = train_stack(group, data_for(group[0].config), self.device)
            except Exception as err:  # the group's data or model failed: every run of it
                log.exception("stack of %d runs failed", len(group))
                failed = {"status": "failed", "error": f"{type(err).__name__}: {err}"}
                status = {spec.name: failed for spec in group}
            for spec in group:
                done(spec, status[spec.name])


def launcher_for(
    jobs: int,
    data: Any | None = None,
    *,
    batched: bool | None = None,
    threads: int | None = None,
) -> Launcher:
    """`Batched` when `batched` (default: when CUDA is present), else `Serial` for one job and
    a `ProcessPool` of `jobs` workers for more."""
    check_jobs(jobs)
    if batched if batched is not None else torch.cuda.is_available():
        return Batched(data, threads=threads)
    return Serial(data, threads) if jobs == 1 else ProcessPool(jobs, data, threads)
