"""What every experiment module returns, and the context it reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from nrc.experiments.results import Results


@dataclass(frozen=True)
class Context:
    """Inputs of the figure modules: the gathered runs, where to write, which formats."""

    results: Results
    out: Path
    formats: tuple[str, ...] = ("png",)

    @property
    def figures(self) -> Path:
        return self.out / "figures"

    @property
    def tables(self) -> Path:
        return self.out / "tables"


@dataclass(frozen=True)
class Artifact:
    """One figure or table of the paper as produced here (``error`` set if it failed)."""

    key: str
    title: str
    caption: str
    paths: list[Path] = field(default_factory=list)
    table: pd.DataFrame | None = None
    error: str | None = None
