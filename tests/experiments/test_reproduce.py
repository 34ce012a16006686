"""`nrc reproduce` end to end on a tiny configuration: every module makes its figure or table,
every claim gets a row, the report links them; failed runs are reported, not fatal."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from nrc.cli import main
from nrc.experiments.plan import plan_for
from nrc.experiments.reproduce import MODULES, reproduce
from nrc.experiments.runs import execute
from tests.experiments.conftest import TINY

TINY_IMAGES = {"epochs": 2, "eval_every": 1, "checkpoint_every": 2, "train_size": 40}
TINY_IMAGES |= {"test_size": 8, "image_size": 16, "batch_size": 20}


def write_carla(root: Path) -> None:
    """Tiny CARLA-layout files (random frames and targets) under `root`/carla."""
    import h5py
    import numpy as np

    rng = np.random.default_rng(0)
    for part, frames in (("SeqTrain", 48), ("SeqVal", 16)):
        folder = root / "carla" / part
        folder.mkdir(parents=True)
        with h5py.File(folder / "data_00000.h5", "w") as f:
            f["rgb"] = rng.integers(0, 256, size=(frames, 88, 200, 3), dtype=np.uint8)
            f["targets"] = rng.normal(size=(frames, 28)).astype(np.float32)


def test_every_module_produces_its_artifact(tiny_report) -> None:
    out, index = tiny_report
    summary = json.loads((out / "summary.json").read_text())
    paper = {key for key, study, _ in MODULES if study in ("any", "paper")}
    assert set(summary["artifacts"]) == paper - {"fig8"}  # no images
    for key, artifact in summary["artifacts"].items():
        assert artifact["error"] is None, (key, artifact["error"])
        assert artifact["paths"], key
        assert all(Path(p).is_file() for p in artifact["paths"]), key
    # wd, ufm, fig10, explain (Table 2's weight decay, sampled actions)
    assert summary["runs_failed"] == 0 and summary["runs_complete"] == 3 + 3 + 5 + 2
    import nrc

    assert (
        summary["nrc_version"] == nrc.__version__ and f"nrc {nrc.__version__}" in index.read_text()
    )
    run_summary = json.loads(next((out / "runs").rglob("summary.json")).read_text())
    assert run_summary["nrc_version"] == nrc.__version__
    page = index.read_text()
    for png in (out / "figures").rglob("*.png"):
        assert str(png.relative_to(out)) in page


def test_every_claim_has_a_row(tiny_report) -> None:
    out, _ = tiny_report
    table = pd.read_csv(out / "claims.csv")
    assert list(table.id) == [f"C{i}" for i in range(1, 9)]
    assert table.threshold.notna().all() and table.measured.notna().all()
    assert table.set_index("id").loc["C8", "passed"]  # the UFM solver matches the closed form


def test_the_paper_comparison_puts_the_papers_numbers_beside_ours_and_the_tests(
    tiny_report,
) -> None:
    """Table 1 and Fig. 4 rows (report, "Ours beside the paper's"): the paper's values from the
    registry, ours recomputed from the stored targets, the sampled-actions test from its run."""
    import numpy as np

    from nrc.data import registry, table1_row
    from nrc.experiments.analysis import PAPER_OPTIMUM
    from nrc.train.store import TARGETS, RunStore

    out, _ = tiny_report
    table = pd.read_csv(out / "tables" / "paper_comparison.csv").set_index("quantity")
    lam = table.loc["Table 1 λmin"]
    runs = out / "runs"
    main = RunStore(next(runs.glob("wd/*weight_decay=0.0005*"))).read_arrays(TARGETS)["y_train"]
    sampled = RunStore(next(runs.glob("explain/sampled/*"))).read_arrays(TARGETS)["y_train"]
    assert lam.paper == registry.spec("reacher").paper_row.lambda_min
    assert np.isclose(lam.ours, table1_row("reacher", main).lambda_min, rtol=1e-12)
    assert np.isclose(lam.ours_sampled_actions, table1_row("reacher", sampled).lambda_min)
    assert lam.ours_sampled_actions != lam.ours  # the sampled run trained on other targets
    gamma = table.loc["Fig. 4 optimal γ/λmin"]
    assert gamma.paper == PAPER_OPTIMUM["reacher"] and 0 <= gamma.ours <= 1
    assert np.isfinite(gamma.ours_at_table2_wd) and np.isfinite(gamma.ours_sampled_actions)
    assert table.loc["Table 2 weight decay"].paper == 1.5e-3


def test_quick_weight_decay_sweeps_take_three_seeds_where_runs_are_cheap() -> None:
    from nrc.experiments.plan import points

    plan = plan_for("quick", ("swimmer", "reacher"), TINY)
    seeds = {}
    for name, config in points(plan):
        if name.startswith("wd/"):
            seeds.setdefault(config.dataset, set()).add(config.seed)
    assert seeds == {"swimmer": {0, 1, 2}, "reacher": {0}}


def test_reuses_finished_runs(tiny_report) -> None:
    out, _ = tiny_report
    before = {p: p.stat().st_mtime_ns for p in (out / "runs").rglob("metrics.parquet")}
    results = execute(plan_for("quick", ("reacher",), TINY), out / "runs")
    after = {p: p.stat().st_mtime_ns for p in (out / "runs").rglob("metrics.parquet")}
    assert before == after and len(before) == 13
    assert set(results.status.status) == {"complete"}


def test_failed_runs_are_reported_and_the_rest_rendered(tmp_path, capsys) -> None:
    args = ["reproduce", "--datasets", "reacher", "--out", str(tmp_path), "--jobs", "1"]
    sets = [f"--set={k}={v}" for k, v in (TINY | {"lr": 1e12}).items()]
    args += ["--phase-points", "1", *sets]
    assert main(args) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["runs_complete"] == 0 and summary["runs_failed"] == 13
    assert "diverged" in summary["failed_runs"][0]["error"]
    assert summary["artifacts"]["table1"]["error"] is None
    assert summary["artifacts"]["fig2"]["error"] is not None
    assert all(c["passed"] is None for c in summary["claims"][:7])
    assert "Failed runs" in (tmp_path / "index.html").read_text()
    assert "report:" in capsys.readouterr().out


def test_image_dataset_reproduction_on_carla_files(tmp_path, monkeypatch) -> None:
    """An image-only plan (CARLA layout files written here): WD sweep with ResNet-18, Figs. 2,
    3, 4, 5, 8, 11 and Table 1 made; the MuJoCo-only figures left out, not failed."""
    import numpy as np

    from nrc.experiments.common import Context
    from nrc.experiments.fig11_residuals import residuals
    from nrc.experiments.plan import default_datasets, points

    monkeypatch.setenv("NRC_DATA_DIR", str(tmp_path / "data"))
    assert "carla-2d" not in default_datasets()
    write_carla(tmp_path / "data")
    assert "carla-2d" in default_datasets() and "utkface" not in default_datasets()
    tiny = TINY_IMAGES
    plan = plan_for("quick", ("carla-2d",), tiny)
    assert [name.split("/")[0] for name, _ in points(plan)] == ["wd"] * 3
    out = tmp_path / "out"
    reproduce("quick", ("carla-2d",), out, overrides=tiny, phase_points_per_decade=1)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["runs_complete"] == 3 and summary["runs_failed"] == 0
    made = summary["artifacts"]
    assert {"table1", "fig2", "fig3", "fig4", "fig5", "fig8", "fig11"} <= set(made)
    assert not {"fig6", "fig7", "fig10"} & set(made)
    assert all(a["error"] is None for a in made.values()), made
    table1 = pd.read_csv(out / "tables" / "table1.csv")
    assert table1.loc[0, "input"] == "RGB image" and table1.loc[0, "paper_lambda_min"] == 0.156
    # Fig. 11 measures the residuals of the targets the run trained on (min–max scaled) in eval
    # mode, so they give back the run's own final train MSE.
    results = execute(plan, out / "runs")
    _, eps_final, _ = residuals(Context(results, out), "carla-2d")
    final = results.main("carla-2d").iloc[-1]
    assert np.mean(eps_final**2) == pytest.approx(final.train_mse, rel=1e-5)


def test_the_parent_process_reads_each_dataset_file_at_most_once(tmp_path, monkeypatch) -> None:
    """One serial reproduction of a MuJoCo and an image set: every file of a dataset is opened
    once (all runs share one load; Table 1, Fig. 11, the UFM phase diagram and the report read
    what the runs stored)."""
    from collections import Counter

    from nrc.data import files

    monkeypatch.setenv("NRC_DATA_DIR", str(tmp_path / "data"))
    write_carla(tmp_path / "data")
    reads: Counter[str] = Counter()

    def counting(name):  # type: ignore[no-untyped-def]
        original = getattr(files, name)

        def read(path, *args, **kwargs):  # type: ignore[no-untyped-def]
            reads[f"{name}:{Path(path).resolve()}"] += 1
            return original(path, *args, **kwargs)

        return read

    for name in ("hdf5", "read_json", "minari_dataset", "parquet", "picture"):
        monkeypatch.setattr(files, name, counting(name))
    overrides = {k: v for k, v in TINY_IMAGES.items() if k != "image_size"} | {"width": 16}
    reproduce("quick", ("reacher", "carla-2d"), tmp_path / "out", overrides=overrides,
              phase_points_per_decade=1)  # fmt: skip
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["runs_failed"] == 0 and summary["artifacts"]["table1"]["error"] is None
    assert {k.split(":")[0] for k in reads} >= {"hdf5", "read_json", "minari_dataset"}
    assert max(reads.values()) == 1, reads


def test_every_option_is_checked_before_any_work(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setattr("nrc.experiments.runs.prepare", lambda plan: pytest.fail("work started"))
    monkeypatch.setattr(
        "nrc.experiments.reproduce.execute", lambda *a, **k: pytest.fail("work started")
    )
    base = ["reproduce", "--datasets", "reacher-fingertip", "--out", str(tmp_path / "o")]
    for bad in (["--jobs", "0"], ["--phase-points", "0"], ["--set", "lr=-1"]):
        assert main([*base, *bad]) == 2
        assert capsys.readouterr().err.startswith("nrc: error:")
    assert main(["reproduce", "--datasets", "reacher,nope", "--out", str(tmp_path / "o")]) == 2
    assert not (tmp_path / "o").exists()
