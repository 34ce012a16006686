"""Packaging: importing nrc loads no framework, the version is the installed one, and the wheel
that `python -m build` makes installs into a fresh venv whose `nrc demo` runs."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
import sysconfig
from pathlib import Path

import nrc
from nrc.cli import main

ROOT = Path(__file__).resolve().parents[2]
FRAMEWORKS = ("lightning", "torchmetrics", "transformers", "tensorboard", "wandb", "mlflow", "ray")


def test_importing_nrc_and_its_metrics_loads_no_framework() -> None:
    code = (
        "import json, sys, nrc, nrc.metrics, nrc.integrations, nrc.integrations.common; "
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {FRAMEWORKS!r})))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == []


def test_version_is_the_installed_distribution_version(capsys) -> None:
    assert nrc.__version__ == importlib.metadata.version("nrc")
    try:
        main(["--version"])
    except SystemExit as stop:
        assert stop.code == 0
    assert capsys.readouterr().out.strip() == f"nrc {nrc.__version__}"


def test_wheel_installs_into_a_fresh_venv_and_runs_the_demo(tmp_path) -> None:
    subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(tmp_path / "dist"),
         str(ROOT)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    (wheel,) = (tmp_path / "dist").glob("nrc-*.whl")
    assert len(list((tmp_path / "dist").glob("nrc-*.tar.gz"))) == 1
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    # The dependencies come from this interpreter's site-packages through a .pth file, so
    # nothing is downloaded; the nrc package itself only from the wheel.
    (purelib,) = venv.glob("lib/python*/site-packages")
    (purelib / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install",
         "--no-deps", "--no-index", "--quiet", str(wheel)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import nrc; print(nrc.__file__)"],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    assert str(purelib) in where.stdout
    demo = subprocess.run([str(venv / "bin" / "nrc"), "demo"], capture_output=True, text=True)
    assert demo.returncode == 0, demo.stderr[-2000:]
    assert "NRC1" in demo.stdout or "nrc1" in demo.stdout
