"""Compare two `nrc reproduce` output folders: claims.csv equal and every run's metrics.parquet
bit-identical (same columns, dtypes and values, NaN = NaN). Used to show that a refactoring
changes no result (docs/architecture.md); both folders must come from the same machine and seed.

    python scripts/compare_reproductions.py OUT_BEFORE OUT_AFTER
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd


def compare_tables(a: Path, b: Path) -> str | None:
    """None when the two Parquet tables are bit-identical, else what differs."""
    left, right = pd.read_parquet(a), pd.read_parquet(b)
    if list(left.columns) != list(right.columns):
        extra = sorted(set(left.columns) ^ set(right.columns))
        return f"columns differ (symmetric difference {extra or 'order only'})"
    if not left.dtypes.equals(right.dtypes):
        return "dtypes differ"
    try:
        pd.testing.assert_frame_equal(left, right, check_exact=True)
    except AssertionError as err:
        return str(err).splitlines()[0]
    return None


def compare(before: Path, after: Path) -> list[str]:
    """Every difference between the two reproductions (empty when they agree)."""
    problems = []
    if (before / "claims.csv").read_bytes() != (after / "claims.csv").read_bytes():
        problems.append("claims.csv differs")
    runs_a = {p.relative_to(before) for p in before.rglob("metrics.parquet")}
    runs_b = {p.relative_to(after) for p in after.rglob("metrics.parquet")}
    problems += [f"only in {before}: {p}" for p in sorted(runs_a - runs_b)]
    problems += [f"only in {after}: {p}" for p in sorted(runs_b - runs_a)]
    for rel in sorted(runs_a & runs_b):
        diff = compare_tables(before / rel, after / rel)
        if diff:
            problems.append(f"{rel}: {diff}")
    if not runs_a:
        problems.append(f"no metrics.parquet under {before}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    args = parser.parse_args(argv)
    problems = compare(args.before, args.after)
    count = len(list(args.before.rglob("metrics.parquet")))
    for line in problems:
        print(line)
    print(
        f"{count} runs compared: {'identical' if not problems else f'{len(problems)} differences'}"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
