"""The static HTML report (index.html): claims, figures, tables, provenance and run configs.
Plain HTML with relative image links, readable offline."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import pandas as pd

from nrc.experiments.claims import Claim
from nrc.experiments.common import Artifact
from nrc.io import atomic_write

TABLE_ROWS_SHOWN = 60  # longer tables are linked as CSV only
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; display: block;
        overflow-x: auto; max-width: 100%; }
td, th { border: 1px solid #ccc; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
.pass { background: #dff3df; } .fail { background: #f8d7d7; } .none { background: #eee; }
figure { margin: 2em 0; } figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-size: 0.9em; color: #444; margin-top: 0.4em; }
.error { color: #a00; font-weight: bold; }
details { margin: 0.5em 0; } pre { background: #f7f7f7; padding: 0.6em; overflow-x: auto; }
"""


def _table(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, border=0, float_format=lambda v: f"{v:.4g}", na_rep="—")


def _claims(claims: list[Claim]) -> str:
    rows = []
    for c in claims:
        cls, verdict = {True: ("pass", "PASS"), False: ("fail", "FAIL")}.get(
            c.passed, ("none", "not evaluated")
        )
        headroom = "—" if c.headroom is None else f"{c.headroom:.2g}"
        cells = (c.id, c.claim, c.measured, c.threshold, verdict, headroom)
        rows.append(
            f"<tr class='{cls}'>"
            + "".join(f"<td>{html.escape(str(v))}</td>" for v in cells)
            + "</tr>"
        )
    names = ("id", "claim", "measured", "threshold", "verdict", "headroom")
    head = "".join(f"<th>{h}</th>" for h in names)
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def _artifact(a: Artifact, root: Path) -> str:
    parts = [f"<h3 id='{a.key}'>{html.escape(a.title)}</h3>"]
    if a.error:
        parts.append(f"<p class='error'>failed: {html.escape(a.error)}</p>")
    for path in a.paths:
        rel = html.escape(str(Path(path).relative_to(root)))
        if path.suffix == ".png":
            parts.append(
                f"<figure><img src='{rel}' alt='{html.escape(a.title)}'>"
                f"<figcaption>{html.escape(a.caption)}</figcaption></figure>"
            )
        else:
            parts.append(f"<p><a href='{rel}'>{rel}</a></p>")
    if a.table is not None and len(a.table) <= TABLE_ROWS_SHOWN:
        parts.append(_table(a.table))
    return "\n".join(parts)


def write_report(
    out: Path,
    summary: dict[str, Any],
    claims: list[Claim],
    artifacts: list[Artifact],
    status: pd.DataFrame,
    provenance: dict[str, Any],
) -> Path:
    """Write ``out/index.html`` and return its path."""
    failed = status[status.status != "complete"] if not status.empty else status
    runs = status.drop(columns=["error"], errors="ignore") if not status.empty else status
    body = [
        "<h1>Neural Regression Collapse: reproduction report</h1>",
        f"<p>Preset <b>{html.escape(summary['preset'])}</b>, datasets "
        f"{html.escape(', '.join(summary['datasets']))}; {summary['runs_complete']} runs "
        f"complete, {summary['runs_failed']} failed; wall time {summary['wall_seconds']:.0f} s. "
        f"Metric convention: {html.escape(summary['convention'])}. "
        f"nrc {html.escape(summary['nrc_version'])}.</p>",
        "<h2>Claims</h2>",
        _claims(claims),
    ]
    if len(failed):
        body += ["<h2 class='error'>Failed runs</h2>", _table(failed[["group", "run", "error"]])]
    body += ["<h2>Figures and tables</h2>"] + [_artifact(a, out) for a in artifacts]
    body += ["<h2>Datasets: provenance</h2>"]
    for name, prov in provenance.items():
        text = html.escape(json.dumps(prov, indent=2, default=str))
        body.append(f"<details><summary>{html.escape(name)}</summary><pre>{text}</pre></details>")
    if not runs.empty:
        body += ["<h2>Runs: configuration and convention</h2>", _table(runs)]
    page = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>nrc reproduction</title>"
        f"<style>{STYLE}</style></head><body>{''.join(body)}</body></html>"
    )
    return atomic_write(out / "index.html", lambda tmp: tmp.write_text(page, encoding="utf-8"))
