"""The training loop, its set-up and its evaluation rows against independent float64 references."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from nrc.train import TrainConfig, build_model, evaluate, load_run, run
from nrc.train.callbacks import recalibrate_batchnorm
from nrc.train.loop import loss_fn, lr_at, make_optimizer
from nrc.train.setup import Tensors, check_tensors, scale_targets
from tests.train.conftest import make_data


def _nrc1_reference(h: np.ndarray, n: int) -> float:
    """Paper §3.1: PCA of centred H, project the row-normalised uncentred H̃."""
    centred = h - h.mean(0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    p = vt[:n].T @ vt[:n]
    hn = h / np.linalg.norm(h, axis=1, keepdims=True)
    return float(np.sum((hn - hn @ p) ** 2) / h.shape[0])


def test_evaluation_row_matches_direct_computation(
    tiny: TrainConfig, data: SimpleNamespace
) -> None:
    model = build_model(tiny, (5,), 2)
    row = evaluate(model, check_tensors(data), dataclasses.replace(tiny, eval_batch_size=7))
    with torch.no_grad():
        h = model.features(data.x_train).double().numpy()
        pred = model(data.x_train).double().numpy()
        pred_test = model(data.x_test).double().numpy()
    y, yt = data.y_train.double().numpy(), data.y_test.double().numpy()
    assert row["train_mse"] == pytest.approx(np.mean((pred - y) ** 2), rel=1e-6)
    assert row["test_mse"] == pytest.approx(np.mean((pred_test - yt) ** 2), rel=1e-6)
    r2 = 1 - np.sum((pred - y) ** 2) / np.sum((y - y.mean(0)) ** 2)
    assert row["train_r2"] == pytest.approx(r2, rel=1e-6)
    assert row["nrc1"] == pytest.approx(_nrc1_reference(h, 2), rel=1e-6)
    w = model.head.weight.detach().double().numpy()
    assert row["wwt_1_2"] == pytest.approx((w @ w.T)[0, 1], rel=1e-6)
    assert row["activation"] == "none" and row["convention"] == "normalized"


def test_weight_decay_equals_explicit_l2_on_all_parameters(
    tiny: TrainConfig, data: SimpleNamespace
) -> None:
    """Authors' loss 0.5·MSE + 0.5·λ·Σ‖p‖² (Table 2) vs SGD(weight_decay=λ): one step each."""
    a, b = build_model(tiny, (5,), 2), build_model(tiny, (5,), 2)
    x, y = data.x_train[:32], data.y_train[:32]
    opt = make_optimizer(tiny, a)
    loss_fn(a, x, y, tiny).backward()
    opt.step()
    explicit = 0.5 * torch.mean((b(x) - y) ** 2)
    explicit = explicit + 0.5 * tiny.weight_decay * sum(p.pow(2).sum() for p in b.parameters())
    explicit.backward()
    with torch.no_grad():
        for p in b.parameters():
            p -= tiny.lr * p.grad
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(pa, pb, rtol=1e-5, atol=1e-7)


def test_ufm_loss_is_equation_1_with_half_factors(tiny: TrainConfig, data: SimpleNamespace) -> None:
    cfg = dataclasses.replace(
        tiny, regularization="ufm", weight_decay=0.0, lambda_h=0.3, lambda_w=0.7
    )
    model = build_model(cfg, (5,), 2)
    x, y = data.x_train[:10].double(), data.y_train[:10].double()
    model.double()
    h = model.features(x).detach().numpy()
    w = model.head.weight.detach().numpy()
    pred = h @ w.T + model.head.bias.detach().numpy()
    expected = (
        0.5 * np.sum((pred - y.numpy()) ** 2) / 10  # summed over the n = 2 targets (eq. 1)
        + 0.5 * 0.3 * np.sum(h**2) / 10
        + 0.5 * 0.7 * np.sum(w**2)
    )
    assert loss_fn(model, x, y, cfg).item() == pytest.approx(expected, rel=1e-12)
    assert make_optimizer(cfg, model).defaults["weight_decay"] == 0.0


