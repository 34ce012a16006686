"""Rendered MuJoCo image sets: targets from the simulator state, determinism, cache, samples."""

from __future__ import annotations

import argparse
from pathlib import Path

import h5py
import numpy as np
import pytest

from nrc.data import images, rendered
from nrc.data.images import ImageSet
from nrc.data.rendered import (
    RENDERED,
    add_arguments,
    generate,
    load_rendered,
    main,
    read_rendered,
    sample_path,
    write_rendered,
)


def reacher_fingertip(qpos: np.ndarray) -> np.ndarray:
    """Forward kinematics of Reacher: links of 0.1 and 0.11 from the origin (reacher.xml)."""
    q0, q1 = qpos[:, 0], qpos[:, 1]
    x = 0.1 * np.cos(q0) + 0.11 * np.cos(q0 + q1)
    y = 0.1 * np.sin(q0) + 0.11 * np.sin(q0 + q1)
    return np.stack([x, y], axis=1)


@pytest.fixture(scope="module")
def reacher() -> ImageSet:
    return generate("reacher-fingertip", count=30, size=32, seed=3)


def test_reacher_targets_are_the_fingertip_position(reacher: ImageSet) -> None:
    assert (
        reacher.images.shape == (30, 32, 32, 3)
        and reacher.target_names == RENDERED["reacher-fingertip"].target_names
    )
    np.testing.assert_allclose(
        reacher.targets, reacher_fingertip(reacher.extras["qpos"]), atol=1e-6
    )
    # 50-step episodes, every 5th state rendered: 10 frames per episode
    assert reacher.extras["episode"].tolist() == [0] * 10 + [1] * 10 + [2] * 10
    assert reacher.provenance["policy"] == "ik-pd" and reacher.provenance["seed"] == 3


def test_frames_show_the_arm_moving(reacher: ImageSet) -> None:
    moved = np.linalg.norm(reacher.targets[1:] - reacher.targets[:-1], axis=1) > 0.02
    changed = np.any(reacher.images[1:] != reacher.images[:-1], axis=(1, 2, 3))
    assert moved.any() and np.all(changed[moved])


def test_generation_is_deterministic_per_seed(reacher: ImageSet) -> None:
    again = generate("reacher-fingertip", count=30, size=32, seed=3)
    other = generate("reacher-fingertip", count=30, size=32, seed=4)
    assert np.array_equal(again.images, reacher.images)
    assert np.array_equal(again.targets, reacher.targets)
    assert not np.array_equal(other.targets, reacher.targets)


def test_hopper_target_is_the_torso_height() -> None:
    data = generate("hopper-height", count=8, size=24, seed=0)
    assert data.targets.shape == (8, 1)
    np.testing.assert_array_equal(data.targets[:, 0], data.extras["qpos"][:, 1].astype(np.float32))
    assert np.all((data.targets > 0.0) & (data.targets < 1.6))


def test_write_read_round_trip_is_atomic(tmp_path: Path, reacher: ImageSet) -> None:
    path = tmp_path / "sub" / "set.h5"
    write_rendered(reacher, path)
    back = read_rendered(path)
    assert np.array_equal(back.images, reacher.images)
    assert np.array_equal(back.targets, reacher.targets)
    assert np.array_equal(back.extras["qpos"], reacher.extras["qpos"])
    assert back.provenance == reacher.provenance and back.target_names == reacher.target_names
    assert sorted(p.name for p in path.parent.iterdir()) == ["set.h5"]


def test_read_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="absent"):
        read_rendered(tmp_path / "absent.h5")
    (tmp_path / "bad.h5").write_bytes(b"junk")
    with pytest.raises(ValueError, match="not a readable HDF5"):
        read_rendered(tmp_path / "bad.h5")
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["images"] = np.zeros((1, 8, 8, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match=r"missing \['targets'"):
        read_rendered(tmp_path / "other.h5")


def test_load_uses_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NRC_DATA_DIR", str(tmp_path))
    first = load_rendered("reacher-fingertip", count=4, size=16, seed=1)
    files = list((tmp_path / "rendered").glob("*.h5"))
    assert [f.name for f in files] == ["reacher-fingertip-16px-n4-ik-pd-s1.h5"]

    def fail(*args: object) -> None:
        raise AssertionError("generate called although the set is cached")

    monkeypatch.setattr(rendered, "generate", fail)
    second = load_rendered("reacher-fingertip", count=4, size=16, seed=1)
    assert np.array_equal(second.images, first.images)


def test_bad_requests_are_rejected() -> None:
    with pytest.raises(ValueError, match="unknown rendered dataset"):
        generate("carla-sim")
    with pytest.raises(ValueError, match="sine-pd"):
        generate("reacher-fingertip", count=2, size=16, policy="sine-pd")
    with pytest.raises(ValueError, match="count must be"):
        generate("hopper-height", count=0)


def test_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["hopper-height", "--count", "3", "--size", "16", "--out", str(tmp_path)]
    assert main(argv) == 0
    assert "3 images" in capsys.readouterr().out
    assert (tmp_path / "hopper-height-16px-n3-sine-pd-s0.h5").is_file()
    assert main(["hopper-height", "--count", "0", "--out", str(tmp_path)]) == 2
    # the same options hooked under another command's sub-parsers (`nrc data render ...`)
    parser = argparse.ArgumentParser()
    add_arguments(parser.add_subparsers(dest="cmd").add_parser("render"))
    args = parser.parse_args(
        ["render", "reacher-fingertip", "--count", "2", "--out", str(tmp_path)]
    )
    assert args.func(args) == 0
    assert (tmp_path / "reacher-fingertip-64px-n2-ik-pd-s0.h5").is_file()


@pytest.mark.parametrize("name", sorted(RENDERED))
def test_shipped_sample_matches_a_fresh_rendering(name: str) -> None:
    sample = read_rendered(sample_path(name))
    assert sample.images.shape == (48, 64, 64, 3) and sample.provenance["dataset"] == name
    fresh = generate(name, count=48, size=64, seed=sample.provenance["seed"])
    assert np.array_equal(fresh.targets, sample.targets)  # the simulation is bit-exact
    assert np.array_equal(fresh.extras["qpos"], sample.extras["qpos"])
    # Pixels may differ by rasteriser rounding across OpenGL builds; the pictures may not.
    diff = np.abs(fresh.images.astype(np.int16) - sample.images.astype(np.int16))
    assert diff.mean() < 1.0


def test_load_image_dataset_takes_test_frames_from_other_rollouts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NRC_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(images, "RENDERED_TRAIN", 20)
    monkeypatch.setattr(images, "RENDERED_TEST", 10)
    data = images.load_image_dataset("reacher-fingertip", train_size=15)
    assert data.x_train.shape == (15, 3, 64, 64) and data.y_test.shape == (3, 2)
    train = generate("reacher-fingertip", count=15, size=64, seed=0)
    test = generate("reacher-fingertip", count=3, size=64, seed=1)
    np.testing.assert_array_equal(data.y_train.numpy(), train.targets)
    np.testing.assert_array_equal(data.y_test.numpy(), test.targets)
    np.testing.assert_allclose(data.x_test.numpy(), test.images.transpose(0, 3, 1, 2) / 255.0)
    assert data.provenance["train"]["seed"] == 0 and data.provenance["test"]["seed"] == 1
