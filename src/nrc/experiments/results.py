"""What the figures, tables and claims read: the gathered tables of the runs and the artifacts the
runs stored (data description, training targets, residuals), plus the UFM phase diagram computed
on stored targets. Nothing here loads a dataset or rebuilds a model.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nrc.experiments.plan import Plan
from nrc.train import RunStore
from nrc.train.store import RESIDUALS, TARGETS

# How each feature convention of `nrc.metrics.Convention` is described in captions and reports.
CONVENTION_TEXT = {
    "normalized": "row-normalised uncentred features (the paper), PCA of the centred features",
    "centered": "centred features, distance ÷ total centred variance, PCA of the centred features",
    "raw": "raw uncentred features, PCA of the centred features",
}


def _group(table: pd.DataFrame, name: str) -> pd.DataFrame:
    """Rows of `table` whose run lies in the folder `name` (wd, ufm, fig10)."""
    if table.empty:
        return pd.DataFrame()
    return table[table.run.str.split("/").str[0] == name]


@dataclass(frozen=True)
class Results:
    """Gathered metrics tables (one row per evaluation of every finished run), run status and
    the UFM phase diagram (None until computed)."""

    plan: Plan
    root: Path
    wd: pd.DataFrame
    ufm: pd.DataFrame
    fig10: pd.DataFrame
    status: pd.DataFrame
    phase: pd.DataFrame | None = None
    deep: pd.DataFrame = field(default_factory=pd.DataFrame)
    explain: pd.DataFrame = field(default_factory=pd.DataFrame)

    @classmethod
    def from_sweep(
        cls, plan: Plan, root: Path, table: pd.DataFrame, status: pd.DataFrame
    ) -> Results:
        """Split a gathered sweep table into the plan's groups."""
        group = status.run.str.split("/").str[0] if len(status) else pd.Series(dtype=str)
        return cls(
            plan,
            root,
            _group(table, "wd"),
            _group(table, "ufm"),
            _group(table, "fig10"),
            status.assign(group=group),
            deep=_group(table, "deep"),
            explain=_group(table, "explain"),
        )

    def with_phase(self, phase: pd.DataFrame) -> Results:
        """These results with the UFM phase diagram `phase`."""
        return replace(self, phase=phase)

    def main(self, dataset: str) -> pd.DataFrame:
        """Rows of the main run of ``dataset`` (preset weight decay, first seed), by epoch."""
        rows = self.main_seeds(dataset)
        return rows[rows.seed == self.plan.seeds[0]].sort_values("epoch") if len(rows) else rows

    def main_seeds(self, dataset: str) -> pd.DataFrame:
        """Rows of the main runs of ``dataset`` over every seed of its sweep, by run and epoch."""
        if self.wd.empty:
            return self.wd
        rows = self.wd[
            (self.wd.dataset == dataset)
            & (self.wd.weight_decay == self.plan.main_weight_decay(dataset))
        ]
        return rows.sort_values(["run", "epoch"])

    def explained(self, variant: str, dataset: str) -> pd.DataFrame:
        """Rows of the ``explain/variant`` run of ``dataset``, by epoch (empty when absent)."""
        if self.explain.empty:
            return self.explain
        rows = self.explain[
            (self.explain.run.str.split("/").str[1] == variant) & (self.explain.dataset == dataset)
        ]
        return rows.sort_values("epoch")

    def explained_targets(self, variant: str, dataset: str) -> np.ndarray | None:
        """The training targets the ``explain/variant`` run of ``dataset`` stored (None when
        that run did not start)."""
        s = self.status
        if s.empty:
            return None
        run = s[s.run.str.startswith(f"explain/{variant}/") & (s.dataset == dataset)]
        store = RunStore(self.root / run.run.iloc[0]) if len(run) else None
        if store is None or not (store.path / TARGETS).is_file():
            return None
        return store.read_arrays(TARGETS)["y_train"]

    def main_store(self, dataset: str) -> RunStore:
        """The run directory of the main run of ``dataset``, finished or not (the data it
        stored at its start describes the dataset even when training failed)."""
        s = self.status
        if not s.empty:
            sweep = (s.group == "wd") | s.run.str.startswith("deep/wd/")
            s = s[
                sweep
                & (s.dataset == dataset)
                & (s.weight_decay == self.plan.main_weight_decay(dataset))
                & (s.seed == self.plan.seeds[0])
            ]
        if s.empty:
            raise ValueError(f"no main run for dataset {dataset!r}")
        return RunStore(self.root / s.run.iloc[0])

    def data_info(self, dataset: str) -> dict[str, Any]:
        """data.json of the main run of ``dataset``: provenance, shapes, target scaling."""
        return self.main_store(dataset).read_data()

    def targets(self, dataset: str) -> np.ndarray:
        """The training targets of ``dataset`` as loaded (before any scaling), M×n."""
        return self.main_store(dataset).read_arrays(TARGETS)["y_train"]

    def residuals(self, dataset: str) -> dict[str, np.ndarray]:
        """Training residuals of the main run: "initial", "final" (M×n) and the targets the run
        trained on, "y_train"."""
        return self.main_store(dataset).read_arrays(RESIDUALS)

    def deep_runs(self, family: str) -> pd.DataFrame:
        """Final rows of the deep study's runs of `family` ("wd", "mlp8", "rank")."""
        if self.deep.empty:
            return self.deep
        rows = self.deep[self.deep.run.str.split("/").str[1] == family]
        return rows.sort_values("epoch").groupby("run").tail(1)

    def layer_table(self, run: str) -> pd.DataFrame:
        """The per-layer rows (layers.parquet) of the run `run`."""
        return pd.DataFrame(RunStore(self.root / run).read_layer_rows())

    def geometry(self, run: str) -> dict[str, Any]:
        """The intrinsic dimensions the run `run` measured at its end (geometry.json)."""
        return RunStore(self.root / run).read_geometry()

    def conventions(self) -> str:
        """The feature conventions of the gathered runs, described (normally a single one)."""
        tables = (self.wd, self.ufm, self.fig10, self.deep, self.explain)
        frames = [t for t in tables if not t.empty]
        used = sorted({c for t in frames for c in t.convention.unique()})
        return "; ".join(f"{c}: {CONVENTION_TEXT.get(c, c)}" for c in used) or "no finished run"