def test_short_run_decreases_the_loss_and_writes_the_run(
    tiny: TrainConfig, data: SimpleNamespace, tmp_path: Path
) -> None:
    run_dir = run(tiny, tmp_path / "r", data=data)
    config, table = load_run(run_dir)
    assert config == tiny
    assert list(table["epoch"]) == [0, 10, 20, 30, 40]
    assert list(table["step"]) == [0, 30, 60, 90, 120]  # 96 samples / batch 32 = 3 steps per epoch
    assert table["train_mse"].is_monotonic_decreasing
    assert table["train_mse"].iloc[-1] < 0.5 * table["train_mse"].iloc[0]
    for name in (
        "config.json",
        "metrics.parquet",
        "wwt.npz",
        "checkpoint.pt",
        "train.log",
        "summary.json",
    ):
        assert (run_dir / name).is_file(), name
    wwt = np.load(run_dir / "wwt.npz")
    assert wwt["wwt"].shape == (5, 2, 2)
    np.testing.assert_allclose(wwt["wwt"][:, 0, 1], table["wwt_1_2"])
    state = torch.load(run_dir / "checkpoint.pt", weights_only=True)
    assert state["epoch"] == 40 and state["step"] == 120
    assert "epoch 40" in (run_dir / "train.log").read_text()


def _nrc3_reference(wwt: np.ndarray, sigma: np.ndarray, gamma: float) -> float:
    """NRC3 of paper §3.1 by its definition, float64."""
    vals, vecs = np.linalg.eigh(sigma)
    target = vecs @ np.diag(np.sqrt(vals)) @ vecs.T - np.sqrt(gamma) * np.eye(len(sigma))
    return float(np.sum((wwt / np.linalg.norm(wwt) - target / np.linalg.norm(target)) ** 2))


def test_paper_protocol_uses_the_final_gamma_for_every_row(
    tiny: TrainConfig, data: SimpleNamespace, tmp_path: Path
) -> None:
    _, table = load_run(run(tiny, tmp_path / "r", data=data))
    assert table["gamma_paper"].nunique() == 1
    last = table.iloc[-1]
    assert last["gamma_paper"] == pytest.approx(last["gamma"], rel=1e-9)
    assert last["nrc3_paper"] == pytest.approx(last["nrc3"], rel=1e-9, abs=1e-15)
    assert 0 <= last["gamma_paper"] <= last["lambda_min"]
    first = table.iloc[0]
    sigma = np.array([[last[f"sigma_{i}_{j}"] for j in (1, 2)] for i in (1, 2)])
    wwt = np.array([[first[f"wwt_{i}_{j}"] for j in (1, 2)] for i in (1, 2)])
    expected = _nrc3_reference(wwt, sigma, last["gamma_paper"])
    assert first["nrc3_paper"] == pytest.approx(expected, rel=1e-9)
    assert first["nrc3_paper"] >= first["nrc3"] - 1e-12  # the per-row optimum is never worse


def test_weight_decay_causes_collapse_and_zero_weight_decay_does_not(tmp_path: Path) -> None:
    """Paper §4.4 / Fig. 5: identical runs except λ_WD; NRC1 drops >10× below the λ_WD = 0 run."""
    data = make_data(m=64, m_test=16)
    base = TrainConfig(
        dataset="synthetic", depth=2, width=32, activation="none", lr=0.2, batch_size=32,
        epochs=300, eval_every=300, checkpoint_every=300, weight_decay=0.05,
    )  # fmt: skip
    nrc = {}
    for wd in (0.05, 0.0):
        _, table = load_run(
            run(dataclasses.replace(base, weight_decay=wd), tmp_path / str(wd), data=data)
        )
        nrc[wd] = table.iloc[-1]
    assert nrc[0.05]["nrc1"] < 1e-2 and nrc[0.05]["nrc2"] < 1e-2
    assert nrc[0.0]["nrc1"] > 10 * nrc[0.05]["nrc1"]
    assert nrc[0.0]["train_r2"] > 0.9  # the unregularised net fits; its features stay spread


