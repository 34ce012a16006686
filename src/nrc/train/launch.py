"""Launchers: where runs execute. A run is plain data (`RunSpec`), so any launcher takes a list.

`Serial` trains in this process, loading each dataset once for all its runs; `ProcessPool`
trains `jobs` runs at a time in fresh interpreters (spawn) that die with their parent
(Linux `PR_SET_PDEATHSIG`) and refuse to start a queued run once the parent is gone
(docs/reliability.md). Every launcher returns one status per run and never stops at a failure.
"""

from __future__ import annotations

import concurrent.futures as cf
import ctypes
import logging
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch

from nrc.train import setup
from nrc.train.config import TrainConfig
from nrc.train.runner import run

log = logging.getLogger(__name__)

Status = dict[str, Any]  # {"status": "complete" | "failed", "error": str | None}
Done = Callable[["RunSpec", Status], None]

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


@dataclass(frozen=True)
class RunSpec:
    """One run: a name (unique in its launch), its config and its directory."""

    name: str
    config: TrainConfig
    dir: Path


class Launcher(Protocol):
    """Trains every spec and reports each one's status to `done` as it finishes."""

    def launch(self, specs: Sequence[RunSpec], done: Done) -> None: ...


def check_jobs(jobs: Any) -> int:
    """`jobs` if it is a positive integer, else ValueError."""
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a positive integer, got {jobs!r}")
    return jobs


def _threads(jobs: int) -> int:
    """Torch threads per run when `jobs` runs share this machine's cores."""
    return max(1, (os.cpu_count() or 1) // jobs)


def _attempt(call: Callable[[], Any]) -> Status:
    """Status of one run: complete, or failed with the error (one failure never stops a sweep)."""
    try:
        call()
        return {"status": "complete", "error": None}
    except Exception as err:  # a run may fail in any way; the launch must record it and go on
        log.exception("run failed")
        return {"status": "failed", "error": f"{type(err).__name__}: {err}"}


def _load_key(config: TrainConfig) -> tuple[Any, ...]:
    """What decides the tensors `nrc.data.load` returns for `config`."""
    return (
        config.dataset,
        config.train_size,
        config.test_size,
        config.image_size,
        config.image_normalization,
    )


class Serial:
    """Runs in this process, one after the other; each dataset is loaded once (or `data`, the
    same tensors for every run, is used)."""

    def __init__(self, data: Any | None = None) -> None:
        self.data = data

    def launch(self, specs: Sequence[RunSpec], done: Done) -> None:
        torch.set_num_threads(_threads(1))
        loaded: dict[tuple[Any, ...], Any] = {}

        def data_for(config: TrainConfig) -> Any:
            if self.data is not None:
                return self.data
            key = _load_key(config)
            if key not in loaded:
                loaded[key] = setup.load_dataset(config)
            return loaded[key]

        for spec in specs:
            done(spec, _attempt(lambda s=spec: run(s.config, s.dir, data=data_for(s.config))))


def _die_with_parent(parent: int) -> None:
    """Worker initializer: SIGKILL this process when `parent` dies; exit if it already has."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            log.warning("prctl(PR_SET_PDEATHSIG) failed: errno %d", ctypes.get_errno())
    if os.getppid() != parent:
        os._exit(1)


def _run_in_worker(spec: RunSpec, data: Any, threads: int, parent: int) -> None:
    """One run in a pool worker, unless the parent that queued it is gone."""
    if os.getppid() != parent:
        raise RuntimeError(f"{spec.name}: the launching process {parent} is gone; not started")
    torch.set_num_threads(threads)
    run(spec.config, spec.dir, data=data)


class ProcessPool:
    """`jobs` runs at a time in spawned worker processes, in the order given."""

    def __init__(self, jobs: int, data: Any | None = None) -> None:
        self.jobs, self.data = check_jobs(jobs), data

    def launch(self, specs: Sequence[RunSpec], done: Done) -> None:
        threads, parent = _threads(self.jobs), os.getpid()
        ctx = multiprocessing.get_context("spawn")  # a clean interpreter: no forked torch state
        with cf.ProcessPoolExecutor(
            max_workers=self.jobs,
            mp_context=ctx,
            initializer=_die_with_parent,
            initargs=(parent,),
        ) as pool:
            futures = {
                pool.submit(_run_in_worker, spec, self.data, threads, parent): spec
                for spec in specs
            }
            for future in cf.as_completed(futures):
                done(futures[future], _attempt(future.result))


def launcher_for(jobs: int, data: Any | None = None) -> Launcher:
    """`Serial` for one job, else a `ProcessPool` of `jobs` workers."""
    return Serial(data) if check_jobs(jobs) == 1 else ProcessPool(jobs, data)
