"""The claims logic on constructed metric tables that pass and that fail."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nrc.experiments import claims
from nrc.experiments.plan import plan_for
from nrc.experiments.results import Results
from nrc.metrics import sqrtm_psd

SIGMA = np.array([[0.05, 0.01], [0.01, 0.02]])
LAM_MIN = float(np.linalg.eigvalsh(SIGMA)[0])


def _row(run: str, epoch: int, collapsed: bool, **extra) -> dict:
    """One metrics row of an n = 2 run; collapsed rows have tiny NRC and WWᵀ ∝ Σ^½ − √γ I."""
    gamma = 0.5 * LAM_MIN
    wwt = sqrtm_psd(SIGMA) - np.sqrt(gamma) * np.eye(2) if collapsed else np.diag([1.0, 0.02])
    row = {
        "run": run,
        "epoch": epoch,
        "n": 2,
        "seed": 0,
        "lambda_min": LAM_MIN,
        "nrc1": 1e-5 if collapsed else 0.4,
        "nrc2": 2e-5 if collapsed else 0.5,
        "nrc3": 1e-4 if collapsed else 0.3,
        "evr_1": 0.7,
        "evr_2": 0.2999 if collapsed else 0.1,
        "evr_3": 1e-4,
    }
    row |= {f"sigma_{i + 1}_{j + 1}": SIGMA[i, j] for i in range(2) for j in range(2)}
    row |= {f"wwt_{i + 1}_{j + 1}": wwt[i, j] for i in range(2) for j in range(2)}
    return row | extra


def _results(good: bool) -> Results:
    plan = plan_for("quick", ("reacher",))
    wd = pd.DataFrame(
        [
            _row(
                f"wd={w}", e, collapsed=good and w > 0 and e > 0, dataset="reacher", weight_decay=w
            )
            for w in (0.0, plan.main_weight_decay("reacher"))
            for e in (0, 100)
        ]
    )
    ufm_rows = []
    for lam in (1e-3, 1e-2):
        c = lam * lam
        var = c if good else 30 * c
        ufm_rows.append(
            _row(
                f"ufm={lam}",
                100,
                collapsed=good,
                dataset="reacher",
                lambda_h=lam,
                lambda_w=lam,
                residual_whiteness=0.02 if good else 0.5,
                residual_cov_1_1=var,
                residual_cov_2_2=var,
            )
        )
    fig10 = pd.DataFrame(
        [
            _row(
                f"f={lh}",
                100,
                collapsed=True,
                dataset="reacher",
                lambda_h=lh,
                feature_norm_mean=1 / lh if good else 1.0,
                w_row_norm_1=lh,
                w_row_norm_2=2 * lh,
            )
            for lh in (1e-3, 1e-2, 1e-1)
        ]
    )
    return Results(plan, Path("."), wd, pd.DataFrame(ufm_rows), fig10, pd.DataFrame())


def test_constructed_tables_that_pass() -> None:
    phase = pd.DataFrame({"loss_gap": [1e-9, -3e-8]})
    result = {c.id: c for c in claims.evaluate(_results(good=True).with_phase(phase))}
    assert [c.passed for c in result.values()] == [True] * 8, result
    assert "1 min at γ/λmin 0.500" in result["C3"].measured


def test_constructed_tables_that_fail() -> None:
    phase = pd.DataFrame({"loss_gap": [1e-3]})
    result = {c.id: c for c in claims.evaluate(_results(good=False).with_phase(phase))}
    for cid in ("C1", "C2", "C4", "C5", "C6", "C7", "C8"):
        assert result[cid].passed is False, result[cid]
    assert "not monotone: reacher ‖h‖" in result["C6"].measured


@pytest.mark.parametrize("good", [True, False])
def test_headroom_is_one_at_the_threshold_and_agrees_with_the_verdict(good: bool) -> None:
    """Every numeric claim passes exactly when its headroom is ≤ 1; the constructed values give
    the headroom by hand (failing C1: NRC2 0.5 of 1e-2; C8: a gap 1e3× the threshold)."""
    phase = pd.DataFrame({"loss_gap": [1e-9, -3e-8] if good else [1e-3]})
    result = {c.id: c for c in claims.evaluate(_results(good).with_phase(phase))}
    numeric = {cid: c for cid, c in result.items() if c.headroom is not None}
    assert set(numeric) == {"C1", "C2", "C4", "C5", "C7", "C8"}
    assert all(c.passed == (c.headroom <= 1) for c in numeric.values()), numeric
    assert result["C3"].headroom is None and result["C6"].headroom is None
    if good:
        assert result["C8"].headroom == pytest.approx(3e-8 / claims.SOLVER_GAP_MAX)
        assert result["C1"].headroom == pytest.approx(1e-4 / claims.NRC3_MAX)
        assert result["C7"].headroom == pytest.approx(0.02 / claims.WHITENESS_MAX)
    else:
        assert result["C8"].headroom == pytest.approx(1e-3 / claims.SOLVER_GAP_MAX)
        assert result["C1"].headroom == pytest.approx(0.5 / claims.NRC12_MAX)
        variance = np.log(30) / np.log(2)  # variance/c = 30 in the band [1/2, 2]
        assert result["C7"].headroom == pytest.approx(max(0.5 / claims.WHITENESS_MAX, variance))


def test_missing_runs_are_not_evaluated_rather_than_passed() -> None:
    empty = Results(plan_for("quick", ("reacher",)), Path("."), *[pd.DataFrame()] * 4)
    result = claims.evaluate(empty)
    assert [c.passed for c in result] == [None] * 8
    assert all(c.measured.startswith("not evaluated") for c in result)


@pytest.mark.parametrize("broken", ["nrc1", "sigma_1_1"])
def test_a_broken_table_is_reported_per_claim(broken: str) -> None:
    res = _results(good=True)
    res = dataclasses.replace(res, wd=res.wd.drop(columns=[broken]))
    result = claims.evaluate(res)
    assert any(c.passed is None and "Error: " in c.measured for c in result)


def test_a_failing_check_keeps_its_claim_id() -> None:
    """Every claim, C8 included, is reported under its own id when its check raises."""
    res = _results(good=True).with_phase(pd.DataFrame({"no_gap_column": [0.0]}))
    result = claims.evaluate(res)
    assert [c.id for c in result] == [f"C{i}" for i in range(1, 9)]
    assert result[-1].passed is None and "loss_gap" in result[-1].measured
    assert result[5].passed is True  # C6 reads only the Fig. 10 table


def test_every_seed_of_the_main_run_counts() -> None:
    """A second seed that does not collapse fails C1 and C2 although seed 0 passes (issue 17 §5:
    claims use every seed)."""
    res = _results(good=True)
    main = res.plan.main_weight_decay("reacher")
    other = _row("wd=main,seed=1", 100, collapsed=False, dataset="reacher", weight_decay=main)
    res = dataclasses.replace(
        res, wd=pd.concat([res.wd, pd.DataFrame([other | {"seed": 1}])], ignore_index=True)
    )
    result = {c.id: c for c in claims.evaluate(res)}
    assert result["C1"].passed is False and "seed 1" in result["C1"].measured
    assert result["C2"].passed is False


def test_ufm_claims_name_the_datasets_outside_their_regime() -> None:
    """C5 and C7 apply to 0 < c < λmin; a dataset whose runs all have c ≥ λmin is named, not
    silently dropped."""
    res = _results(good=True)
    big = 2 * np.sqrt(LAM_MIN)  # c = big² > λmin
    outside = res.ufm.iloc[0].to_dict() | {"run": "ufm=big", "dataset": "swimmer"}
    outside |= {"lambda_h": big, "lambda_w": big}
    res = dataclasses.replace(
        res, ufm=pd.concat([res.ufm, pd.DataFrame([outside])], ignore_index=True)
    )
    result = {c.id: c for c in claims.evaluate(res)}
    for cid in ("C5", "C7"):
        assert result[cid].passed is True
        assert "over reacher; not in the regime (c ≥ λmin): swimmer" in result[cid].measured


def test_a_test_moves_our_value_only_when_it_closes_a_tenth_of_the_gap() -> None:
    from nrc.experiments.paper_comparison import closer

    assert closer(1.0, {"a": 0.97, "b": 0.5}, 0.5) == "b"  # a closes 0.03/0.5 < 10 %
    assert closer(1.0, {"a": 0.97}, 0.5) == "none"
    assert closer(1.0, {"a": float("nan")}, 0.5) == "—"
