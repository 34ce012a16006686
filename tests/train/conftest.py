"""Tiny synthetic regression data for the training tests (2 targets, correlated, nonlinear)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from nrc.train import TrainConfig


def make_data(m: int = 96, m_test: int = 32, d_in: int = 5, seed: int = 0) -> SimpleNamespace:
    """x ~ N(0, I); y = (x1·x2 + 0.5 x3, sin(x4) − 0.3 x1): smooth targets a small MLP can fit."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(m + m_test, d_in, generator=g)
    y = torch.stack([x[:, 0] * x[:, 1] + 0.5 * x[:, 2], torch.sin(x[:, 3]) - 0.3 * x[:, 0]], 1)
    return SimpleNamespace(x_train=x[:m], y_train=y[:m], x_test=x[m:], y_test=y[m:])


@pytest.fixture
def data() -> SimpleNamespace:
    return make_data()


@pytest.fixture
def tiny() -> TrainConfig:
    """A config small enough to train in well under a second."""
    return TrainConfig(
        dataset="synthetic",
        depth=2,
        width=16,
        activation="none",
        weight_decay=1e-2,
        lr=0.1,
        batch_size=32,
        epochs=40,
        eval_every=10,
        checkpoint_every=20,
    )


def crash_at_checkpoint(monkeypatch: pytest.MonkeyPatch, count: int) -> Callable[[], None]:
    """Make the `count`-th checkpoint write raise KeyboardInterrupt (a kill between the table and
    the checkpoint); returns the function that undoes it."""
    from nrc.train import store

    calls = {"n": 0}
    original = store.atomic_write

    def crashing(path: Path, write: Callable[[Path], None]) -> Path:
        if path.name == "checkpoint.pt":
            calls["n"] += 1
            if calls["n"] == count:
                raise KeyboardInterrupt("simulated kill")
        return original(path, write)

    monkeypatch.setattr(store, "atomic_write", crashing)
    return lambda: monkeypatch.setattr(store, "atomic_write", original)
