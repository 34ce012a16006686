"""Progress of a launch: each run's progress file (atomic, throttled), the work and ETA estimate
on runs of known cost, the launching process's poller over a process pool, reused runs counted
as done, the poller stopped however the launch ends (docs/training.md, "Progress")."""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest

from nrc.train import ProcessPool, RunSpec, Serial, TrainConfig, run, run_points
from nrc.train import callbacks as callbacks_module
from nrc.train import progress as progress_module
from nrc.train.launch import Done
from nrc.train.progress import (
    PRIOR_OTHER,
    PRIOR_STEP_COST,
    PROGRESS,
    JobState,
    RunProgress,
    Throttle,
    Tracked,
    Watch,
    Watched,
    estimate,
    finish_time,
    read_run_progress,
    status_text,
    step_cost,
    step_costs,
    steps_per_epoch,
    watching,
    write_run_progress,
)
from tests.train.conftest import make_data


def mlp(epochs: int = 100, **changes: object) -> TrainConfig:
    """An MLP config of 1000 rows in batches of 250: 4 steps per epoch."""
    return TrainConfig(dataset="swimmer", train_size=1000, batch_size=250, epochs=epochs,
                       eval_every=epochs, checkpoint_every=epochs, **changes)  # fmt: skip


def at(epoch: int, epochs: int, time: float) -> RunProgress:
    return RunProgress(epoch, epochs, time)


def poller_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "nrc-progress"]


class Recorder:
    """A display that keeps every state it is shown."""

    def __init__(self) -> None:
        self.states: list[JobState] = []
        self.closed: JobState | None = None

    def show(self, state: JobState) -> None:
        self.states.append(state)

    def close(self, state: JobState) -> None:
        self.closed = state


