"""Rendered MuJoCo image sets: targets from the simulator state, determinism, cache, samples."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import h5py
import numpy as np
import pytest

import nrc.data
from nrc.data import registry
from nrc.data.images import rendered
from nrc.data.images.rendered import (
    RENDERED,
    generate,
    load_rendered,
    read_rendered,
    sample_path,
    write_rendered,
)
from nrc.data.types import ImageSet
from tests.data.test_commands import run


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


def test_reacher_arm_shows_the_fingertip_frames_with_the_fingertip_and_elbow_y(
    reacher: ImageSet,
) -> None:
    arm = generate("reacher-arm", count=30, size=32, seed=3)
    assert np.array_equal(arm.images, reacher.images)
    q0, q1 = arm.extras["qpos"][:, 0], arm.extras["qpos"][:, 1]
    elbow_y = 0.1 * np.sin(q0)
    fingertip_y = elbow_y + 0.11 * np.sin(q0 + q1)
    np.testing.assert_allclose(arm.targets, np.stack([fingertip_y, elbow_y], 1), atol=1e-6)
    assert arm.target_names == ("fingertip_y", "elbow_y")


def test_reacher_arm_targets_are_anisotropic_and_correlated_after_minmax_scaling() -> None:
    """Issue 17 §1: NRC3 is informative only if the scaled Σ is far from c·I (docs/images.md)."""
    y = generate("reacher-arm", count=600, size=8, seed=0).targets.astype(np.float64)
    scaled = (y - y.min(0)) / np.ptp(y, axis=0)
    sigma = np.cov(scaled, rowvar=False, bias=True)
    eig = np.linalg.eigvalsh(sigma)
    corr = sigma[0, 1] / np.sqrt(sigma[0, 0] * sigma[1, 1])
    assert eig[1] / eig[0] >= 3 and abs(corr) >= 0.2


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
    argv = ["data", "render", "hopper-height", "--count", "3", "--size", "16"]
    assert run([*argv, "--out", str(tmp_path)]) == 0
    assert "3 images" in capsys.readouterr().out
    assert (tmp_path / "hopper-height-16px-n3-sine-pd-s0.h5").is_file()
    with pytest.raises(ValueError, match="count must be"):
        run(["data", "render", "hopper-height", "--count", "0", "--out", str(tmp_path)])


def test_a_damaged_cache_is_rendered_again_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A cache file nrc wrote itself is regenerated, not an error: the images' gzip chunks are
    overwritten (an HDF5 read error), then the provenance attribute (a JSON error)."""
    monkeypatch.setenv("NRC_DATA_DIR", str(tmp_path))
    first = load_rendered("reacher-fingertip", count=4, size=16, seed=1)
    path = rendered.cache_path("reacher-fingertip", 4, 16, 1, None)
    with h5py.File(path, "r") as f:
        offset = f["images"].id.get_chunk_info(0).byte_offset
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(b"\xff" * 64)
    with pytest.raises(ValueError, match=f"{path.name}: damaged HDF5 file"):
        read_rendered(path)
    again = load_rendered("reacher-fingertip", count=4, size=16, seed=1)
    assert (
        np.array_equal(again.images, first.images)
        and "rendering reacher-fingertip again" in caplog.text
    )
    with h5py.File(path, "r+") as f:
        f.attrs["provenance"] = "{not json"
    with pytest.raises(ValueError, match=f"{path.name}: damaged JSON attribute"):
        read_rendered(path)
    assert np.array_equal(
        load_rendered("reacher-fingertip", count=4, size=16, seed=1).targets, first.targets
    )
    assert read_rendered(path).provenance == first.provenance


