"""`nrc reproduce --study deep` end to end on a tiny configuration: the deep study's runs (every
layer along the WD sweep, Deep NRC's 8×512 MLP, low-rank targets), its three figures and
claims D1–D4; and the low-rank targets themselves."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from nrc.experiments.plan import plan_for, points
from nrc.experiments.reproduce import reproduce
from nrc.train.setup import LOW_RANK_SHRINK, Tensors, low_rank_targets

TINY = {"epochs": 20, "eval_every": 10, "checkpoint_every": 20, "train_size": 120}
TINY |= {"test_size": 30, "width": 16}


def test_the_deep_plan_has_its_three_families() -> None:
    plan = plan_for("quick", ("reacher", "hopper"), TINY, study="deep")
    names = [name for name, _ in points(plan)]
    assert {n.split("/")[1] for n in names} == {"wd", "mlp8", "rank"}
    configs = dict(points(plan))
    assert all(c.layers == "all" for c in configs.values())
    ranks = sorted(c.target_rank for n, c in configs.items() if n.startswith("deep/rank/"))
    assert ranks == [1, 1, 2]  # reacher r = 1; hopper r = 1, 2
    mlp8 = [c for n, c in configs.items() if n.startswith("deep/mlp8/")]
    assert {(c.depth, c.bias, c.momentum) for c in mlp8} == {(8, False, 0.9)}
    both = plan_for("quick", ("reacher",), TINY, study="all")
    assert {n.split("/")[0] for n, _ in points(both)} == {"wd", "ufm", "fig10", "explain", "deep"}


def test_deep_study_makes_its_figures_and_claims(tmp_path: Path) -> None:
    out = tmp_path / "deep"
    reproduce("quick", ("reacher",), out, overrides=TINY, study="deep")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["runs_failed"] == 0
    assert set(summary["artifacts"]) == {"table1", "deep_layers", "deep_low_rank", "deep_geometry"}
    assert all(a["error"] is None and a["paths"] for a in summary["artifacts"].values())
    claims = pd.read_csv(out / "claims.csv")
    assert list(claims.id) == ["D1", "D2", "D3", "D4"]
    assert claims.measured.str.startswith("not evaluated").sum() == 0
    rank = pd.read_csv(out / "tables" / "deep_low_rank.csv")
    assert sorted(rank["rank"]) == [1, 2] and (rank.stable_rank_h >= 1).all()
    geometry = pd.read_csv(out / "tables" / "deep_geometry.csv")
    assert len(geometry) == 3 and (geometry.id_y > 0).all() and (geometry.id_h > 0).all()


def test_low_rank_targets_keep_r_directions_and_shrink_the_rest() -> None:
    g = torch.Generator().manual_seed(0)
    y = torch.randn(500, 3, generator=g) @ torch.tensor([[2.0, 0.3, 0], [0, 1.0, 0.2], [0, 0, 0.5]])
    data = Tensors(torch.zeros(500, 1), y, torch.zeros(50, 1), y[:50] + 1.0)
    low = low_rank_targets(data, 1)
    eig = np.linalg.eigvalsh(np.cov(low.y_train.double().numpy().T, bias=True))[::-1]
    full = np.linalg.eigvalsh(np.cov(y.double().numpy().T, bias=True))[::-1]
    assert eig[0] == pytest.approx(full[0], rel=1e-6)
    assert eig[1:] == pytest.approx(full[1:] * LOW_RANK_SHRINK**2, rel=0.3)
    assert low.y_train.mean(0).numpy() == pytest.approx(y.mean(0).numpy(), abs=1e-5)
    with pytest.raises(ValueError, match="target_rank"):
        low_rank_targets(data, 3)
