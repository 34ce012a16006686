"""Figure conventions: one colour per regularisation value, distinct within every sweep."""

from __future__ import annotations

import itertools

import pandas as pd
import pytest

from nrc.experiments.plan import FIG10_LAMBDA_W, PAPER_UFM_LAMBDAS, QUICK_UFM_LAMBDAS
from nrc.plots import reg_color
from nrc.plots.curves import metric_grid
from nrc.plots.style import reg_label
from nrc.train.presets import FIG10_LAMBDA_H, PAPER_WD_GRIDS, preset


def _sweeps() -> list[list[float]]:
    quick = [[0.0, 0.1 * preset("quick", d).weight_decay, preset("quick", d).weight_decay]
             for d in PAPER_WD_GRIDS]  # fmt: skip
    grids = [list(g) for g in PAPER_WD_GRIDS.values()]
    return grids + quick + [list(PAPER_UFM_LAMBDAS), list(QUICK_UFM_LAMBDAS),
                            [*FIG10_LAMBDA_H, FIG10_LAMBDA_W]]  # fmt: skip


@pytest.mark.parametrize("values", _sweeps())
def test_every_value_of_a_sweep_has_its_own_colour(values: list[float]) -> None:
    for a, b in itertools.combinations(sorted(set(values)), 2):
        assert reg_color(a) != reg_color(b), (a, b)


@pytest.mark.parametrize("values", _sweeps())
def test_every_value_of_a_sweep_has_its_own_label(values: list[float]) -> None:
    labels = [reg_label("λ", v) for v in sorted(set(values))]
    assert len(set(labels)) == len(labels), labels


def test_colour_is_fixed_by_the_value_and_zero_is_black() -> None:
    assert reg_color(0.0) == (0.0, 0.0, 0.0, 1.0)
    assert reg_color(5e-3) == reg_color(0.005) and reg_color(1e-2) != reg_color(5e-3)


def test_metric_grid_marks_nrc3_undefined_for_one_target() -> None:
    table = pd.DataFrame(
        {"dataset": "d", "weight_decay": [0.0, 0.0, 0.1, 0.1], "epoch": [0, 1, 0, 1],
         "n": 1, "nrc1": [0.9, 0.8, 0.9, 0.1], "nrc3": None, "train_r2": [-20, 0.5, -9, 0.9]}
    )  # fmt: skip
    fig = metric_grid(table, ["d"], ["nrc1", "nrc3", "train_r2"], "weight_decay", "WD", "t")
    nrc1, nrc3, r2 = fig.axes[:3]
    assert len(nrc1.lines) == 2 and nrc1.get_yscale() == "log"
    assert not nrc3.lines and "not defined" in nrc3.texts[0].get_text()
    assert r2.get_ylim()[0] == -1.0