def test_bad_data_is_rejected(tiny: TrainConfig, data: SimpleNamespace, tmp_path: Path) -> None:
    bad = SimpleNamespace(**vars(data))
    bad.y_train = data.y_train.clone()
    bad.y_train[3, 1] = float("nan")
    with pytest.raises(ValueError, match="y_train contains NaN"):
        run(tiny, tmp_path / "r", data=bad)
    short = SimpleNamespace(**vars(data))
    short.y_test = data.y_test[:-1]
    with pytest.raises(ValueError, match="x_test has 32 rows, y_test has 31"):
        check_tensors(short)


def test_existing_run_with_another_config_is_an_error(
    tiny: TrainConfig, data: SimpleNamespace, tmp_path: Path
) -> None:
    run(tiny, tmp_path / "r", data=data)
    with pytest.raises(ValueError, match="another config.*lr"):
        run(dataclasses.replace(tiny, lr=0.01), tmp_path / "r", data=data)


def test_divergence_is_reported(tiny: TrainConfig, data: SimpleNamespace, tmp_path: Path) -> None:
    with pytest.raises(FloatingPointError, match="diverged"):
        run(dataclasses.replace(tiny, lr=1e6), tmp_path / "r", data=data)


class _DropoutNet(nn.Module):
    """A non-MLP model with train/eval behaviour: features = dropout(tanh(linear(x)))."""

    def __init__(self, d_in: int, n: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(d_in, 12), nn.Tanh(), nn.Dropout(0.5))
        self.head = nn.Linear(12, n)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def test_any_model_with_features_and_head_trains_and_is_evaluated_in_eval_mode(
    tiny: TrainConfig, data: SimpleNamespace, tmp_path: Path
) -> None:
    def factory(config: TrainConfig, in_shape: tuple[int, ...], n: int) -> nn.Module:
        torch.manual_seed(config.seed)
        return _DropoutNet(in_shape[0], n)

    model = factory(tiny, (5,), 2)
    row = evaluate(model, check_tensors(data), tiny)
    assert model.training  # mode restored
    with torch.no_grad():
        model.eval()
        expected = torch.mean((model(data.x_train) - data.y_train) ** 2).item()
    assert row["train_mse"] == pytest.approx(expected, rel=1e-6)
    _, table = load_run(run(tiny, tmp_path / "r", data=data, model_factory=factory))
    assert table["d"].iloc[0] == 12 and table["train_mse"].iloc[-1] < table["train_mse"].iloc[0]


def test_ufm_run_reports_nrc3_at_gamma_c(
    tiny: TrainConfig, data: SimpleNamespace, tmp_path: Path
) -> None:
    """§5.3: with λ_H, λ_W penalties NRC3 is evaluated at γ = c = λ_W·λ_H, not optimised."""
    cfg = dataclasses.replace(
        tiny, regularization="ufm", weight_decay=0.0, lambda_h=0.2, lambda_w=0.05
    )
    _, table = load_run(run(cfg, tmp_path / "ufm", data=data))
    np.testing.assert_allclose(table["gamma"], 0.01, rtol=1e-12)
    assert set(table["gamma_protocol"]) == {"fixed"}
    row = table.iloc[-1]
    sigma = np.array([[row[f"sigma_{i}_{j}"] for j in (1, 2)] for i in (1, 2)])
    wwt = np.array([[row[f"wwt_{i}_{j}"] for j in (1, 2)] for i in (1, 2)])
    assert row["nrc3"] == pytest.approx(_nrc3_reference(wwt, sigma, 0.01), rel=1e-9)
    assert row["nrc3_optimal"] <= row["nrc3"] + 1e-12


