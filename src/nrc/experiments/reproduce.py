"""`nrc reproduce`: run or reuse the paper's runs, make every figure and table, check the claims,
write summary.json, claims.csv and index.html (issue 6)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from nrc.data import load
from nrc.experiments import (
    claims,
    fig2_prevalence,
    fig3_evr,
    fig4_gamma,
    fig5_phase_change,
    fig6_ufm_runs,
    fig7_wd_sweep,
    fig8_image_wd_sweep,
    fig10_norms,
    fig11_residuals,
    table1,
    ufm_phase,
)
from nrc.experiments.common import Artifact, Context
from nrc.experiments.report import write_report
from nrc.experiments.runs import Results, execute, plan_for
from nrc.io import atomic_write, write_json
from nrc.train.presets import DATASETS

log = logging.getLogger(__name__)

# Each module returns its artifact, or None where it does not apply to the plan's datasets.
MODULES: tuple[tuple[str, Callable[[Context], Artifact | None]], ...] = (
    ("table1", table1.make),
    ("fig2", fig2_prevalence.make),
    ("fig3", fig3_evr.make),
    ("fig4", fig4_gamma.make),
    ("fig5", fig5_phase_change.make),
    ("fig6", fig6_ufm_runs.make),
    ("fig7", fig7_wd_sweep.make),
    ("fig8", fig8_image_wd_sweep.make),
    ("fig10", fig10_norms.make),
    ("fig11", fig11_residuals.make),
    ("ufm_phase", ufm_phase.make),
)


def make_artifacts(ctx: Context) -> list[Artifact]:
    """Every figure/table module in turn; one that fails is recorded and the rest go on; one that
    does not apply to the plan's datasets is left out."""
    out = []
    for key, make in MODULES:
        log.info("making %s", key)
        try:
            artifact = make(ctx)
            if artifact is not None:
                out.append(artifact)
        except Exception as err:  # a missing run or a failed figure must not stop the report
            log.exception("%s failed", key)
            out.append(Artifact(key, key, "", error=f"{type(err).__name__}: {err}"))
    return out


def reproduce(
    preset: str = "quick",
    datasets: tuple[str, ...] = DATASETS,
    out: Path | str = Path("out/quick"),
    jobs: int = 1,
    formats: tuple[str, ...] = ("png",),
    overrides: tuple[str, ...] = (),
    phase_points_per_decade: int = 6,
) -> Path:
    """The whole reproduction; returns the path of index.html. ``overrides`` (``key=value``)
    apply to every run, after the preset (used for tiny test configurations)."""
    started = time.perf_counter()
    plan = plan_for(preset, tuple(datasets), tuple(overrides))
    out = Path(out)
    results: Results = execute(plan, out / "runs", jobs=jobs)
    ctx = Context(results, out, formats, phase_points_per_decade)
    artifacts = make_artifacts(ctx)
    phase = next((a.table for a in artifacts if a.key == "ufm_phase"), None)
    checked = claims.evaluate(results, phase)
    table = claims.claims_table(checked)
    atomic_write(out / "claims.csv", lambda tmp: table.to_csv(tmp, index=False))
    status = results.status
    failed = status[status.status != "complete"] if not status.empty else status
    summary = {
        "preset": preset,
        "datasets": list(plan.datasets),
        "plan": asdict(plan),
        "convention": "features row-normalised (paper), PCA of centred features, NRC3 normalised",
        "runs_complete": int((status.status == "complete").sum()) if not status.empty else 0,
        "runs_failed": len(failed),
        "failed_runs": failed[["group", "run", "error"]].to_dict("records") if len(failed) else [],
        "claims": table.to_dict("records"),
        "artifacts": {
            a.key: {"paths": [str(p) for p in a.paths], "error": a.error} for a in artifacts
        },
        "wall_seconds": time.perf_counter() - started,
    }
    write_json(out / "summary.json", summary)
    provenance = {name: load(name).provenance for name in plan.datasets}
    return write_report(out, summary, checked, artifacts, status, provenance)
