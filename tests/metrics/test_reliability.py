"""Bad input and extreme scales: a clear error naming the input, or the right answer; never a
NaN metric, a silent mis-pairing or a traceback from deep inside numpy or torch."""

from __future__ import annotations

import re
import warnings
import zipfile

import numpy as np
import pytest
import torch
from torch import nn

from nrc import cli
from nrc.metrics import CollapseStats, Convention, FeatureCapture, compute, nrc3_at, optimal_gamma
from tests.metrics import reference as ref
from tests.metrics.conftest import make_case

INVARIANT = ("nrc1", "nrc2", "nrc3", "gamma_ratio", "nrc3_optimal")


@pytest.fixture
def nrc_main(monkeypatch):
    """`nrc.cli.main` with only the sub-commands under test registered (no other area's imports)."""
    monkeypatch.setattr(cli, "COMMAND_MODULES", ["nrc.metrics.commands", "nrc.ufm.commands"])
    return cli.main


# --- A1: FeatureCapture pairs features with targets of the right orientation -------------------


def test_capture_refuses_transposed_targets() -> None:
    torch.manual_seed(0)
    head = nn.Linear(16, 2).double()
    x = torch.randn(300, 16, dtype=torch.float64)
    y = torch.randn(300, 2, dtype=torch.float64)
    stats = CollapseStats()
    with FeatureCapture(head, stats) as capture, torch.no_grad():
        capture.targets = y.T
        with pytest.raises(ValueError, match=r"capture\.targets: shape \(2, 300\).*\(300, 2\)"):
            head(x)
        capture.targets = y[:299]
        with pytest.raises(ValueError, match=r"capture\.targets: shape \(299, 2\)"):
            head(x)
        capture.targets = y
        head(x)
    assert stats.count == 300


def test_capture_accepts_flat_targets_for_one_output() -> None:
    head = nn.Linear(4, 1).double()
    x = torch.randn(50, 4, dtype=torch.float64)
    y = torch.randn(50, dtype=torch.float64)
    stats = CollapseStats()
    with FeatureCapture(head, stats) as capture, torch.no_grad():
        capture.targets = y
        head(x)
        capture.targets = y[None, :]  # 1×50: the wrong orientation
        with pytest.raises(ValueError, match=r"must be \(50, 1\) or \(50,\)"):
            head(x)
    assert stats.count == 50


# --- A2: complex input is refused, never truncated to its real part --------------------------


def test_complex_inputs_are_refused_naming_the_input() -> None:
    h, w, _, y = make_case(0, 2, 8, 50)
    with pytest.raises(ValueError, match=r"features: complex dtype complex128"):
        compute(h + 1j, w, y)
    with pytest.raises(ValueError, match=r"targets: complex dtype torch.complex64"):
        compute(h, w, torch.from_numpy(y).to(torch.complex64))
    with pytest.raises(ValueError, match=r"W: complex"):
        compute(h, w + 0j, y)
    with pytest.raises(ValueError, match=r"sigma: complex"):
        nrc3_at(w, ref.sigma(y) + 0j, 0.0)
    with pytest.raises(ValueError, match=r"W: complex"):
        optimal_gamma(w + 0j, ref.sigma(y))


# --- A3: extreme scales: a clear error naming the input, or a scale-free answer ---------------


@pytest.mark.parametrize("scale", [1e200, 1e307])
def test_huge_features_are_an_error_naming_features(scale: float) -> None:
    h, w, _, y = make_case(0, 3, 8, 200)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning on the way to the error either
        with pytest.raises(ValueError, match=r"^features: .*(overflow|float64)"):
            compute(h * scale, w, y)


def test_features_whose_sum_overflows_are_not_called_nan() -> None:
    h = np.full((50, 4), 1.7e308)
    h[:, 0] = -1.7e308
    with pytest.raises(ValueError, match=r"features: values up to 1.7e\+308 overflow"):
        CollapseStats().update(h, np.zeros((50, 1)))


def test_huge_targets_are_an_error_naming_targets() -> None:
    h, w, _, y = make_case(0, 3, 8, 200)
    with pytest.raises(ValueError, match=r"^targets: .*overflows"):
        compute(h, w, y * 1e200)


def test_huge_head_is_an_error_naming_w_and_residuals_are_never_nan() -> None:
    h, w, b, y = make_case(0, 3, 8, 200)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=r"^W: WWᵀ overflows float64"):
            compute(h, w * 1e200, y)
        with pytest.raises(ValueError, match=r"^residuals: .* not finite"):
            compute(h, w * 1e153, y, b)


@pytest.mark.parametrize("scale", [1e-200, 1e-100, 1e100, 1e150])
def test_nrc2_nrc3_and_gamma_do_not_depend_on_the_scale_of_w(scale: float) -> None:
    h, w, _, y = make_case(0, 3, 8, 200)
    base, scaled = compute(h, w, y), compute(h, w * scale, y)
    for key in ("nrc2", "nrc3", "gamma"):
        assert getattr(scaled, key) == pytest.approx(getattr(base, key), rel=1e-12), key
    assert nrc3_at(w * scale, ref.sigma(y), 0.01) == pytest.approx(
        ref.nrc3(w, ref.sigma(y), 0.01), rel=1e-10
    )


# --- A4: tiny and huge targets: relative tolerances, scale-invariant metrics -----------------


