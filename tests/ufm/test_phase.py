"""The phase diagram (library and `nrc ufm phase`) and `nrc ufm solve`."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from nrc.cli import main
from nrc.ufm import c_grid, phase_diagram


def test_c_grid_covers_every_regime(correlated_targets):
    y = correlated_targets(40, 3, 60)
    centered = y - y.mean(axis=0)
    eig = np.linalg.eigvalsh(centered.T @ centered / len(y))
    grid = c_grid(y, points_per_decade=4)
    assert grid[0] < eig[0] and grid[-1] > eig[-1]
    np.testing.assert_allclose(np.diff(np.log10(grid)), np.log10(grid[1] / grid[0]))
    assert np.log10(grid[1] / grid[0]) <= 0.25
    # a coarse grid still gets a point between each pair of eigenvalues
    coarse = c_grid(y, points_per_decade=1)
    for a, b in itertools.pairwise(eig):
        assert np.any((coarse > a) & (coarse < b))
    with pytest.raises(ValueError, match="points_per_decade"):
        c_grid(y, points_per_decade=0)


def test_phase_table_theory_matches_solver(correlated_targets, tmp_path):
    y = correlated_targets(30, 2, 61)
    centered = y - y.mean(axis=0)
    lam_min, lam_max = np.linalg.eigvalsh(centered.T @ centered / len(y))
    c = np.array([0.1 * lam_min, np.sqrt(lam_min * lam_max), 3 * lam_max])
    table = phase_diagram(y, d=5, lambda_ratio=2.0, c_values=c, out=tmp_path)
    assert list(table.regime) == ["full_rank", "truncated", "zero"]
    assert list(table.rank_theory) == [2, 1, 0] and list(table.rank_solver) == [2, 1, 0]
    np.testing.assert_allclose(table.lambda_h / table.lambda_w, 2.0)
    np.testing.assert_allclose(table.lambda_h * table.lambda_w, c)
    assert table.loss_gap.abs().max() <= 1e-6
    np.testing.assert_allclose(table.mse_solver, table.mse_theory, rtol=1e-5)
    # training MSE of the optimum: mean of min(λ_i, c) over the n targets (App. B residuals)
    expected_mse = [np.mean(np.minimum([lam_min, lam_max], ci)) for ci in c]
    np.testing.assert_allclose(table.mse_theory, expected_mse, rtol=1e-10)
    full = table.iloc[0]
    assert max(full.nrc1_solver, full.nrc2_solver, full.nrc3_solver) <= 1e-6
    assert table.iloc[1].nrc3_theory > 1e-3  # γ = c no longer fits once a direction is cut
    assert table.iloc[2][["nrc1_theory", "nrc2_solver", "nrc3_solver"]].isna().all()
    written = pd.read_csv(tmp_path / "phase.csv")
    pd.testing.assert_frame_equal(written, table, check_dtype=False)
    assert (tmp_path / "phase.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_phase_refuses_bad_settings(correlated_targets):
    y = correlated_targets(20, 2, 62)
    with pytest.raises(ValueError, match="lambda_ratio"):
        phase_diagram(y, lambda_ratio=0.0, c_values=[0.1])
    with pytest.raises(ValueError, match="c_values"):
        phase_diagram(y, c_values=[0.1, -1.0])


def test_cli_phase_and_solve(correlated_targets, tmp_path, capsys):
    y = correlated_targets(25, 2, 63)
    path = tmp_path / "y.csv"
    np.savetxt(path, y, delimiter=",", header="a,b", comments="")
    out = tmp_path / "phase"
    assert main(["ufm", "phase", "--targets", str(path), "--out", str(out), "--d", "3",
                 "--points-per-decade", "1"]) == 0  # fmt: skip
    table = pd.read_csv(out / "phase.csv")
    assert table.loss_gap.abs().max() <= 1e-6 and (out / "phase.png").is_file()
    assert set(table.regime) == {"full_rank", "truncated", "zero"}
    npy = tmp_path / "y.npy"
    np.save(npy, y)
    capsys.readouterr()
    assert main(["ufm", "solve", "--targets", str(npy), "--lambda-w", "0.01",
                 "--lambda-h", "0.02", "--d", "4", "--check"]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert "regime: full_rank" in printed and "rank of W: 2" in printed
    gap = float(printed.split("relative gap ")[1].split(",")[0])
    assert abs(gap) <= 1e-6


def test_cli_reports_bad_targets(correlated_targets, tmp_path, capsys):
    assert main(["ufm", "solve", "--targets", str(tmp_path / "none.npy"),
                 "--lambda-w", "0.1", "--lambda-h", "0.1"]) == 2  # fmt: skip
    assert "no such file" in capsys.readouterr().err
    bad = tmp_path / "bad.npy"
    y = correlated_targets(20, 2, 64)
    y[2, 1] = np.nan
    np.save(bad, y)
    assert main(["ufm", "solve", "--targets", str(bad), "--lambda-w", "0.1",
                 "--lambda-h", "0.1"]) == 2  # fmt: skip
    assert "NaN" in capsys.readouterr().err
    assert main(["ufm", "phase", "--targets", "no-such-dataset", "--out", str(tmp_path)]) == 2
    assert "neither a .npy/.csv file nor a known dataset" in capsys.readouterr().err
    text = tmp_path / "y.txt"
    text.write_text("1,2\n")
    assert main(["ufm", "solve", "--targets", str(text), "--lambda-w", "0.1",
                 "--lambda-h", "0.1"]) == 2  # fmt: skip
    assert "must be a .npy or .csv file" in capsys.readouterr().err