def test_image_inputs_train_a_resnet_through_the_same_trainer(
    tiny: TrainConfig, tmp_path: Path
) -> None:
    """4-D inputs (N×C×H×W) train `model=resnet18` through run()."""

    g = torch.Generator().manual_seed(0)
    images = SimpleNamespace(
        x_train=torch.rand(24, 3, 16, 16, generator=g),
        y_train=torch.randn(24, 2, generator=g),
        x_test=torch.rand(8, 3, 16, 16, generator=g),
        y_test=torch.randn(8, 2, generator=g),
    )
    config = dataclasses.replace(
        tiny, model="resnet18", activation="relu", epochs=2, eval_every=1, checkpoint_every=2,
        batch_size=8, lr=1e-3, momentum=0.9,
    )  # fmt: skip
    run(config, tmp_path / "img", data=images)
    _, table = load_run(tmp_path / "img")
    assert list(table.epoch) == [0, 1, 2] and table.d.iloc[0] == 512
    assert table.train_mse.notna().all() and table.nrc1.between(0, 1).all()
    wrong = SimpleNamespace(**vars(images))
    wrong.x_test = torch.rand(8, 3, 8, 8)
    with pytest.raises(ValueError, match=r"x_train samples have shape \(3, 16, 16\)"):
        check_tensors(wrong)
    wrong.x_test = torch.rand(8, 3, 16)
    with pytest.raises(ValueError, match=r"data.x_test must be a 2-D or 4-D torch tensor"):
        check_tensors(wrong)


def test_lr_follows_multistep_schedule_of_torch(tiny: TrainConfig) -> None:
    """lr_at(epoch) is torch's MultiStepLR stepped once per epoch (Table 3's schedule)."""
    cfg = dataclasses.replace(tiny, lr=0.5, milestones=(3, 7), lr_gamma=0.2)
    param = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([param], lr=cfg.lr)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, [3, 7], gamma=0.2)
    for epoch in range(10):
        assert lr_at(cfg, epoch) == pytest.approx(optimizer.param_groups[0]["lr"], rel=1e-15)
        optimizer.step()
        scheduler.step()


def test_warmup_follows_linear_then_multistep_schedule_of_torch(tiny: TrainConfig) -> None:
    """With `warmup_epochs` W, lr_at(epoch) is torch's LinearLR (from 1/W over W epochs) chained
    with MultiStepLR, both stepped once per epoch."""
    cfg = dataclasses.replace(tiny, lr=0.5, warmup_epochs=4, milestones=(6,), lr_gamma=0.1)
    param = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([param], lr=cfg.lr)
    scheduler = torch.optim.lr_scheduler.ChainedScheduler(
        [
            torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=0.25, total_iters=3),
            torch.optim.lr_scheduler.MultiStepLR(optimizer, [6], gamma=0.1),
        ]
    )
    rates = []
    for epoch in range(10):
        assert lr_at(cfg, epoch) == pytest.approx(optimizer.param_groups[0]["lr"], rel=1e-12)
        rates.append(lr_at(cfg, epoch))
        optimizer.step()
        scheduler.step()
    assert rates[:5] == pytest.approx([0.125, 0.25, 0.375, 0.5, 0.5])


def test_momentum_and_schedule_reach_the_optimizer(
    tiny: TrainConfig, data: SimpleNamespace, tmp_path: Path
) -> None:
    cfg = dataclasses.replace(tiny, momentum=0.9, milestones=(10, 15), lr_gamma=0.5, epochs=20)
    run(cfg, tmp_path / "r", data=data)
    state = torch.load(tmp_path / "r" / "checkpoint.pt", weights_only=True)["optimizer"]
    group = state["param_groups"][0]
    assert group["momentum"] == 0.9 and group["lr"] == pytest.approx(cfg.lr * 0.25)
    assert all("momentum_buffer" in v for v in state["state"].values())


