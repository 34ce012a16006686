"""Bad input to the UFM: complex values are refused at every entry point, and unreadable
``--targets`` files give `nrc: error: FILE: ...` with exit status 2, never a traceback."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nrc import cli
from nrc.ufm import (
    c_grid,
    minimize,
    optimal_loss,
    optimal_wwt,
    phase_diagram,
    predicted_residuals,
    solve,
    unregularized_features,
)

SOLVE = ["--lambda-w", "0.1", "--lambda-h", "0.1"]


@pytest.fixture
def nrc_main(monkeypatch):
    """`nrc.cli.main` with only the sub-commands under test registered (no other area's imports)."""
    monkeypatch.setattr(cli, "COMMAND_MODULES", ["nrc.metrics.commands", "nrc.ufm.commands"])
    return cli.main


ENTRY_POINTS = {
    "solve": lambda y: solve(y, 0.1, 0.1, 3),
    "minimize": lambda y: minimize(y, 0.1, 0.1, 3),
    "c_grid": c_grid,
    "phase_diagram": lambda y: phase_diagram(y, c_values=[0.1]),
    "predicted_residuals": lambda y: predicted_residuals(y, 0.1, 0.1),
    "unregularized_features": lambda y: unregularized_features(y, np.eye(2, 3), np.zeros((30, 3))),
    "solve_torch": lambda y: solve(torch.from_numpy(y), 0.1, 0.1, 3),
}


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_complex_targets_are_refused(correlated_targets, entry):
    with pytest.raises(ValueError, match=r"^Y: complex dtype"):
        ENTRY_POINTS[entry](correlated_targets(30, 2, 5) + 1j)


def test_complex_covariance_and_head_are_refused(correlated_targets):
    y = correlated_targets(30, 2, 5)
    sigma = np.cov(y.T, bias=True) + 0j
    for call in (optimal_wwt, optimal_loss):
        with pytest.raises(ValueError, match=r"^sigma: complex dtype"):
            call(sigma, 0.1, 0.1)
    with pytest.raises(ValueError, match=r"^W: complex dtype"):
        unregularized_features(y, np.eye(2, 3) + 0j, np.zeros((30, 3)))


def test_singular_targets_use_the_relative_rule(correlated_targets):
    """Σ's check is relative: the verdict does not change with the scale of the targets."""
    y = correlated_targets(30, 2, 6)
    for scale in (1e-12, 1.0, 1e12):
        solve(y * scale, 0.1 * scale**2, 0.1, 3)
        dependent = np.column_stack([y[:, 0], 2 * y[:, 0]]) * scale
        with pytest.raises(ValueError, match=r"Y: the target covariance Σ is singular \(rank 1"):
            solve(dependent, 0.1, 0.1, 3)


def _bad_files(folder, y):
    np.save(folder / "good.npy", y)
    data = (folder / "good.npy").read_bytes()
    (folder / "truncated.npy").write_bytes(data[: len(data) // 2])
    (folder / "empty.npy").write_bytes(b"")
    (folder / "text.npy").write_text("1,2\n3,4\n")
    np.savez(folder / "archive.npy", y=y)
    (folder / "archive.npy.npz").rename(folder / "archive.npy")
    (folder / "empty.csv").write_text("")
    (folder / "binary.csv").write_bytes(b"\x89PNG\x00\xff\xfe" * 10)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("truncated.npy", "unreadable .npy array"),
        ("empty.npy", "empty file"),
        ("text.npy", "not an .npy array (no NumPy header"),
        ("archive.npy", "not an .npy array (an .npz archive"),
        ("empty.csv", "empty file"),
        ("binary.csv", "not a numeric CSV"),
    ],
)
@pytest.mark.parametrize("command", ["solve", "phase"])
def test_cli_targets_names_a_bad_file(
    nrc_main, correlated_targets, tmp_path, capsys, name, message, command
):
    _bad_files(tmp_path, correlated_targets(20, 2, 7))
    extra = SOLVE if command == "solve" else ["--out", str(tmp_path / "out")]
    assert nrc_main(["ufm", command, "--targets", str(tmp_path / name), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"nrc: error: {tmp_path / name}: ") and message in err
    assert "Traceback" not in err


def test_cli_refuses_complex_targets(nrc_main, correlated_targets, tmp_path, capsys):
    path = tmp_path / "y.npy"
    np.save(path, correlated_targets(20, 2, 8) + 1j)
    assert nrc_main(["ufm", "solve", "--targets", str(path), *SOLVE]) == 2
    assert f"{path}: complex dtype" in capsys.readouterr().err
