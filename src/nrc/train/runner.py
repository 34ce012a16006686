"""Start, continue or reuse one run: `run(config, run_dir)` and `resume(run_dir)`.

A run holds its directory's lock for its whole life (`RunStore.locked`); its directory is created
only once the config, the data and the model are known to be good, so a failed start leaves
nothing behind (docs/reliability.md).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from nrc.models.mlp import RegressionModel
from nrc.train.callbacks import CollapseMonitor, Progress, RunWriter, measure
from nrc.train.config import TrainConfig, to_dict, validate
from nrc.train.distributed import SINGLE, Ranks, ranks_from_environment
from nrc.train.loop import Callback, Loop
from nrc.train.setup import RunData, build_model, training_data
from nrc.train.store import LOG, RunStore, expected_rows

log = logging.getLogger(__name__)

ModelFactory = Callable[[TrainConfig, tuple[int, ...], int], RegressionModel]


@contextlib.contextmanager
def _log_to(path: Path) -> Iterator[None]:
    """Copy INFO records of `nrc.train` into the run's log file while the block runs."""
    logger = logging.getLogger("nrc.train")
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    previous = logger.level
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
        handler.close()


def check_tracker(tracker: str | None) -> str | None:
    """`tracker` if it is None or one of `nrc.integrations.loggers.KINDS`, else ValueError."""
    if tracker is None:
        return None
    from nrc.integrations.loggers import KINDS  # optional trackers

    if tracker not in KINDS:
        raise ValueError(f"--log must be one of {KINDS}, got {tracker!r}")
    return tracker


def check_same_config(store: RunStore, config: TrainConfig) -> None:
    """Raise unless the run directory holds `config`."""
    existing, new = to_dict(store.read_config()), to_dict(config)
    if existing != new:
        diff = {k: (v, new[k]) for k, v in existing.items() if new[k] != v}
        raise ValueError(f"run directory {store.path} holds another config (existing, new): {diff}")


def restored_rows(store: RunStore, config: TrainConfig, epoch: int) -> list[dict[str, Any]]:
    """The table's rows up to the checkpoint's `epoch`; raises when some are missing."""
    rows = [r for r in store.read_rows() if r["epoch"] <= epoch]
    want = epoch // config.eval_every + 1
    if len(rows) != want:
        raise ValueError(
            f"run {store.path}: metrics table has {len(rows)} rows up to epoch {epoch}, "
            f"expected {want}; it is corrupt"
        )
    return rows


def _prepare(
    config: TrainConfig, data: Any | None, model_factory: ModelFactory
) -> tuple[RunData, RegressionModel]:
    """The run's data and its freshly built model (before any file of the run is written)."""
    prepared = training_data(config, data)
    shape = tuple(prepared.tensors.x_train.shape[1:])
    return prepared, model_factory(config, shape, prepared.tensors.y_train.shape[1])


def write_missing_artifacts(
    store: RunStore, config: TrainConfig, data: RunData, model_factory: ModelFactory
) -> None:
    """Write the data and residual artifacts that a run begun by an older nrc lacks (the caller
    holds the lock): the data it trained on, and the residuals of its initial model (rebuilt
    from the seed) and of its final checkpoint, measured as its evaluations were."""
    state = store.read_checkpoint()
    if state is None or state["epoch"] != config.epochs:
        raise ValueError(f"run {store.path}: no final checkpoint (epoch {config.epochs})")
    log.info("run %s: writing the artifacts it predates (data, residuals)", store.path)
    shape = tuple(data.tensors.x_train.shape[1:])
    model = model_factory(config, shape, data.tensors.y_train.shape[1])
    initial = measure(model, data.tensors, config).residuals
    model.load_state_dict(state["model"])  # type: ignore[attr-defined]
    final = measure(model, data.tensors, config).residuals
    store.write_data(data.info, data.raw_targets)
    store.write_residuals(initial, final, data.tensors.y_train)


def _train(
    store: RunStore,
    config: TrainConfig,
    data: RunData,
    model: RegressionModel,
    model_factory: ModelFactory,
    progress: bool,
    tracker: str | None = None,
    ranks: Ranks = SINGLE,
) -> Path:
    """Train (or continue) the locked run in `store` to its last epoch; with `tracker` the
    monitor's rows also go to that tracker (`nrc.integrations.loggers`, docs/integrations.md).
    Over several `ranks` every rank trains and measures its share, rank 0 alone writes."""
    with _log_to(store.file(LOG)) if ranks.main else contextlib.nullcontext():
        state = ranks.decide(store.read_checkpoint() if ranks.main else None)
        monitor = CollapseMonitor(config, ranks)
        callbacks: list[Callback] = [monitor]
        if ranks.main:
            callbacks += [RunWriter(store, monitor), Progress(monitor, enabled=progress)]
        if tracker is not None and ranks.main:
            from nrc.integrations.loggers import MetricsLogger  # optional trackers

            logs = store.file("logs") / tracker
            callbacks.insert(1, MetricsLogger(tracker, logs, monitor, name=store.path.name))
        loop = Loop(config, model, data.tensors, callbacks, ranks)
        if state is None and ranks.main:
            log.info("starting run %s: %s", store.path, to_dict(config))
            log.info("data: %s", data.info)
            store.write_data(data.info, data.raw_targets)
        elif state is not None:
            loop.restore(state)
            monitor.rows = restored_rows(store, config, loop.epoch)
            monitor.layer_rows = [r for r in store.read_layer_rows() if r["epoch"] <= loop.epoch]
            monitor.load_state_dict(state.get("monitor", {}))
            log.info("resuming run %s at epoch %d", store.path, loop.epoch)
        loop.run()
        assert len(monitor.rows) == expected_rows(config)
        if ranks.main and not store.has_artifacts():  # resumed from a checkpoint of an older nrc
            write_missing_artifacts(store, config, data, model_factory)
        return store.path


