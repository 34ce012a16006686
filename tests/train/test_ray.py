"""The Ray launcher (docs/distributed.md): the same tables as the process pool, a killed worker
retried and resumed, a failed run recorded while the others complete, a killed driver rerun
without retraining, the options checked, and Ray never imported by `import nrc`.

One local Ray instance (2 CPUs) serves the whole session; the killed-driver test starts its own
in a subprocess, as the command line would."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from nrc.train import (
    ProcessPool,
    RunInUseError,
    RunSpec,
    RunStore,
    Serial,
    TrainConfig,
    ray_launch,
    run_points,
)
from nrc.train.launch import Done, Status
from nrc.train.ray_launch import (
    RayLauncher,
    _train_task,
    capacity,
    check_capacity,
    launcher_from_options,
)
from tests.train.conftest import make_data
from tests.train.test_launch import _alive, _children

ROOT = Path(__file__).parents[2]
# Ray's two agents of a local instance wait on a fixed 60 s GCS timeout before they exit when
# the driver is killed with SIGKILL (docs/distributed.md); everything else goes at once.
AGENTS = ("ray::DashboardA", "ray::RuntimeEnv")
DRIVER = """
import sys
from nrc.train import TrainConfig, run_points
from nrc.train.ray_launch import RayLauncher
from tests.train.conftest import make_data
points = [(name, TrainConfig(**config)) for name, config in {points}]
run_points(points, sys.argv[1], launcher=RayLauncher(num_cpus=2, data=make_data()),
           progress=False)
