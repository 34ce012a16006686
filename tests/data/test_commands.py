"""`nrc data` sub-commands end to end on small inputs."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from nrc.data import commands
from nrc.data.mujoco.readers import read_minari
from nrc.data.registry import SAMPLED_SIGMA


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
    assert "| hopper (ours, deterministic actions) | 10,000 | raw state | 3 |" in out
    assert "| hopper (paper) | 10,000 | raw state | 3 | [-0.215, -0.09, 0.059] | 0.215 |" in out


def test_stats_of_the_sampled_variant(capsys) -> None:
    assert run(["data", "stats", "reacher", "--expert-actions", "sampled"]) == 0
    out = capsys.readouterr().out
    assert "| reacher (ours, sampled actions) | 1,000 | raw state | 2 | [0.06322] | 0.0206 |" in out
    with pytest.raises(SystemExit):
        run(["data", "stats", "reacher", "--expert-actions", "noisy"])


def test_collect_with_action_noise_names_and_records_it(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("NRC_DATA_DIR", str(tmp_path))
    argv = ["data", "collect", "reacher", "--episodes", "2", "--action-noise", "0.2"]
    assert run(argv) == 0
    paths = json.loads(capsys.readouterr().out)
    assert paths["train"].endswith("reacher-expert-n2-s0-sigma0.2-train-v0")
    assert read_minari(paths["train"]).provenance["action_noise"]["sigma"] == 0.2


def test_sigma_scan_prints_returns_rows_and_the_rule(capsys) -> None:
    argv = ["data", "sigma", "reacher", "--sigmas", "0.05", "0.1", "--episodes", "3"]
    assert run(argv) == 0
    out = capsys.readouterr().out
    assert "| reacher | random |" in out and "| reacher | 0.1 |" in out
    assert "rule (every score >= 0.9): σ = 0.1" in out


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
    sampled = read_minari(tmp_path / "minari" / "reacher-expert-sampled-train-v0")
    assert sampled.provenance["action_noise"]["sigma"] == SAMPLED_SIGMA and len(sampled) == 1000
    assert not np.array_equal(sampled.actions, train.actions)


def test_ship_rebuilds_only_the_variants_asked_for(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(commands, "shipped_dir", lambda: tmp_path)
    assert run(["data", "ship", "reacher", "--actions", "sampled"]) == 0
    assert sorted(p.name for p in (tmp_path / "minari").iterdir()) == [
        "reacher-expert-sampled-test-v0",
        "reacher-expert-sampled-train-v0",
    ]


def test_evaluate_with_action_noise(capsys) -> None:
    assert run(["data", "evaluate", "reacher", "--episodes", "2", "--action-noise", "0.1"]) == 0
    assert "reacher expert (action noise 0.1): mean return" in capsys.readouterr().out


def test_train_expert_runs_and_resumes_from_the_cli(tmp_path, capsys) -> None:
    argv = ["data", "train-expert", "swimmer", "--out", str(tmp_path), "--checkpoint-every", "1"]
    assert run([*argv, "--steps", "1"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert run([*argv, "--steps", str(first["steps"] + 1)]) == 0
    second = json.loads(capsys.readouterr().out)
    assert second["steps"] > first["steps"] > 0
    assert json.loads((tmp_path / "state.json").read_text())["algorithm"] == "ARS"