def test_the_progress_file_is_replaced_whole_or_not_at_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_run_progress(tmp_path, 3, 10, now=5.0)
    assert read_run_progress(tmp_path) == RunProgress(3, 10, 5.0)

    def half_then_fail(self: Path, text: str, encoding: str | None = None) -> int:
        with open(self, "w", encoding=encoding) as f:
            f.write(text[: len(text) // 2])
        raise OSError("disk full")

    monkeypatch.setattr(Path, "write_text", half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        write_run_progress(tmp_path, 4, 10, now=6.0)
    monkeypatch.undo()
    assert read_run_progress(tmp_path) == RunProgress(3, 10, 5.0)
    assert sorted(p.name for p in tmp_path.iterdir()) == [PROGRESS]


def test_a_damaged_progress_file_is_an_error_naming_it(tmp_path: Path) -> None:
    assert read_run_progress(tmp_path) is None
    (tmp_path / PROGRESS).write_text('{"epoch": 3}')
    with pytest.raises(ValueError, match=PROGRESS):
        read_run_progress(tmp_path)
    write_run_progress(tmp_path, 11, 10)
    with pytest.raises(ValueError, match="outside 0..10"):
        read_run_progress(tmp_path)


def test_the_throttle_allows_one_answer_per_interval() -> None:
    now = iter([0.0, 0.4, 0.99, 1.0, 1.5, 2.2, 2.3])
    throttle = Throttle(every=1.0, clock=lambda: next(now))
    assert [throttle.due() for _ in range(7)] == [True, False, False, True, False, True, False]


def _recorded_writes(monkeypatch: pytest.MonkeyPatch, clock: object) -> list[tuple[int, int]]:
    """Make RunWriter's throttle use `clock` and record the epochs it writes."""
    writes: list[tuple[int, int]] = []
    original = callbacks_module.write_run_progress

    def recording(run_dir: Path, epoch: int, epochs: int) -> None:
        writes.append((epoch, epochs))
        original(run_dir, epoch, epochs)

    monkeypatch.setattr(callbacks_module, "write_run_progress", recording)
    monkeypatch.setattr(callbacks_module, "Throttle", lambda: Throttle(clock=clock))
    return writes


def test_a_run_writes_its_progress_at_start_and_end_and_between_at_most_once_a_second(
    tiny: TrainConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writes = _recorded_writes(monkeypatch, clock=lambda: 0.0)  # time stands still
    run(tiny, tmp_path / "still", data=make_data())
    assert writes == [(0, tiny.epochs), (tiny.epochs, tiny.epochs)]
    final = read_run_progress(tmp_path / "still")
    assert final is not None and (final.epoch, final.epochs) == (tiny.epochs, tiny.epochs)

    ticks = iter(range(10**6))
    writes = _recorded_writes(monkeypatch, clock=lambda: float(next(ticks)))  # 1 s per epoch
    run(tiny, tmp_path / "ticking", data=make_data())
    assert writes == [(e, tiny.epochs) for e in range(tiny.epochs + 1)]


def test_steps_per_epoch_from_the_config_or_its_dataset() -> None:
    assert steps_per_epoch(mlp()) == 4
    assert steps_per_epoch(dataclasses.replace(mlp(), train_size=1001)) == 5
    default = dataclasses.replace(mlp(), dataset="hopper", train_size=None)  # 10000 rows
    assert steps_per_epoch(default) == 40
    unknown = dataclasses.replace(mlp(), dataset="synthetic", train_size=None)
    assert steps_per_epoch(unknown) == 1


def test_step_costs_are_measured_per_model_kind_from_the_runs_seen_progressing() -> None:
    runs = [
        Tracked(mlp(), first=at(0, 100, 0.0), last=at(50, 100, 20.0)),  # 200 steps, 20 s
        Tracked(mlp(), first=at(10, 100, 100.0), last=at(30, 100, 108.0)),  # 80 steps, 8 s
        Tracked(mlp(model="resnet18"), first=at(2, 10, 0.0), last=at(4, 10, 16.0)),  # 8, 16 s
        Tracked(mlp(model="resnet34"), first=at(3, 10, 7.0), last=at(3, 10, 7.0)),  # no steps
        Tracked(mlp()),  # never seen
    ]
    costs = step_costs(runs)
    assert costs == pytest.approx({"mlp": 28.0 / 280, "resnet18": 16.0 / 8})
    assert step_cost("resnet34", {"mlp": 0.1}) == pytest.approx(
        0.1 * PRIOR_OTHER / PRIOR_STEP_COST["mlp"]
    )
    assert step_cost("resnet18", {}) == PRIOR_OTHER  # nothing measured: prior units


def test_finish_time_places_queued_runs_on_the_first_free_slot() -> None:
    assert finish_time([3.0, 1.0], [2.0, 2.0], slots=2) == 5.0  # 1+2=3, then 3+2=5
    assert finish_time([], [1.0, 2.0, 3.0], slots=1) == 6.0
    assert finish_time([], [1.0, 2.0, 3.0], slots=3) == 3.0
    assert finish_time([5.0], [], slots=4) == 5.0
    assert finish_time([], [], slots=2) == 0.0


def test_the_estimate_weighs_runs_by_their_measured_cost() -> None:
    mlp_run = Tracked(mlp(100), first=at(0, 100, 0.0), last=at(50, 100, 20.0))  # 0.1 s/step
    resnet = mlp(10, model="resnet18")
    resnet_run = Tracked(resnet, first=at(0, 10, 0.0), last=at(5, 10, 40.0))  # 2 s/step
    queued = Tracked(mlp(100))
    reused = Tracked(mlp(200), ended=True)
    result = estimate([mlp_run, resnet_run, queued, reused], slots=2)
    whole_mlp, whole_resnet = 100 * 4 * 0.1, 10 * 4 * 2.0
    done = whole_mlp / 2 + whole_resnet / 2 + 2 * whole_mlp
    assert result.total == pytest.approx(whole_mlp + whole_resnet + whole_mlp + 2 * whole_mlp)
    assert result.done == pytest.approx(done)
    # slot 1: the MLP's last 20 s, then the queued MLP's 40 s; slot 2: the ResNet's last 40 s
    assert result.eta == pytest.approx(max(whole_mlp / 2 + whole_mlp, whole_resnet / 2))
    one_slot = estimate([mlp_run, queued, Tracked(mlp(50))], slots=1)
    assert one_slot.eta == pytest.approx(whole_mlp / 2 + whole_mlp + whole_mlp / 2)


def test_before_any_cost_is_measured_the_work_is_in_prior_units_and_the_eta_unknown() -> None:
    runs = [Tracked(mlp(100), ended=True), Tracked(mlp(10, model="resnet18"))]
    result = estimate(runs, slots=2)
    assert result.eta is None
    assert result.fraction == pytest.approx(400 / (400 + 40 * PRIOR_OTHER))


def test_reused_runs_count_as_done_at_once(tiny: TrainConfig, tmp_path: Path) -> None:
    specs = [RunSpec(f"r{s}", dataclasses.replace(tiny, seed=s), tmp_path / f"r{s}")
             for s in range(3)]  # fmt: skip
    Serial(make_data()).launch(specs[:1], lambda spec, status: None)
    state = Watch(specs).state()
    assert (state.ended, state.failed, state.total, state.in_flight) == (1, 0, 3, [])
    assert state.estimate.fraction == pytest.approx(1 / 3)
    assert status_text(state).startswith("1/3 runs, ETA ?")


def test_only_progress_written_since_the_watch_began_counts(
    tiny: TrainConfig, tmp_path: Path
) -> None:
    specs = [RunSpec(n, tiny, tmp_path / n) for n in ("old", "new")]
    watch = Watch(specs, clock=lambda: 100.0)
    write_run_progress(specs[0].dir, 5, tiny.epochs, now=99.0)  # left by an earlier launch
    write_run_progress(specs[1].dir, 7, tiny.epochs, now=101.0)
    watch.poll()
    assert watch.state().in_flight == [("new", 7, tiny.epochs)]
    watch.finished(specs[1], {"status": "failed", "error": "boom"})
    state = watch.state()
    assert (state.ended, state.failed, state.in_flight) == (1, 1, [])


def test_the_poller_reports_the_epochs_of_the_runs_in_flight_in_a_process_pool(
    tiny: TrainConfig, tmp_path: Path
) -> None:
    config = dataclasses.replace(tiny, epochs=1500, eval_every=500, checkpoint_every=500)
    specs = [RunSpec(f"seed={s}", dataclasses.replace(config, seed=s), tmp_path / f"s{s}")
             for s in range(2)]  # fmt: skip
    watch, display = Watch(specs), Recorder()
    statuses: dict[str, str] = {}

    def done(spec: RunSpec, status: dict) -> None:
        watch.finished(spec, status)
        statuses[spec.name] = status["status"]

    with watching(watch, display, every=0.05):
        ProcessPool(2, make_data()).launch(specs, done)
    assert statuses == {"seed=0": "complete", "seed=1": "complete"}
    assert not poller_threads()
    for spec in specs:
        seen = [(e, total) for s in display.states for n, e, total in s.in_flight if n == spec.name]
        assert seen, f"{spec.name} never seen in flight"
        assert {total for _, total in seen} == {config.epochs}
        assert min(e for e, _ in seen) < config.epochs
        assert [e for e, _ in seen] == sorted(e for e, _ in seen)
    assert display.closed is not None
    assert (display.closed.ended, display.closed.in_flight) == (2, [])
    assert display.closed.estimate.fraction == 1.0
    assert display.closed.estimate.eta == 0.0  # both runs were measured, nothing is left


class Failing:
    """A launcher that fails after reporting one run."""

    def launch(self, specs: Sequence[RunSpec], done: Done) -> None:
        done(specs[0], {"status": "complete", "error": None})
        raise RuntimeError("launcher broke")


def test_the_poller_stops_when_the_launch_fails(tiny: TrainConfig, tmp_path: Path) -> None:
    specs = [RunSpec(n, tiny, tmp_path / n) for n in ("a", "b")]
    with pytest.raises(RuntimeError, match="launcher broke"):
        Watched(Failing(), interactive=False, every=0.01).launch(specs, lambda s, st: None)
    assert not poller_threads()


def test_without_a_terminal_the_progress_is_logged(
    tiny: TrainConfig, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    points = [(f"seed={s}", dataclasses.replace(tiny, seed=s)) for s in range(2)]
    launcher = Watched(Serial(make_data()), desc="tiny job", interactive=False)
    with caplog.at_level(logging.INFO, logger=progress_module.__name__):
        result = run_points(points, tmp_path, launcher=launcher, progress=False)
    assert list(result.status["status"]) == ["complete", "complete"]
    lines = [r.getMessage() for r in caplog.records if r.name == progress_module.__name__]
    assert lines[0].startswith("tiny job 0% of the estimated work: 0/2 runs")
    assert lines[-1].startswith("tiny job 100% of the estimated work: 2/2 runs")
    assert not poller_threads()
