"""The Ray launcher: every run one Ray task, on a local Ray instance or an existing cluster
(docs/distributed.md).

Each `RunSpec` becomes one task with `cpus_per_run` CPUs and `gpus_per_run` GPUs. These are
Ray's logical resources: a fractional GPU packs several runs onto one device, it caps no memory.
At most as many tasks as the cluster's resources hold are in flight (`ray.wait`); the rest wait
on the driver. A task whose worker dies is retried (`max_retries`) and resumes from the run's
checkpoint. A task that fails is reported as failed and the others go on. The run-directory lock
keeps two tasks from training one run (docs/reliability.md). Ray is imported when a launch
starts, never when `nrc` is imported.

`launcher_from_options` turns the command line's launcher options into a launcher.
"""

from __future__ import annotations

import itertools
import logging
import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import torch

from nrc.train.launch import Done, Launcher, RunSpec, attempt, check_jobs, launcher_for
from nrc.train.runner import run
from nrc.train.store import RunInUseError

log = logging.getLogger(__name__)

LAUNCHERS = ("process", "ray")
# A retried task may start while the kernel still releases the dead worker's lock: it tries
# this many times, this many seconds apart, before the run counts as in use by another process.
LOCK_TRIES = 10
LOCK_WAIT_S = 1.0


def _check_count(value: Any, name: str, minimum: int) -> int:
    """`value` if it is an integer ≥ `minimum`, else ValueError naming `name`."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def check_gpus(gpus: Any) -> float:
    """`gpus` per run as Ray accepts it: a number ≥ 0, fractional only below 1 (several runs
    share a device), whole above; else ValueError."""
    ok = isinstance(gpus, int | float) and not isinstance(gpus, bool) and math.isfinite(gpus)
    if not ok or gpus < 0 or (gpus > 1 and gpus != int(gpus)):
        raise ValueError(
            f"gpus_per_run must be a number >= 0, fractional only below 1 (e.g. 0.25), got {gpus!r}"
        )
    return float(gpus)


def check_shared_path(path: Path, address: str | None) -> None:
    """With a cluster `address`, `path` must be absolute (on storage that all nodes see); else
    ValueError naming it."""
    if address is not None and not Path(path).is_absolute():
        raise ValueError(
            f"output directory {path} is relative, but on a Ray cluster (address {address!r}) "
            "every node must find it: give an absolute --out on storage that all nodes share"
        )


def capacity(resources: Mapping[str, float], cpus_per_run: int, gpus_per_run: float) -> int:
    """How many runs of `cpus_per_run` CPUs and `gpus_per_run` GPUs the cluster's `resources`
    (`ray.cluster_resources()`) hold at once (0: not even one)."""
    cpus, gpus = resources.get("CPU", 0.0), resources.get("GPU", 0.0)
    fits = [cpus / cpus_per_run] + ([gpus / gpus_per_run] if gpus_per_run else [])
    return int(min(fits) + 1e-9)  # 1 / 0.1 GPUs is 10 runs, not 9.999…


def check_capacity(resources: Mapping[str, float], cpus_per_run: int, gpus_per_run: float) -> None:
    """ValueError when the cluster's `resources` cannot hold even one run."""
    if capacity(resources, cpus_per_run, gpus_per_run) < 1:
        raise ValueError(
            f"the Ray cluster ({resources.get('CPU', 0.0):g} CPU, {resources.get('GPU', 0.0):g} "
            f"GPU) cannot hold one run of cpus_per_run={cpus_per_run} and "
            f"gpus_per_run={gpus_per_run:g}"
        )


def _train_task(spec: RunSpec, data: Any | None, threads: int) -> None:
    """Body of one Ray task: train `spec` with `threads` torch threads, waiting (`LOCK_TRIES`)
    for a lock that the dead worker of an earlier attempt still holds."""
    torch.set_num_threads(threads)
    for tried in range(1, LOCK_TRIES + 1):
        try:
            run(spec.config, spec.dir, data=data, tracker=spec.tracker)
            return
        except RunInUseError:
            if tried == LOCK_TRIES:
                raise
            log.info("%s: run directory locked, try %d of %d", spec.name, tried, LOCK_TRIES)
            time.sleep(LOCK_WAIT_S)


