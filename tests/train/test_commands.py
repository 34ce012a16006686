"""`nrc train` and `nrc sweep` through their argument parsers."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from nrc.train import TrainConfig, commands, load_run
from tests.train.conftest import make_data


def _main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    commands.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.fixture
def config_file(tiny: TrainConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr("nrc.train.setup.load_dataset", lambda config: make_data())
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(dataclasses.asdict(tiny)))
    return path


def test_train_writes_a_run_and_prints_the_final_row(
    config_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert (
        _main(["train", str(config_file), "--set", "seed=4", "--out", str(out), "--no-progress"])
        == 0
    )
    config, table = load_run(out)
    assert config.seed == 4 and table["epoch"].iloc[-1] == config.epochs
    printed = capsys.readouterr().out
    assert f"run: {out}" in printed and "nrc1=" in printed
    assert _main(["train", "--resume", str(out), "--no-progress"]) == 0  # complete: reused


def test_train_argument_errors(config_file: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="--resume RUN takes no CONFIG"):
        _main(["train", str(config_file), "--resume", str(tmp_path)])
    with pytest.raises(ValueError, match="give a CONFIG"):
        _main(["train"])
    with pytest.raises(ValueError, match="config key 'lr'"):
        _main(["train", str(config_file), "--set", "lr=0"])
    with pytest.raises(FileNotFoundError, match="config.json"):
        _main(["train", "--resume", str(tmp_path / "nothing")])


def test_sweep_command(
    config_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sweep"
    code = _main(
        ["sweep", str(config_file), "--grid", "seed=0,1", "--set", "epochs=20", "--out", str(out)]
    )
    assert code == 0
    table = pd.read_parquet(out / "sweep.parquet")
    assert sorted(table["run"].unique()) == ["seed=0", "seed=1"]
    assert "complete" in capsys.readouterr().out
    with pytest.raises(ValueError, match="key=v1,v2"):
        _main(["sweep", str(config_file), "--grid", "seed", "--out", str(out)])


def test_diverged_training_is_a_clear_error_of_the_cli(
    config_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from nrc.cli import main

    argv = ["train", str(config_file), "--set", "lr=1e12", "--out", str(tmp_path / "r")]
    assert main([*argv, "--no-progress"]) == 2
    assert "nrc: error: training diverged at epoch 1" in capsys.readouterr().err


def test_pretrained_flag_loads_resnet_weights(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`nrc train --pretrained PATH` = `--set pretrained=ABSOLUTE_PATH`, loaded before training."""
    import torch

    from nrc.models.resnet import resnet18

    g = torch.Generator().manual_seed(0)
    images = SimpleNamespace(
        x_train=torch.rand(8, 3, 16, 16, generator=g), y_train=torch.rand(8, 1, generator=g),
        x_test=torch.rand(4, 3, 16, 16, generator=g), y_test=torch.rand(4, 1, generator=g),
    )  # fmt: skip
    monkeypatch.setattr("nrc.train.setup.load_dataset", lambda config: images)
    torch.manual_seed(7)
    torch.save(resnet18(1000).state_dict(), tmp_path / "imagenet.pth")
    argv = ["train", "quick", "--set", "dataset=hopper-height", "--set", "epochs=1"]
    argv += ["--set", "eval_every=1", "--set", "checkpoint_every=1", "--set", "lr=1e-9"]
    argv += ["--set", "weight_decay=0", "--set", "momentum=0", "--no-progress"]
    monkeypatch.chdir(tmp_path)
    assert _main([*argv, "--pretrained", "imagenet.pth", "--out", "r"]) == 0
    config, _ = load_run(tmp_path / "r")
    assert config.pretrained == str(tmp_path / "imagenet.pth")
    state = torch.load(tmp_path / "r" / "checkpoint.pt", weights_only=True)["model"]
    reference = torch.load(tmp_path / "imagenet.pth", weights_only=True)
    torch.testing.assert_close(state["conv1.weight"], reference["conv1.weight"])
    with pytest.raises(FileNotFoundError, match="--pretrained missing.pth"):
        _main([*argv, "--pretrained", "missing.pth", "--out", "r2"])


def test_log_sends_the_metrics_to_tensorboard(
    config_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--log tensorboard` writes event files under RUN/logs holding the table's values."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "run"
    args = ["train", str(config_file), "--out", str(out), "--no-progress", "--log", "tensorboard"]
    assert _main(args) == 0
    events = EventAccumulator(str(out / "logs" / "tensorboard")).Reload()
    table = load_run(out)[1]
    scalars = events.Scalars("nrc/nrc1")
    assert [e.step for e in scalars] == list(table.epoch)
    assert [e.value for e in scalars] == pytest.approx(list(table.nrc1), rel=1e-6)
    with pytest.raises(ValueError, match="--log must be one of"):
        _main(["train", str(config_file), "--out", str(tmp_path / "x"), "--log", "csv"])
    assert not (tmp_path / "x").exists()