"""


@pytest.fixture(scope="session")
def ray_session() -> Iterator[Any]:
    """One local Ray instance for every test here; its processes end with the session."""
    import ray

    ray.init(address="local", num_cpus=2, include_dashboard=False)
    started = _descendants(os.getpid())
    yield ray
    ray.shutdown()
    _reap(started, seconds=10)


def _descendants(pid: int) -> set[int]:
    """Every live process below `pid`."""
    out = set()
    for child in _children(pid):
        out |= {child} | _descendants(child)
    return out


def _reap(pids: set[int], seconds: float) -> set[int]:
    """Wait up to `seconds` for `pids` to end, then SIGKILL the rest; returns those it killed."""
    deadline = time.monotonic() + seconds
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = {p for p in pids if _alive(p)}
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    return left


def _name(pid: int) -> str:
    """The process's command name ("" once it is gone)."""
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _wait_for(condition: Any, seconds: float, what: str) -> None:
    """Poll `condition()` until true; fail naming `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _points(tiny: TrainConfig, **changes: Any) -> list[tuple[str, TrainConfig]]:
    """Three points of `tiny` (seeds 0–2) with `changes`."""
    return [(f"seed={s}", dataclasses.replace(tiny, seed=s, **changes)) for s in range(3)]


def _table(root: Path) -> pd.DataFrame:
    return pd.read_parquet(root / "sweep.parquet")


class _Counting:
    """A launcher that records every `done` call of the launcher it wraps."""

    def __init__(self, launcher: Any) -> None:
        self.launcher, self.calls = launcher, []

    def launch(self, specs: Sequence[RunSpec], done: Done) -> None:
        def counted(spec: RunSpec, status: Status) -> None:
            self.calls.append(spec.name)
            done(spec, status)

        self.launcher.launch(specs, counted)


def test_a_sweep_on_ray_gives_the_process_pools_table_bit_for_bit(
    ray_session: Any, tiny: TrainConfig, tmp_path: Path
) -> None:
    points, data = _points(tiny), make_data()
    launcher = _Counting(RayLauncher(data=data))
    on_ray = run_points(points, tmp_path / "ray", launcher=launcher, progress=False)
    run_points(points, tmp_path / "pool", launcher=ProcessPool(2, data), progress=False)
    assert sorted(launcher.calls) == ["seed=0", "seed=1", "seed=2"]  # each reported once
    assert (on_ray.status["status"] == "complete").all()
    assert len(_table(tmp_path / "ray")) == 3 * 5  # epochs 0, 10, …, 40 of each run
    pd.testing.assert_frame_equal(_table(tmp_path / "ray"), _table(tmp_path / "pool"))


def test_a_failed_run_is_recorded_and_the_others_complete(
    ray_session: Any, tiny: TrainConfig, tmp_path: Path
) -> None:
    points = _points(tiny)
    points[1] = ("diverges", dataclasses.replace(tiny, lr=1e6))
    run_points(points, tmp_path, launcher=RayLauncher(data=make_data()), progress=False)
    status = {row["run"]: row for row in json.loads((tmp_path / "sweep_status.json").read_text())}
    assert {name: row["status"] for name, row in status.items()} == {
        "seed=0": "complete",
        "diverges": "failed",
        "seed=2": "complete",
    }
    assert status["diverges"]["error"].startswith("FloatingPointError: training diverged at epoch")


def test_a_killed_worker_is_retried_and_resumes_to_the_identical_table(
    ray_session: Any, tiny: TrainConfig, tmp_path: Path
) -> None:
    config = dataclasses.replace(tiny, epochs=3000, eval_every=100, checkpoint_every=100)
    run_dir, result = tmp_path / "ray" / "long", {}

    def sweep_on_ray() -> None:
        launcher = RayLauncher(data=make_data())
        result["ray"] = run_points([("long", config)], tmp_path / "ray", launcher=launcher)

    sweep = threading.Thread(target=sweep_on_ray)
    sweep.start()
    _wait_for(lambda: (run_dir / "checkpoint.pt").exists(), 60, "the first checkpoint")
    worker = int((run_dir / ".lock").read_text())  # the pid of the process training the run
    assert worker != os.getpid() and not (run_dir / "summary.json").exists()
    os.kill(worker, signal.SIGKILL)
    sweep.join(timeout=120)
    assert result["ray"].status["status"].tolist() == ["complete"]
    assert "resuming run" in (run_dir / "train.log").read_text()
    run_points([("long", config)], tmp_path / "serial", launcher=Serial(make_data()))
    pd.testing.assert_frame_equal(_table(tmp_path / "ray"), _table(tmp_path / "serial"))


def test_a_task_waits_for_a_lock_that_is_still_being_released(
    tiny: TrainConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = RunSpec("held", tiny, tmp_path / "held")
    with RunStore(spec.dir).locked():  # a dead worker's lock that the kernel has not yet released
        task = threading.Thread(target=_train_task, args=(spec, make_data(), 1))
        task.start()  # the task's own open file: flock refuses it, even in this process
        time.sleep(2.5)
        assert task.is_alive() and not (spec.dir / "summary.json").exists()
    released = time.time()
    task.join(timeout=60)
    assert (spec.dir / "summary.json").stat().st_mtime > released
    monkeypatch.setattr(ray_launch, "LOCK_TRIES", 3)
    monkeypatch.setattr(ray_launch, "LOCK_WAIT_S", 0.01)
    other = RunSpec("other", tiny, tmp_path / "other")
    with RunStore(other.dir).locked(), pytest.raises(RunInUseError, match="in use by another"):
        _train_task(other, make_data(), 1)  # a lock that stays held: in use, after 3 tries


def test_a_task_sends_the_metrics_to_the_runs_tracker(tiny: TrainConfig, tmp_path: Path) -> None:
    spec = RunSpec("logged", dataclasses.replace(tiny, epochs=10), tmp_path / "r", "tensorboard")
    _train_task(spec, make_data(), 1)
    assert list((spec.dir / "logs").rglob("events.out.tfevents.*"))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_killed_driver_rerun_reuses_finished_runs_and_resumes_the_rest(
    tiny: TrainConfig, tmp_path: Path
) -> None:
    long = dataclasses.replace(tiny, epochs=5000, eval_every=100, checkpoint_every=100)
    points = [("a", tiny), ("b", dataclasses.replace(tiny, seed=1)), ("long", long)]
    code = DRIVER.format(points=[(n, dataclasses.asdict(c)) for n, c in points])
    command = [sys.executable, "-c", code, str(tmp_path)]
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    driver = subprocess.Popen(command, env=env, cwd=ROOT)
    leftovers: set[int] = set()
    try:
        marks = [tmp_path / "a" / "summary.json", tmp_path / "b" / "summary.json"]
        marks.append(tmp_path / "long" / "checkpoint.pt")
        _wait_for(
            lambda: all(m.exists() for m in marks) or driver.poll() is not None,
            90,
            "a and b to finish and the long run's first checkpoint",
        )
        assert driver.poll() is None, "the driver ended before it was killed"
        finished = {n: (tmp_path / n / "metrics.parquet").stat().st_mtime_ns for n in ("a", "b")}
        leftovers = _descendants(driver.pid)
        worker = int((tmp_path / "long" / ".lock").read_text())
        assert worker in leftovers
        driver.send_signal(signal.SIGKILL)
        driver.wait()
        ray_processes = {p for p in leftovers if not _name(p).startswith(AGENTS)}
        assert not _reap(ray_processes, seconds=15), "the driver's Ray processes outlived it"
        assert not (tmp_path / "long" / "summary.json").exists()
        subprocess.run(command, env=env, cwd=ROOT, check=True, timeout=120)
    finally:  # a failing run of this test must not leave orphans behind either
        driver.kill()
        _reap(leftovers, seconds=0)
    status = json.loads((tmp_path / "sweep_status.json").read_text())
    assert [row["status"] for row in status] == ["complete"] * 3
    assert {n: (tmp_path / n / "metrics.parquet").stat().st_mtime_ns for n in finished} == finished
    assert "resuming run" in (tmp_path / "long" / "train.log").read_text()


def test_importing_nrc_does_not_import_ray() -> None:
    code = (
        "import json, sys, nrc, nrc.train, nrc.train.ray_launch, nrc.cli; "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'ray')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == []


class _FakeRay:
    """Just enough of Ray's API to watch the launcher submit, wait and report."""

    class exceptions:  # mirrors `ray.exceptions`
        class RayTaskError(Exception):
            def __init__(self, cause: Exception) -> None:
                self.cause = cause

    def __init__(self, resources: dict[str, float]) -> None:
        self.resources, self.puts, self.options = resources, [], {}
        self.pending: dict[object, RunSpec] = {}
        self.most_in_flight = 0

    def cluster_resources(self) -> dict[str, float]:
        return self.resources

    def put(self, value: Any) -> str:
        self.puts.append(value)
        return "data-ref"

    def remote(self, _function: Any) -> Any:
        fake = self

        class Task:
            def options(self, **options: Any) -> Task:
                fake.options = options
                return self

            def remote(self, spec: RunSpec, data: Any, threads: int) -> object:
                assert data == "data-ref" and threads == fake.options["num_cpus"]
                ref = object()
                fake.pending[ref] = spec
                fake.most_in_flight = max(fake.most_in_flight, len(fake.pending))
                return ref

        return Task()

    def wait(self, refs: list[object], num_returns: int) -> tuple[list[object], list[object]]:
        return refs[:num_returns], refs[num_returns:]

    def get(self, ref: object) -> None:
        spec = self.pending.pop(ref)
        if spec.name == "r3":  # a node with two more GPUs joins
            self.resources = {"CPU": 16.0, "GPU": 3.0}
        if spec.name == "bad":
            raise self.exceptions.RayTaskError(ValueError("training diverged at epoch 3"))