def check_ranks(config: TrainConfig, ranks: Ranks, train_size: int) -> None:
    """Refuse what a run over several ranks cannot do: fewer rows in a batch than ranks, and
    BatchNorm recalibration (each rank would see other rows)."""
    if ranks.world == 1:
        return
    last = train_size % config.batch_size or config.batch_size
    if min(last, config.batch_size) < ranks.world:
        raise ValueError(
            f"config key 'batch_size': every batch needs at least one row per rank; with "
            f"{train_size} rows the last batch has {last}, for {ranks.world} ranks"
        )
    if config.recalibrate_bn:
        raise ValueError("config key 'recalibrate_bn' is not available over several ranks")


def _on_main(ranks: Ranks, call: Callable[[], Any]) -> Any:
    """`call()` on rank 0 and its result on every rank; an error there is an error everywhere
    (so that no rank waits for a collective that never comes)."""
    outcome: tuple[str, Any] | None = None
    if ranks.main:
        try:
            outcome = ("ok", call())
        except Exception as err:
            ranks.decide(("error", f"{type(err).__name__}: {err}"))
            raise
    outcome = ranks.decide(outcome)
    if outcome[0] == "error":
        raise RuntimeError(f"rank 0 failed: {outcome[1]}")
    return outcome[1]


def _run_ranks(
    store: RunStore,
    config: TrainConfig,
    data: Any | None,
    model_factory: ModelFactory,
    progress: bool,
    tracker: str | None,
    ranks: Ranks,
) -> Path:
    """`run` over several ranks (torchrun): rank 0 holds the lock and checks the directory; a
    failure there (another process holds the run, another config) ends every rank."""
    prepared, model = _prepare(config, data, model_factory)
    check_ranks(config, ranks, prepared.tensors.x_train.shape[0])

    with contextlib.ExitStack() as held:

        def claim() -> bool:
            """Rank 0: take the lock for the whole run, check or write the config."""
            held.enter_context(store.locked())
            if store.has_config():
                check_same_config(store, config)
                return store.is_complete()
            store.write_config(config)
            return False

        if not _on_main(ranks, claim):
            _train(store, config, prepared, model, model_factory, progress, tracker, ranks)
        ranks.decide(None)  # every rank returns once rank 0 has written the run
    return store.path


def run(
    config: TrainConfig,
    run_dir: Path | str,
    *,
    data: Any | None = None,
    model_factory: ModelFactory = build_model,
    progress: bool = False,
    tracker: str | None = None,
) -> Path:
    """Train `config` into `run_dir` and return it (`tracker`: "tensorboard", "wandb" or
    "mlflow" also sends the metrics there, under `run_dir/logs`).

    A finished run with the same config is reused as is; an unfinished one is resumed; a run
    directory holding another config, an inconsistent finished run, or one trained by another
    live process is an error. `data` (x_train, y_train, x_test, y_test tensors) replaces
    `nrc.data.load(config.dataset)`; `model_factory(config, input_shape, n)` replaces
    `build_model` (any model with `features(x)` and a linear `head`).
    """
    validate(config)
    check_tracker(tracker)
    store = RunStore(run_dir)
    ranks = ranks_from_environment()
    if ranks.world > 1:
        return _run_ranks(store, config, data, model_factory, progress, tracker, ranks)
    if store.has_config():
        check_same_config(store, config)
        if store.is_complete():
            log.info("run %s is complete; reusing it", store.path)
            if store.has_artifacts():
                return store.path
    prepared, model = _prepare(config, data, model_factory)
    with store.locked():
        if store.has_config():
            check_same_config(store, config)
            if store.is_complete():
                if not store.has_artifacts():
                    write_missing_artifacts(store, config, prepared, model_factory)
                return store.path
        else:
            store.write_config(config)
        return _train(store, config, prepared, model, model_factory, progress, tracker)


def resume(
    run_dir: Path | str,
    *,
    data: Any | None = None,
    model_factory: ModelFactory = build_model,
    progress: bool = False,
    tracker: str | None = None,
) -> Path:
    """Continue the run in `run_dir` from its last checkpoint (its own config.json)."""
    store = RunStore(run_dir)
    config = store.read_config()
    ranks = ranks_from_environment()
    if ranks.world > 1:
        return _run_ranks(store, config, data, model_factory, progress, tracker, ranks)
    if store.is_complete():
        log.info("run %s is already complete", store.path)
        return store.path
    prepared, model = _prepare(config, data, model_factory)
    with store.locked():
        return _train(store, config, prepared, model, model_factory, progress, tracker)
