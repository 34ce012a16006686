"""The examples run as scripts on tiny settings (examples/lightning_reacher.py runs under DDP in
test_lightning.py), each within the 60-line budget of docs/integrations.md."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TINY = {
    "plain_pytorch.py": ["--epochs", "4", "--train-size", "200", "--width", "32"],
    "hf_bert_regression.py": ["--steps", "4", "--samples", "32"],
}


@pytest.mark.parametrize("name", sorted(TINY))
def test_example_runs_and_prints_the_metrics(name: str, tmp_path) -> None:
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *TINY[name]],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "nrc1" in done.stdout and "nrc3" in done.stdout


def test_examples_are_at_most_60_lines() -> None:
    lengths = {p.name: len(p.read_text().splitlines()) for p in EXAMPLES.glob("*.py")}
    assert set(lengths) == {*TINY, "lightning_reacher.py"}
    assert max(lengths.values()) <= 60, lengths