def test_tasks_in_flight_follow_the_clusters_resources_and_data_is_put_once(
    tiny: TrainConfig, tmp_path: Path
) -> None:
    fake = _FakeRay({"CPU": 8.0, "GPU": 1.0})
    names = ["r0", "bad", "r2", "r3", *(f"r{i}" for i in range(4, 12))]
    specs = [RunSpec(name, tiny, tmp_path / name) for name in names]
    launcher = RayLauncher(cpus_per_run=2, gpus_per_run=0.5, max_retries=3, data=make_data())
    reported: dict[str, Status] = {}
    launcher._run_all(fake, specs, lambda spec, status: reported.setdefault(spec.name, status))
    assert len(fake.puts) == 1
    assert fake.most_in_flight == 6  # 1 GPU / 0.5: 2 runs at once, then 3 GPUs: 6
    assert fake.options == {"num_cpus": 2, "num_gpus": 0.5, "max_retries": 3}
    assert list(reported) == names and not fake.pending
    assert reported["bad"] == {
        "status": "failed",
        "error": "ValueError: training diverged at epoch 3",
    }


def test_capacity_counts_whole_runs_and_refuses_a_cluster_that_holds_none() -> None:
    assert capacity({"CPU": 2.0}, 1, 0) == 2
    assert capacity({"CPU": 16.0, "GPU": 1.0}, 1, 0.1) == 10
    assert capacity({"CPU": 3.0, "GPU": 4.0}, 2, 1) == 1
    assert capacity({"CPU": 8.0}, 1, 0.25) == 0
    with pytest.raises(ValueError, match=r"\(8 CPU, 0 GPU\) cannot hold one run"):
        check_capacity({"CPU": 8.0}, 1, 0.25)
    with pytest.raises(ValueError, match="cpus_per_run=4"):
        check_capacity({"CPU": 2.0}, 4, 0)
    check_capacity({"CPU": 2.0}, 2, 0)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"launcher": "dask"}, "--launcher must be one of process, ray, got 'dask'"),
        ({"launcher": "process", "address": "auto"}, "--address apply to --launcher ray"),
        ({"launcher": "process", "gpus_per_run": 0.5}, "--gpus-per-run apply to --launcher ray"),
        ({"address": "auto", "out": Path("runs/x")}, "output directory runs/x is relative"),
        ({"jobs": 0}, "jobs must be a positive integer"),
        ({"cpus_per_run": 0}, "cpus_per_run must be an integer >= 1, got 0"),
        ({"cpus_per_run": 2.5}, "cpus_per_run must be an integer >= 1, got 2.5"),
        ({"cpus_per_run": 3, "jobs": 2}, "cpus_per_run=3 exceeds the local instance's num_cpus=2"),
        ({"gpus_per_run": 1.5}, "gpus_per_run must be a number >= 0, fractional only below 1"),
        ({"gpus_per_run": -0.5}, "gpus_per_run must be a number >= 0"),
        ({"gpus_per_run": float("nan")}, "gpus_per_run must be a number >= 0"),
        ({"address": ""}, "address must be a Ray address"),
        ({"threads": 2}, "--threads applies to --launcher process only; use --cpus-per-run"),
        ({"batched": True}, "--batched applies to --launcher process only"),
    ],
)
def test_every_launcher_option_is_checked(options: dict[str, Any], message: str) -> None:
    given = {
        "launcher": "ray",
        "jobs": 2,
        "address": None,
        "cpus_per_run": None,
        "gpus_per_run": None,
        "out": Path("/shared/nrc"),
    }
    batched, threads = options.pop("batched", None), options.pop("threads", None)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        launcher_from_options(**(given | options), batched=batched, threads=threads)


def test_the_options_build_the_launcher_they_name(tmp_path: Path) -> None:
    local = launcher_from_options("ray", 3, None, None, 0.25, tmp_path)
    assert isinstance(local, RayLauncher)
    assert (local.address, local.num_cpus, local.cpus_per_run, local.gpus_per_run) == (
        None,
        3,
        1,
        0.25,
    )
    cluster = launcher_from_options("ray", 3, "auto", 2, None, Path("/shared/nrc"))
    assert (cluster.address, cluster.num_cpus, cluster.cpus_per_run) == ("auto", None, 2)
    pool = launcher_from_options("process", 2, None, None, None, Path("runs"), batched=False)
    assert isinstance(pool, ProcessPool) and pool.jobs == 2
    serial = launcher_from_options("process", 1, None, None, None, Path("r"), batched=False)
    assert isinstance(serial, Serial)


def test_a_cluster_address_refuses_relative_run_directories(tiny: TrainConfig) -> None:
    spec = RunSpec("r", tiny, Path("runs/r"))
    with pytest.raises(ValueError, match="output directory runs/r is relative"):
        RayLauncher(address="auto").launch([spec], lambda *_: None)