@pytest.mark.parametrize("how", ["standardize", "minmax"])
def test_target_scaling_uses_training_statistics(data: SimpleNamespace, how: str) -> None:
    tensors = check_tensors(data)
    scaled, stats = scale_targets(tensors, how)
    y, yt = tensors.y_train.double().numpy(), tensors.y_test.double().numpy()
    if how == "standardize":
        shift, scale = y.mean(0), y.std(0)
        assert stats["std"] == pytest.approx(scale.tolist(), rel=1e-5)
    else:
        shift, scale = y.min(0), y.max(0) - y.min(0)
        assert scaled.y_train.min() == 0.0 and scaled.y_train.max() == 1.0
    np.testing.assert_allclose(scaled.y_train.numpy(), (y - shift) / scale, atol=1e-5)
    np.testing.assert_allclose(scaled.y_test.numpy(), (yt - shift) / scale, atol=1e-5)
    assert scaled.x_train is tensors.x_train
    assert scale_targets(tensors, "none") == (tensors, {})
    const = Tensors(tensors.x_train, tensors.y_train * 0, tensors.x_test, tensors.y_test)
    with pytest.raises(ValueError, match="constant"):
        scale_targets(const, how)


def test_build_model_dispatches_on_model_and_input_shape(tiny: TrainConfig, tmp_path) -> None:
    from nrc.models.resnet import ResNetRegressor

    cfg = dataclasses.replace(tiny, model="resnet34", activation="none")
    model = build_model(cfg, (3, 32, 32), 1)
    assert isinstance(model, ResNetRegressor) and model.describe().startswith("resnet34")
    assert model.features(torch.rand(2, 3, 32, 32)).min() < 0  # no ReLU on the features
    torch.save(build_model(cfg, (3, 32, 32), 1).state_dict(), tmp_path / "w.pth")
    loaded = build_model(dataclasses.replace(cfg, pretrained=str(tmp_path / "w.pth")), (3, 8, 8), 1)
    reference = torch.load(tmp_path / "w.pth", weights_only=True)
    assert all(torch.equal(v, reference[k]) for k, v in loaded.state_dict().items())
    with pytest.raises(ValueError, match="not images"):
        build_model(cfg, (5,), 2)
    with pytest.raises(ValueError, match="model=resnet18"):
        build_model(tiny, (3, 8, 8), 2)


def test_recalibrated_batchnorm_holds_the_training_set_statistics(tiny: TrainConfig) -> None:
    """After recalibration each BatchNorm's running mean/var are those of its input over the set
    (mean of per-batch statistics, equal batches), whatever the stale values were."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6))
    x = torch.randn(64, 4) * 3 + 1
    model[1].running_mean.fill_(100.0)
    model.eval()
    recalibrate_batchnorm(model, x, batch_size=16)
    assert not model.training and model[1].momentum == 0.1
    z = model[0](x).detach().reshape(4, 16, 6)
    np.testing.assert_allclose(model[1].running_mean, z.mean(1).mean(0), atol=1e-5)
    np.testing.assert_allclose(model[1].running_var, z.var(1).mean(0), rtol=1e-4)
    before = [p.clone() for p in model.parameters()]
    recalibrate_batchnorm(model, x, batch_size=16)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_float64_runs_train_and_measure_in_float64(
    tiny: TrainConfig, data: SimpleNamespace, tmp_path: Path
) -> None:
    """dtype=float64 puts model and data in float64; the float32 default keeps float32."""
    from nrc.train import training_data

    wide = dataclasses.replace(tiny, dtype="float64")
    assert build_model(wide, (5,), 2).head.weight.dtype == torch.float64
    assert training_data(wide, data).tensors.x_train.dtype == torch.float64
    assert training_data(tiny, data).tensors.x_train.dtype == torch.float32
    rows64 = load_run(run(wide, tmp_path / "f64", data=data))[1]
    rows32 = load_run(run(tiny, tmp_path / "f32", data=data))[1]
    assert rows64.train_mse.iloc[-1] == pytest.approx(rows32.train_mse.iloc[-1], rel=1e-4)
    assert not rows64.train_mse.equals(rows32.train_mse)