@pytest.mark.parametrize("scale", [1e-13, 1e13])
def test_metrics_are_invariant_to_the_scale_of_the_targets(scale: float) -> None:
    h, w, _, y = make_case(2, 3, 8, 300)
    base, scaled = compute(h, w, y), compute(h, w, y * scale)
    for key in INVARIANT:
        assert getattr(scaled, key) == pytest.approx(getattr(base, key), rel=1e-10), key
    assert scaled.gamma == pytest.approx(base.gamma * scale**2, rel=1e-10)
    assert scaled.lambda_min == pytest.approx(base.lambda_min * scale**2, rel=1e-10)
    fixed = compute(h, w, y * scale, gamma=0.4 * scaled.lambda_min)
    assert fixed.nrc3 == pytest.approx(
        compute(h, w, y, gamma=0.4 * base.lambda_min).nrc3, rel=1e-10
    )


def test_tiny_targets_through_the_cli(nrc_main, tmp_path, capsys) -> None:
    h, w, b, y = make_case(2, 3, 8, 300)
    path = tmp_path / "tiny.npz"
    np.savez(path, H=h, W=w, Y=y * 1e-13, b=b * 1e-13)
    assert nrc_main(["metrics", str(path), "--gamma", "0"]) == 0
    assert f"NRC3 = {compute(h, w, y, gamma=0.0).nrc3:.3e}" in capsys.readouterr().out


# --- A5: unreadable files: exit 2 and a message naming the file, no traceback ----------------


def _write_bad_files(folder, arrays):
    good = folder / "good.npz"
    np.savez(good, **arrays)
    data = good.read_bytes()
    (folder / "truncated.npz").write_bytes(data[: len(data) // 2])
    (folder / "empty.npz").write_bytes(b"")
    np.save(folder / "single.npy", arrays["H"])
    (folder / "text.npz").write_text("H,W,Y\n1,2,3\n")
    np.savez(folder / "missing.npz", H=arrays["H"], W=arrays["W"])
    corrupt = bytearray(data)  # a valid zip directory over a damaged member
    with zipfile.ZipFile(good) as z:
        info = z.getinfo("H.npy")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra) + 200
    corrupt[start : start + 50] = b"\xff" * 50
    (folder / "corrupt.npz").write_bytes(bytes(corrupt))


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("truncated.npz", "not an .npz archive"),
        ("empty.npz", "empty file"),
        ("single.npy", "a single .npy array, not an .npz archive"),
        ("text.npz", "not an .npz archive"),
        ("missing.npz", r"missing array\(s\) \['Y'\]"),
        ("corrupt.npz", "unreadable .npz archive"),
        ("absent.npz", "no such file"),
    ],
)
def test_cli_metrics_names_a_bad_file(nrc_main, tmp_path, capsys, name, message) -> None:
    h, w, _, y = make_case(0, 2, 8, 50)
    _write_bad_files(tmp_path, {"H": h, "W": w, "Y": y})
    assert nrc_main(["metrics", str(tmp_path / name)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"nrc: error: {tmp_path / name}: ")
    assert re.search(message, err) and "Traceback" not in err


def test_cli_metrics_names_a_bad_array(nrc_main, tmp_path, capsys) -> None:
    h, w, _, y = make_case(0, 2, 8, 50)
    np.savez(tmp_path / "a.npz", H=h.astype(">f8"), W=w, Y=np.column_stack([y[:, 0], y[:, 0]]))
    assert nrc_main(["metrics", str(tmp_path / "a.npz")]) == 2
    assert "a.npz: targets: the target covariance Σ is singular (rank 1" in capsys.readouterr().err
    np.savez(tmp_path / "c.npz", H=h + 1j, W=w, Y=y)
    assert nrc_main(["metrics", str(tmp_path / "c.npz")]) == 2
    assert "c.npz: features: complex dtype" in capsys.readouterr().err


# --- A6: degenerate sizes, byte order, object arrays, conventions by name ---------------------


def test_zero_features_or_targets_are_refused() -> None:
    h, w, _, y = make_case(0, 2, 8, 50)
    with pytest.raises(ValueError, match=r"features/targets: shapes \(50, 0\).*d >= 1"):
        compute(h[:, :0], w[:, :0], y)
    with pytest.raises(ValueError, match=r"features/targets: .*\(50, 0\).*n >= 1"):
        compute(h, w[:0], y[:, :0])


def test_big_endian_arrays_are_read_in_native_order() -> None:
    h, w, b, y = make_case(0, 2, 8, 50)
    swapped = compute(h.astype(">f8"), w.astype(">f8"), y.astype(">f4"), b.astype(">f8"))
    native = compute(h, w, y.astype(np.float32), b)
    assert swapped.to_dict() == native.to_dict()


def test_object_and_text_arrays_are_refused_naming_the_input() -> None:
    h, w, _, y = make_case(0, 2, 8, 50)
    with pytest.raises(ValueError, match=r"features: dtype object is not a numeric array"):
        compute(h.astype(object), w, y)
    with pytest.raises(ValueError, match=r"targets: dtype <U"):
        compute(h, w, y.astype(str))


def test_convention_by_name() -> None:
    h, w, _, y = make_case(0, 2, 8, 50)
    for name in ("raw", "centered", "normalized"):
        by_name = compute(h, w, y, convention=name)
        assert by_name.to_dict() == compute(h, w, y, convention=Convention(name)).to_dict()
    stats = CollapseStats().update(h, y)
    assert stats.compute(w, convention="raw").convention == "raw"
    with pytest.raises(ValueError, match=r"convention: 'whitened' is not one of"):
        compute(h, w, y, convention="whitened")