def _result(ray: ModuleType, ref: Any) -> Any:
    """The task's result; an exception raised by the task is re-raised as itself (not Ray's
    wrapper), so a run's status names the error."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as err:
        raise err.cause from None


def _connect(ray: ModuleType, address: str | None, num_cpus: int | None) -> bool:
    """Connect this process to Ray: to the cluster at `address`, else to a new local instance
    of `num_cpus` CPUs (default: all), even where a `ray start` cluster runs. An existing
    connection is used as it is. True when this call connected, so the launch must
    disconnect (and stop a local instance) at its end."""
    if ray.is_initialized():
        return False
    if address is None:
        ray.init(address="local", num_cpus=num_cpus, include_dashboard=False)
    else:
        ray.init(address=address)
    return True


class RayLauncher:
    """Every run one Ray task with `cpus_per_run` CPUs (its torch threads) and `gpus_per_run`
    GPUs, retried `max_retries` times when its worker dies.

    Without `address` a local Ray instance of `num_cpus` CPUs is started and shut down at the
    end of the launch; with one (e.g. "auto") the launch connects to that cluster and leaves
    it running; a process already connected to Ray uses that connection. `data`, the same
    tensors for every run, goes into the object store once.
    """

    def __init__(
        self,
        address: str | None = None,
        cpus_per_run: int = 1,
        gpus_per_run: float = 0,
        max_retries: int = 2,
        data: Any | None = None,
        num_cpus: int | None = None,
    ) -> None:
        if address is not None and (not isinstance(address, str) or not address.strip()):
            raise ValueError(f"address must be a Ray address such as 'auto', got {address!r}")
        self.address = address
        self.cpus_per_run = _check_count(cpus_per_run, "cpus_per_run", 1)
        self.gpus_per_run = check_gpus(gpus_per_run)
        self.max_retries = _check_count(max_retries, "max_retries", 0)
        self.num_cpus = None if num_cpus is None else _check_count(num_cpus, "num_cpus", 1)
        if self.num_cpus is not None and self.cpus_per_run > self.num_cpus:
            raise ValueError(
                f"cpus_per_run={cpus_per_run} exceeds the local instance's num_cpus={num_cpus}"
            )
        self.data = data

    def launch(self, specs: Sequence[RunSpec], done: Done) -> None:
        """Train every spec as a Ray task and report each one's status to `done` once, as it
        finishes (a failure with its error; the other runs go on)."""
        for spec in specs:
            check_shared_path(spec.dir, self.address)
        if not specs:
            return
        import ray  # here, so that importing nrc does not import Ray

        owned = _connect(ray, self.address, self.num_cpus)
        try:
            self._run_all(ray, specs, done)
        finally:
            if owned:
                ray.shutdown()

    def _run_all(self, ray: ModuleType, specs: Sequence[RunSpec], done: Done) -> None:
        """Submit tasks while the cluster has room (its resources read again as each task
        ends, so nodes that join later take runs), report each task as it completes."""
        check_capacity(ray.cluster_resources(), self.cpus_per_run, self.gpus_per_run)
        task = ray.remote(_train_task).options(
            num_cpus=self.cpus_per_run, num_gpus=self.gpus_per_run, max_retries=self.max_retries
        )
        data = None if self.data is None else ray.put(self.data)
        log.info("%d runs on Ray", len(specs))
        todo, pending = iter(specs), {}
        while True:
            room = capacity(ray.cluster_resources(), self.cpus_per_run, self.gpus_per_run)
            slots = max(1, room)  # a lost node leaves at least one run going
            for spec in itertools.islice(todo, max(0, slots - len(pending))):
                pending[task.remote(spec, data, self.cpus_per_run)] = spec
            if not pending:
                return
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                done(pending.pop(ref), attempt(lambda ref=ref: _result(ray, ref)))


def launcher_from_options(
    launcher: str,
    jobs: int,
    address: str | None,
    cpus_per_run: int | None,
    gpus_per_run: float | None,
    out: Path,
    *,
    batched: bool | None = None,
    threads: int | None = None,
) -> Launcher:
    """The launcher of the command line's options, each checked (ValueError naming it).

    "process": `nrc.train.launch.launcher_for(jobs, batched=..., threads=...)`; `--address`,
    `--cpus-per-run`, `--gpus-per-run` must be unset (None). "ray": a `RayLauncher` on the
    cluster at `address` (then `out` must be absolute) or on a local instance of `jobs` CPUs;
    `--batched` and `--threads` must be unset (a run's threads are its `cpus_per_run`, default
    1; `gpus_per_run` default 0).
    """
    check_jobs(jobs)
    if launcher == "process":
        ray_only = {
            "--address": address,
            "--cpus-per-run": cpus_per_run,
            "--gpus-per-run": gpus_per_run,
        }
        stray = [name for name, value in ray_only.items() if value is not None]
        if stray:
            raise ValueError(f"{', '.join(stray)} apply to --launcher ray only")
        return launcher_for(jobs, batched=batched, threads=threads)
    if launcher != "ray":
        raise ValueError(f"--launcher must be one of {', '.join(LAUNCHERS)}, got {launcher!r}")
    if batched:
        raise ValueError("--batched applies to --launcher process only")
    if threads is not None:
        raise ValueError("--threads applies to --launcher process only; use --cpus-per-run")
    check_shared_path(out, address)
    return RayLauncher(
        address=address,
        cpus_per_run=1 if cpus_per_run is None else cpus_per_run,
        gpus_per_run=0 if gpus_per_run is None else gpus_per_run,
        num_cpus=None if address is not None else jobs,
    )
