"""The UFM phase-diagram figure: drawn from a phase table, and the dependency runs ufm -> plots
only (importing nrc.ufm neither imports nrc.plots nor picks matplotlib's backend)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd

from nrc.plots import plot_phase

PNG = b"\x89PNG\r\n\x1a\n"


def _table() -> pd.DataFrame:
    c = np.logspace(-3, 1, 5)
    columns = {"c": c, "lambda_min": 0.1, "lambda_max": 1.0, "M": 20, "n": 2, "d": 3}
    for metric in ("rank", "loss", "mse", "nrc1", "nrc2", "nrc3"):
        for source in ("theory", "solver"):
            columns[f"{metric}_{source}"] = np.where(c < 1.0, 0.5 * c, np.nan)
    return pd.DataFrame(columns)


def test_plot_phase_writes_a_png(tmp_path) -> None:
    path = plot_phase(_table(), tmp_path / "phase.png")
    assert path == tmp_path / "phase.png" and path.read_bytes()[:8] == PNG


def _modules_after(statement: str) -> set[str]:
    """The ``nrc`` modules loaded by ``statement`` in a fresh interpreter."""
    code = f"import sys; {statement}; print(*sorted(m for m in sys.modules if 'nrc' in m))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return set(out.stdout.split())


def test_plots_and_ufm_import_in_one_direction() -> None:
    assert not any(m.startswith("nrc.plots") for m in _modules_after("import nrc.ufm"))
    assert not any(m.startswith("nrc.ufm") for m in _modules_after("import nrc.plots.phase"))
