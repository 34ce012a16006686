"""`nrc data` sub-commands end to end on small inputs."""

from __future__ import annotations

import argparse
import json

import pytest

from nrc.data import commands
from nrc.data.mujoco.readers import read_minari


def run(argv: list[str]) -> int:
    """Parse `nrc data ...` with only this package's commands and run the handler."""
    parser = argparse.ArgumentParser(prog="nrc")
    commands.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def test_collect_then_stats_on_the_collected_prefix(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("NRC_DATA_DIR", str(tmp_path))
    assert run(["data", "collect", "reacher", "--policy", "ik-pd", "--episodes", "4"]) == 0
    paths = json.loads(capsys.readouterr().out)
    assert read_minari(paths["train"]).episodes() == 4
    assert run(["data", "stats", "reacher-expert-n4-s0"]) == 0
    out = capsys.readouterr().out
    assert "| reacher-expert-n4-s0 (ours) | 200 | raw state | 2 |" in out


def test_stats_of_a_shipped_set_prints_the_paper_row_beside_ours(capsys) -> None:
    assert run(["data", "stats", "hopper"]) == 0
    out = capsys.readouterr().out
    assert "| hopper (ours) | 10,000 | raw state | 3 |" in out
    assert "| hopper (paper) | 10,000 | raw state | 3 | [-0.215, -0.09, 0.059] | 0.215 |" in out


def test_evaluate_prints_the_mean_return(capsys) -> None:
    assert run(["data", "evaluate", "reacher", "--episodes", "2"]) == 0
    assert "reacher expert: mean return" in capsys.readouterr().out


def test_unknown_env_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unknown MuJoCo task 'ant'"):
        run(["data", "collect", "ant", "--episodes", "1"])


def test_ship_rebuilds_the_paper_sized_set(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(commands, "shipped_dir", lambda: tmp_path)
    assert run(["data", "ship", "reacher", "--seed", "3"]) == 0
    train = read_minari(tmp_path / "minari" / "reacher-expert-train-v0")
    test = read_minari(tmp_path / "minari" / "reacher-expert-test-v0")
    assert (len(train), train.episodes(), len(test), test.episodes()) == (1000, 20, 200, 4)
    assert train.provenance["seed"] == 3 and train.provenance["policy"] == "ik-pd"


def test_train_expert_runs_and_resumes_from_the_cli(tmp_path, capsys) -> None:
    argv = ["data", "train-expert", "swimmer", "--out", str(tmp_path), "--checkpoint-every", "1"]
    assert run([*argv, "--steps", "1"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert run([*argv, "--steps", str(first["steps"] + 1)]) == 0
    second = json.loads(capsys.readouterr().out)
    assert second["steps"] > first["steps"] > 0
    assert json.loads((tmp_path / "state.json").read_text())["algorithm"] == "ARS"