def assert_same_rendering(fresh: ImageSet, shipped: ImageSet) -> None:
    """`fresh` (rendered here) shows what `shipped` (made on another machine) shows.

    Floating point differs across machines by an ulp or so (instruction sets, MuJoCo's SIMD
    paths), and over these short, damped rollouts it grows little: the simulator state is
    compared to 1e-9 (metres, radians; 1e-12 relative is within reach but leaves no margin for
    the growth), far below a pixel (about 1 cm here); the float32 targets to float32 precision.
    Pixels may differ by rasteriser rounding across OpenGL builds: a mean under one level."""
    np.testing.assert_allclose(fresh.extras["qpos"], shipped.extras["qpos"], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(fresh.targets, shipped.targets, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(fresh.extras["episode"], shipped.extras["episode"])
    diff = np.abs(fresh.images.astype(np.int16) - shipped.images.astype(np.int16))
    assert diff.mean() < 1.0


@pytest.mark.parametrize("name", sorted(RENDERED))
def test_shipped_sample_matches_a_fresh_rendering(name: str) -> None:
    sample = read_rendered(sample_path(name))
    assert sample.images.shape == (48, 64, 64, 3) and sample.provenance["dataset"] == name
    assert_same_rendering(generate(name, count=48, size=64, seed=sample.provenance["seed"]), sample)


def test_the_shipped_sample_comparison_allows_an_ulp_but_not_a_different_state() -> None:
    """One ulp in one qpos entry (seen on another CPU) passes; a millimetre does not."""
    sample = read_rendered(sample_path("reacher-fingertip"))
    qpos = sample.extras["qpos"].copy()
    qpos[17, 2] = np.nextafter(qpos[17, 2], np.inf)
    assert_same_rendering(
        dataclasses.replace(sample, extras={**sample.extras, "qpos": qpos}), sample
    )
    qpos[17, 2] += 1e-3
    with pytest.raises(AssertionError):
        assert_same_rendering(
            dataclasses.replace(sample, extras={**sample.extras, "qpos": qpos}), sample
        )


def small_rendered(monkeypatch: pytest.MonkeyPatch, name: str, cached: tuple[int, int]) -> None:
    """Make the registry cache fewer frames of rendered set `name` (the rule is the same)."""
    small = dataclasses.replace(registry.SPECS[name], train_size=cached[0], cached=cached)
    monkeypatch.setitem(registry.SPECS, name, small)


def test_load_takes_test_frames_from_other_rollouts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NRC_DATA_DIR", str(tmp_path))
    small_rendered(monkeypatch, "reacher-fingertip", (20, 10))
    data = nrc.data.load("reacher-fingertip", train_size=15)
    assert data.x_train.shape == (15, 3, 64, 64) and data.y_test.shape == (3, 2)
    train = generate("reacher-fingertip", count=15, size=64, seed=0)
    test = generate("reacher-fingertip", count=3, size=64, seed=1)
    np.testing.assert_array_equal(data.y_train.numpy(), train.targets)
    np.testing.assert_array_equal(data.y_test.numpy(), test.targets)
    np.testing.assert_allclose(data.x_test.numpy(), test.images.transpose(0, 3, 1, 2) / 255.0)
    assert data.provenance["train"]["seed"] == 0 and data.provenance["test"]["seed"] == 1
    assert nrc.data.provenance("reacher-fingertip", train_size=15) == data.provenance


def test_provenance_and_ensure_rendered_read_no_pixels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`ensure_rendered` caches the frames `load` reads; `provenance` then reads attributes."""
    from nrc.data.images.dataset import ensure_rendered

    monkeypatch.setenv("NRC_DATA_DIR", str(tmp_path))
    small_rendered(monkeypatch, "hopper-height", (6, 3))
    ensure_rendered("hopper-height")
    ensure_rendered("carla-2d")  # user files: nothing to render
    names = sorted(p.name for p in (tmp_path / "rendered").iterdir())
    assert names == ["hopper-height-64px-n3-sine-pd-s1.h5", "hopper-height-64px-n6-sine-pd-s0.h5"]

    def no_pixels(*args: object) -> None:
        raise AssertionError("pixels read")

    monkeypatch.setattr(rendered, "generate", no_pixels)
    monkeypatch.setattr(rendered, "read_rendered", no_pixels)
    got = nrc.data.provenance("hopper-height", image_size=32, normalization="imagenet")
    monkeypatch.undo()
    monkeypatch.setenv("NRC_DATA_DIR", str(tmp_path))
    small_rendered(monkeypatch, "hopper-height", (6, 3))
    loaded = nrc.data.load("hopper-height", image_size=32, normalization="imagenet")
    assert got == loaded.provenance and got["image_size"] == [32, 32]
    assert json.dumps(got)  # plain data
