"""Deep NRC at a layer (LayerStats, layer_report) against an independent float64 reference,
constructed cases with known answers, streaming over batch splits and bad input."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from nrc.metrics import LayerProbe, LayerStats, compute, layer_report
from tests.metrics import reference as ref
from tests.metrics.conftest import make_case, orthonormal_rows, random_spd

FIELDS = ("noise_fraction", "cka", "alignment", "probe_mse", "stable_rank_h", "stable_rank_w")
CASES = [(n, d, m) for n in (1, 2, 3, 5) for d, m in ((n, 40), (n + 3, 200), (20, 12), (20, 500))]


def _relative_error(value: float, expected: float) -> float:
    return abs(value - expected) / max(abs(expected), 1.0)


@pytest.mark.parametrize(("n", "d", "m"), CASES)
@pytest.mark.parametrize("k_extra", [0, 1])
def test_agrees_with_the_reference_to_1e_8(n: int, d: int, m: int, k_extra: int) -> None:
    h, w, b, y = make_case(10 * n + d, n, d, m)
    k = min(n + k_extra, d)
    w_next = np.random.default_rng(m).normal(size=(7, d))
    report = layer_report(h, y, w_next, n_components=k, predictions=h @ w.T + b)
    expected = ref.layer(h, y, w_next, k, rtol=1e-3)
    for key in FIELDS:
        assert _relative_error(getattr(report, key), expected[key]) <= 1e-8, key
    mse = ref.mse_r2(h, w, b, y)[0]
    assert report.model_mse == pytest.approx(mse, rel=1e-10)
    assert report.probe_mse_ratio == pytest.approx(expected["probe_mse"] / mse, rel=1e-8)
    assert report.nrc1 == pytest.approx(ref.nrc1(h, n), rel=1e-8, abs=1e-12)
    np.testing.assert_allclose(
        report.nrc1_by_k, [ref.nrc1(h, j) for j in range(1, min(d, 10) + 1)], atol=1e-10
    )


def test_nrc1_is_the_head_reports_and_noise_fraction_the_centred_nrc1() -> None:
    h, w, _, y = make_case(2, 3, 16, 300)
    for convention in ("normalized", "centered", "raw"):
        layer = layer_report(h, y, w, convention=convention)
        head = compute(h, w, y, convention=convention)
        assert layer.nrc1 == head.nrc1 and layer.nrc1_by_k == head.nrc1_by_k
        assert layer.evr == head.evr and layer.convention == convention
    centred = layer_report(h, y, convention="centered")
    assert centred.noise_fraction == pytest.approx(centred.nrc1, rel=1e-10)


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_features_in_an_n_dim_subspace_have_no_noise(n: int) -> None:
    rng = np.random.default_rng(n)
    d, m = 24, 400
    y = rng.normal(size=(m, n))
    h = (y @ rng.normal(size=(n, n)) + rng.normal(size=(m, n))) @ orthonormal_rows(rng, n, d)
    report = layer_report(h + 5.0, y)
    assert 0.0 <= report.noise_fraction <= 1e-12
    assert report.stable_rank_h <= n + 1e-9


@pytest.mark.parametrize("n", [1, 2, 3, 5])
@pytest.mark.parametrize("scale", [1.0, 7.5])
def test_isometric_features_of_the_targets_have_cka_1_and_probe_0(n: int, scale: float) -> None:
    rng = np.random.default_rng(n)
    d, m = 16, 300
    y = rng.multivariate_normal(rng.normal(size=n), random_spd(rng, n), size=m)
    basis = orthonormal_rows(rng, n, d)
    mixing = rng.normal(size=(n, n)) + 3 * np.eye(n)
    aligned = layer_report(scale * y @ basis, y, mixing @ basis)
    assert aligned.cka == pytest.approx(1.0, abs=1e-12)
    assert aligned.probe_mse <= 1e-12 * np.trace(ref.sigma(y))
    assert aligned.alignment == pytest.approx(1.0, abs=1e-10)
    complement = np.linalg.svd(basis)[2][n:]  # rows orthogonal to the feature subspace
    assert layer_report(scale * y @ basis, y, complement).alignment <= 1e-10


def test_cka_below_1_for_a_non_isometric_map() -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(size=(500, 3))
    stretched = y @ (np.diag([1.0, 3.0, 10.0]) @ orthonormal_rows(rng, 3, 8))
    report = layer_report(stretched, y)
    assert report.probe_mse <= 1e-12 and report.cka < 0.9


def test_low_rank_targets_are_accepted() -> None:
    rng = np.random.default_rng(4)
    z = rng.normal(size=(300, 2))
    y = z @ rng.normal(size=(2, 4))  # rank 2 < n = 4: Σ_Y singular, still a valid layer
    h = np.column_stack([z, rng.normal(size=(300, 6)) * 0.01]) @ orthonormal_rows(rng, 8, 8)
    report = layer_report(h, y, n_components=2)
    expected = ref.layer(h, y, None, 2, rtol=1e-3)
    assert report.noise_fraction == pytest.approx(expected["noise_fraction"], rel=1e-8)
    assert report.probe_mse == pytest.approx(expected["probe_mse"], rel=1e-8, abs=1e-14)


def test_probe_rtol_cuts_small_singular_values() -> None:
    h, _, _, y = make_case(3, 2, 6, 200)
    h = h.copy()
    h[:, -1] = h[:, 0] * 1e-5 + 1e-6 * np.random.default_rng(0).normal(size=200)
    for rtol in (1e-9, 1e-3, 0.5):
        report = layer_report(h, y, probe_rtol=rtol)
        expected = ref.layer(h, y, None, 2, rtol=rtol)["probe_mse"]
        assert _relative_error(report.probe_mse, expected) <= 1e-8, rtol
        s = np.linalg.svd(h - h.mean(axis=0), compute_uv=False)
        assert report.probe_rank == int(np.sum(s > rtol * s[0]))


def test_missing_next_layer_and_predictions_are_none_with_a_reason() -> None:
    h, _, _, y = make_case(0, 2, 8, 100)
    report = layer_report(h, y)
    assert report.alignment is None and "no W_next" in report.alignment_reason
    assert report.stable_rank_w is None
    assert report.model_mse is None and report.probe_mse_ratio is None
    zero = layer_report(h, y, np.zeros((4, 8)))
    assert zero.alignment is None and "W_next = 0" in zero.alignment_reason
    row = report.to_dict()
    assert row["alignment"] is None and row["target_convention"] == "centered"
    assert {"nrc1_k_1", "evr_8", "probe_mse_ratio"} <= set(row)


@settings(max_examples=30, deadline=None)
@given(
    cuts=st.lists(st.integers(1, 149), max_size=6, unique=True).map(sorted),
    offset=st.sampled_from([0.0, 1e3]),
)
def test_streaming_over_any_batch_split_equals_one_batch(cuts: list[int], offset: float) -> None:
    h, w, b, y = make_case(7, 3, 10, 150)
    h = h + offset
    pred = h @ w.T + b
    w_next = np.random.default_rng(1).normal(size=(5, 10))
    one = layer_report(h, y, w_next, predictions=pred)
    stats = LayerStats()
    edges = [0, *cuts, 150]
    halves = [LayerStats(), LayerStats()]
    for i, (lo, hi) in enumerate(itertools.pairwise(edges)):
        stats.update(h[lo:hi], y[lo:hi], pred[lo:hi])
        halves[i % 2].update(h[lo:hi], y[lo:hi], pred[lo:hi])
    for split in (stats.report(w_next), halves[0].merge(halves[1]).report(w_next)):
        for key in (*FIELDS, "nrc1", "model_mse", "probe_mse_ratio"):
            assert getattr(split, key) == pytest.approx(getattr(one, key), rel=1e-9), key


def test_a_monitor_fills_one_layer_stats_per_layer_in_one_pass() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 12), nn.ReLU(), nn.Linear(12, 8), nn.ReLU(), nn.Linear(8, 2))
    x, y = torch.randn(90, 6, dtype=torch.float64), torch.randn(90, 2, dtype=torch.float64)
    model = model.double()
    modules = {"hidden1": model[1], "hidden2": model[3]}
    next_weight = {"hidden1": model[2].weight, "hidden2": model[4].weight}
    stats = {name: LayerStats() for name in modules}
    with LayerProbe(modules) as probe, torch.no_grad():
        for rows in torch.split(torch.arange(90), 32):
            predictions = model(x[rows])
            for name, captured in probe.take().items():
                stats[name].update(captured.output, y[rows], predictions)
    with torch.no_grad():
        features = {"hidden1": model[:2](x), "hidden2": model[:4](x)}
        predictions = model(x)
    for name, layer_stats in stats.items():
        streamed = layer_stats.report(next_weight[name].detach())
        whole = layer_report(features[name], y, next_weight[name].detach(), predictions=predictions)
        for key in (*FIELDS, "nrc1", "probe_mse_ratio"):
            assert getattr(streamed, key) == pytest.approx(getattr(whole, key), rel=1e-9), key


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_components": 9}, "n_components: must be an integer between 1 and .* d = 8"),
        ({"n_components": 0}, "n_components"),
        ({"n_components": 1.5}, "n_components"),
        ({"probe_rtol": 0.0}, "probe_rtol"),
        ({"probe_rtol": 1.0}, "probe_rtol"),
        ({"W_next": np.ones((3, 7))}, r"W_next: shape \(3, 7\) .* d = 8"),
        ({"W_next": np.full((3, 8), np.nan)}, "W_next: 24 NaN"),
        ({"W_next": np.ones(8)}, "W_next: expected 2-D"),
        ({"predictions": np.ones((50, 3))}, "predictions: shape"),
    ],
)
def test_bad_arguments_are_clear_errors(kwargs: dict, match: str) -> None:
    h, _, _, y = make_case(0, 2, 8, 50)
    args = {"W_next": None} | kwargs
    w_next = args.pop("W_next")
    with pytest.raises(ValueError, match=match):
        layer_report(h, y, w_next, **args)


def test_bad_arrays_are_clear_errors() -> None:
    h, _, _, y = make_case(0, 2, 8, 50)
    nan_h = h.copy()
    nan_h[3, 2] = np.nan
    with pytest.raises(ValueError, match="features: 1 NaN"):
        layer_report(nan_h, y)
    with pytest.raises(ValueError, match="targets: 50 rows but features have 49"):
        layer_report(h[:49], y)
    with pytest.raises(ValueError, match="targets: zero variance"):
        layer_report(h, np.ones((50, 2)))
    with pytest.raises(ValueError, match="features: zero variance"):
        layer_report(np.ones((50, 8)), y)
    with pytest.raises(ValueError, match="targets: n = 2 targets exceed .* d = 1"):
        layer_report(h[:, :1], y)
    with pytest.raises(ValueError, match="statistics: 1 sample"):
        layer_report(h[:1], y[:1])
    with pytest.raises(ValueError, match="statistics: empty"):
        LayerStats().report()
