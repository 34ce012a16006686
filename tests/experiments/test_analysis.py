"""The shared analyses on constructed metric tables with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd

from nrc.experiments.analysis import curve_ends


def _run(
    run: str, dataset: str, nrc1: list[float], nrc3: list[float] | None = None
) -> pd.DataFrame:
    """One run evaluated every 10 epochs from epoch 0 (NRC2 = NRC1 / 2)."""
    epochs = 10 * np.arange(len(nrc1))
    table = pd.DataFrame({"run": run, "dataset": dataset, "seed": 0, "epoch": epochs})
    table["convention"] = "normalized" if dataset == "reacher" else "centered"
    table["nrc1"], table["nrc2"] = nrc1, np.array(nrc1) / 2
    table["nrc3"] = np.nan if nrc3 is None else nrc3
    return table


def test_curve_ends_tells_a_falling_curve_from_a_plateau() -> None:
    falling = _run("a", "reacher", [1.0, 0.5, 0.3, 0.2, 0.1, 0.05, 0.03, 0.02, 0.01], [0.1] * 9)
    plateau = _run("b", "hopper-height", [1.0, 0.1, 0.02, 0.05, 0.03, 0.04, 0.03, 0.05, 0.04])
    rows = pd.concat([falling.sample(frac=1.0, random_state=0), plateau])  # any row order
    ends = curve_ends(rows).set_index("run")
    assert list(ends.index) == ["a", "b"]
    # 9 evaluations, epochs 0..80: the last quarter is epoch >= 60, three evaluations
    assert (ends.epoch == 80).all() and (ends.tail_from == 60).all()
    a, b = ends.loc["a"], ends.loc["b"]
    assert (a.nrc1, a.nrc1_tail_min, a.nrc1_tail_max) == (0.01, 0.01, 0.03)
    assert (b.nrc1, b.nrc1_tail_min, b.nrc1_tail_max) == (0.04, 0.03, 0.05)  # not at its min
    assert (a.nrc2, a.nrc2_tail_max) == (0.005, 0.015)
    assert a.nrc3 == a.nrc3_tail_min == a.nrc3_tail_max == 0.1
    assert np.isnan(b.nrc3) and np.isnan(b.nrc3_tail_min)  # n = 1: no NRC3
    assert b.dataset == "hopper-height" and b.seed == 0
    assert (a.convention, b.convention) == ("normalized", "centered")  # each run's own
