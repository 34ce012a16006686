"""The tiny reproduction shared by the tests of `nrc reproduce` and of its report
(docs/architecture.md shows what it writes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from nrc.experiments.reproduce import reproduce

TINY = {"epochs": 20, "eval_every": 10, "checkpoint_every": 20, "width": 16, "train_size": 200}
TINY |= {"test_size": 40}


@pytest.fixture(scope="session")
def tiny_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One quick-preset reproduction on reacher, made once per session: (out folder, index.html)."""
    out = tmp_path_factory.mktemp("repro")
    index = reproduce("quick", ("reacher",), out, overrides=TINY, phase_points_per_decade=1)
    return out, index
