"""Start, continue or reuse one run: `run(config, run_dir)` and `resume(run_dir)`."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from nrc.models.mlp import RegressionModel
from nrc.train import rundir
from nrc.train.config import TrainConfig, to_dict, validate
from nrc.train.engine import Tensors, Trainer, build_model, check_tensors, scale_targets

log = logging.getLogger(__name__)

ModelFactory = Callable[[TrainConfig, tuple[int, ...], int], RegressionModel]


def load_data(config: TrainConfig) -> Tensors:
    """The dataset `config.dataset` from `nrc.data.load` (paper §4), as validated tensors."""
    from nrc import data as nrc_data  # imported here: the data package pulls in MuJoCo

    loaded = nrc_data.load(
        config.dataset,
        train_size=config.train_size,
        test_size=config.test_size,
        image_size=config.image_size,
        normalization=config.image_normalization,
    )
    return check_tensors(loaded)


def training_data(config: TrainConfig, data: Any | None = None) -> Tensors:
    """The tensors a run of `config` trains on: `data` (else `load_data(config)`), validated,
    targets scaled as `config.target_scaling` says (the statistics are logged)."""
    tensors = load_data(config) if data is None else check_tensors(data)
    tensors, scaling = scale_targets(tensors, config.target_scaling)
    if scaling:
        log.info("targets %s by training statistics %s", config.target_scaling, scaling)
    return tensors


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


def _train(
    config: TrainConfig,
    run_dir: Path,
    data: Any | None,
    model_factory: ModelFactory,
    progress: bool,
) -> Path:
    with _log_to(run_dir / rundir.LOG):
        tensors = training_data(config, data)
        model = model_factory(config, tuple(tensors.x_train.shape[1:]), tensors.y_train.shape[1])
        trainer = Trainer(config, model, tensors, run_dir)
        state = rundir.read_checkpoint(run_dir)
        if state is None:
            log.info("starting run %s: %s", run_dir, to_dict(config))
        else:
            trainer.restore(state, rundir.read_rows(run_dir))
            log.info("resuming run %s at epoch %d", run_dir, trainer.epoch)
        return trainer.train(progress=progress)


def run(
    config: TrainConfig,
    run_dir: Path | str,
    *,
    data: Any | None = None,
    model_factory: ModelFactory = build_model,
    progress: bool = False,
) -> Path:
    """Train `config` into `run_dir` and return it.

    A finished run with the same config is reused as is; an unfinished one is resumed; a run
    directory holding another config is an error. `data` (x_train, y_train, x_test, y_test
    tensors) replaces `nrc.data.load(config.dataset)`; `model_factory(config, input_shape, n)`
    replaces `build_model` (any model with `features(x)` and a linear `head`).
    """
    validate(config)
    run_dir = Path(run_dir)
    if (run_dir / rundir.CONFIG).is_file():
        existing = rundir.read_config(run_dir)
        if existing != config:
            diff = {
                k: (v, to_dict(config)[k])
                for k, v in to_dict(existing).items()
                if to_dict(config)[k] != v
            }
            raise ValueError(
                f"run directory {run_dir} holds another config (existing, new): {diff}"
            )
        if rundir.is_complete(run_dir):
            log.info("run %s is complete; reusing it", run_dir)
            return run_dir
    else:
        run_dir.mkdir(parents=True, exist_ok=True)
        rundir.write_config(run_dir, config)
    return _train(config, run_dir, data, model_factory, progress)


def resume(
    run_dir: Path | str,
    *,
    data: Any | None = None,
    model_factory: ModelFactory = build_model,
    progress: bool = False,
) -> Path:
    """Continue the run in `run_dir` from its last checkpoint (its own config.json)."""
    run_dir = Path(run_dir)
    config = rundir.read_config(run_dir)
    if rundir.is_complete(run_dir):
        log.info("run %s is already complete", run_dir)
        return run_dir
    return _train(config, run_dir, data, model_factory, progress)
