"""`nrc reproduce`: run or reuse the paper's runs, make every figure and table, check the claims,
write summary.json, claims.csv and index.html (docs/architecture.md shows the data flow).

Everything after the runs reads what the runs stored (`Results`); the parent process loads no
dataset itself."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from nrc import __version__
from nrc.data import registry
from nrc.experiments import (
    claims,
    deep_geometry,
    deep_layers,
    deep_low_rank,
    fig2_prevalence,
    fig3_evr,
    fig4_gamma,
    fig5_phase_change,
    fig6_ufm_runs,
    fig7_wd_sweep,
    fig8_image_wd_sweep,
    fig10_norms,
    fig11_residuals,
    paper_comparison,
    table1,
    ufm_phase,
)
from nrc.experiments.common import Artifact, Context
from nrc.experiments.plan import plan_for
from nrc.experiments.report import write_report
from nrc.experiments.results import Results
from nrc.experiments.runs import execute
from nrc.io import atomic_write, write_json
from nrc.train.launch import Launcher, check_jobs, check_threads
from nrc.train.runner import check_tracker

log = logging.getLogger(__name__)

# (key, study, module): each module returns its artifact, or None where it does not apply to
# the plan's datasets; a module runs when its study is one of the plan's ("any": always).
MODULES: tuple[tuple[str, str, Callable[[Context], Artifact | None]], ...] = (
    ("table1", "any", table1.make),
    ("paper", "paper", paper_comparison.make),
    ("fig2", "paper", fig2_prevalence.make),
    ("fig3", "paper", fig3_evr.make),
    ("fig4", "paper", fig4_gamma.make),
    ("fig5", "paper", fig5_phase_change.make),
    ("fig6", "paper", fig6_ufm_runs.make),
    ("fig7", "paper", fig7_wd_sweep.make),
    ("fig8", "paper", fig8_image_wd_sweep.make),
    ("fig10", "paper", fig10_norms.make),
    ("fig11", "paper", fig11_residuals.make),
    ("ufm_phase", "paper", ufm_phase.make),
    ("deep_layers", "deep", deep_layers.make),
    ("deep_low_rank", "deep", deep_low_rank.make),
    ("deep_geometry", "deep", deep_geometry.make),
)


def make_artifacts(ctx: Context) -> list[Artifact]:
    """Every figure/table module in turn; one that fails is recorded and the rest go on; one that
    does not apply to the plan's datasets is left out."""
    out = []
    studies = ("any", *ctx.results.plan.studies)
    for key, study, make in MODULES:
        if study not in studies:
            continue
        log.info("making %s", key)
        try:
            artifact = make(ctx)
            if artifact is not None:
                out.append(artifact)
        except Exception as err:  # a missing run or a failed figure must not stop the report
            log.exception("%s failed", key)
            out.append(Artifact(key, key, "", error=f"{type(err).__name__}: {err}"))
    return out


def _with_phase(results: Results, points_per_decade: int) -> Results:
    """`results` with the UFM phase diagram, or as they are when it cannot be computed (its
    figure and claim C8 then report why)."""
    try:
        return results.with_phase(ufm_phase.phase(results, points_per_decade))
    except Exception:  # no stored targets (the run failed): report, do not stop the reproduction
        log.exception("UFM phase diagram failed")
        return results


def _check_options(
    jobs: int, formats: tuple[str, ...], phase_points_per_decade: int, threads: int | None
) -> None:
    """Raise before any work on a bad option."""
    check_jobs(jobs)
    check_threads(threads)
    bad = sorted(set(formats) - {"png", "pdf"})
    if bad or not formats:
        raise ValueError(f"formats must be among ('png', 'pdf'), got {formats}")
    if isinstance(phase_points_per_decade, bool) or not isinstance(phase_points_per_decade, int):
        raise ValueError(f"--phase-points must be an integer, got {phase_points_per_decade!r}")
    if phase_points_per_decade < 1:
        raise ValueError(f"--phase-points must be >= 1, got {phase_points_per_decade}")


def reproduce(
    preset: str = "quick",
    datasets: tuple[str, ...] = registry.MUJOCO,
    out: Path | str = Path("out/quick"),
    jobs: int = 1,
    formats: tuple[str, ...] = ("png",),
    overrides: Mapping[str, Any] | None = None,
    phase_points_per_decade: int = 6,
    batched: bool | None = None,
    threads: int | None = None,
    study: str = "paper",
    tracker: str | None = None,
    launcher: Launcher | None = None,
) -> Path:
    """The whole reproduction; returns the path of index.html. ``overrides`` (``{key: value}``)
    apply to every run, after the preset (used for tiny test configurations). Every option is
    checked before any work starts. ``batched`` and ``threads`` go to the launcher
    (``nrc.experiments.runs.execute``); ``study`` is "paper", "deep" or "all"
    (``nrc.experiments.plan.STUDIES``); ``tracker`` also receives every run's metrics; a given
    ``launcher`` (e.g. Ray's, docs/distributed.md) replaces jobs/batched/threads."""
    started = time.perf_counter()
    _check_options(jobs, tuple(formats), phase_points_per_decade, threads)
    check_tracker(tracker)
    plan = plan_for(preset, tuple(datasets), overrides, study)
    out = Path(out)
    results = execute(
        plan,
        out / "runs",
        jobs=jobs,
        batched=batched,
        threads=threads,
        tracker=tracker,
        launcher=launcher,
    )
    if "paper" in plan.studies:
        results = _with_phase(results, phase_points_per_decade)
    ctx = Context(results, out, formats)
    artifacts = make_artifacts(ctx)
    checked = claims.evaluate(results)
    table = claims.claims_table(checked)
    atomic_write(out / "claims.csv", lambda tmp: table.to_csv(tmp, index=False))
    status = results.status
    failed = status[status.status != "complete"] if not status.empty else status
    summary = {
        "preset": preset,
        "datasets": list(plan.datasets),
        "plan": asdict(plan),
        "convention": results.conventions(),
        "runs_complete": int((status.status == "complete").sum()) if not status.empty else 0,
        "runs_failed": len(failed),
        "failed_runs": failed[["group", "run", "error"]].to_dict("records") if len(failed) else [],
        "claims": table.to_dict("records"),
        "artifacts": {
            a.key: {"paths": [str(p) for p in a.paths], "error": a.error} for a in artifacts
        },
        "wall_seconds": time.perf_counter() - started,
        "nrc_version": __version__,
    }
    write_json(out / "summary.json", summary)
    return write_report(out, summary, checked, artifacts, status, _provenance(results))


def _provenance(results: Results) -> dict[str, Any]:
    """Each dataset's provenance as its main run stored it (or why it is missing)."""
    out: dict[str, Any] = {}
    for name in results.plan.datasets:
        try:
            out[name] = results.data_info(name)["provenance"]
        except (ValueError, FileNotFoundError) as err:
            out[name] = f"not available: {err}"
    return out
