"""The device check's CPU smoke mode runs every step of benchmarks/gpu_check.sh, tiny."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_gpu_check_cpu_smoke_runs_every_step() -> None:
    out = subprocess.run(
        ["bash", "benchmarks/gpu_check.sh", "--cpu-smoke"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    for step in ("== CUDA tests", "== batched training", "== metrics", "== paper protocol slice"):
        assert step in out.stdout
    assert "full MuJoCo paper grid" in out.stdout and "model-steps/s" in out.stdout
