"""Image datasets: ImageSet helpers and the CARLA / UTKFace loaders on fixtures written here."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from PIL import Image

from nrc.data import load, provenance, registry
from nrc.data.images.carla import load_carla
from nrc.data.images.transforms import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    images_to_tensor,
    resize_images,
    to_tensors,
)
from nrc.data.images.utkface import load_utkface, parse_age
from nrc.data.subsets import split_indices
from nrc.data.types import ImageSet


def random_images(rng: np.random.Generator, count: int, height: int, width: int) -> np.ndarray:
    return rng.integers(0, 256, size=(count, height, width, 3), dtype=np.uint8)


def write_carla_file(path: Path, rng: np.random.Generator, frames: int) -> tuple[np.ndarray, ...]:
    """A file in the released layout: rgb (frames, 88, 200, 3) uint8, targets (frames, 28)."""
    rgb = random_images(rng, frames, 88, 200)
    targets = rng.normal(size=(frames, 28)).astype(np.float32)
    with h5py.File(path, "w") as f:
        f["rgb"] = rgb
        f["targets"] = targets
    return rgb, targets


# ---------------------------------------------------------------- shared helpers


def test_images_to_tensor_layout_and_standardisation() -> None:
    rng = np.random.default_rng(0)
    images = random_images(rng, 3, 5, 7)
    x = images_to_tensor(images)
    assert x.shape == (3, 3, 5, 7) and x.dtype == torch.float32
    # pixel (n, row, col, channel) lands at (n, channel, row, col), scaled by 1/255
    assert x[2, 1, 4, 6].item() == pytest.approx(images[2, 4, 6, 1] / 255.0)
    z = images_to_tensor(images, IMAGENET_MEAN, IMAGENET_STD)
    want = (images[1, 0, 3, 2] / 255.0 - IMAGENET_MEAN[2]) / IMAGENET_STD[2]
    assert z[1, 2, 0, 3].item() == pytest.approx(want, rel=1e-6)
    with pytest.raises(ValueError, match="both mean and std"):
        images_to_tensor(images, mean=IMAGENET_MEAN)


def test_resize_preserves_constant_images_and_shape() -> None:
    images = np.full((2, 88, 200, 3), 77, dtype=np.uint8)
    images[1] = 200
    small = resize_images(images, (64, 64))
    assert small.shape == (2, 64, 64, 3) and small.dtype == np.uint8
    assert np.all(small[0] == 77) and np.all(small[1] == 200)


def test_split_is_a_seeded_partition() -> None:
    train, test = split_indices(100, 0.2, seed=3)
    assert len(test) == 20 and len(train) == 80
    assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(100))
    again = split_indices(100, 0.2, seed=3)
    other = split_indices(100, 0.2, seed=4)
    assert np.array_equal(again[1], test) and not np.array_equal(other[1], test)
    with pytest.raises(ValueError, match="test_fraction"):
        split_indices(10, 1.0, seed=0)


def test_to_tensors_keeps_image_target_pairs() -> None:
    rng = np.random.default_rng(1)
    images = random_images(rng, 10, 4, 4)
    # target = mean red value of the picture, so pairs can be checked after the split
    targets = images[..., 0].mean(axis=(1, 2), dtype=np.float64)[:, None].astype(np.float32)
    data = ImageSet("toy", images, targets, ("red",))
    x_train, y_train, x_test, y_test = to_tensors(data, test_fraction=0.3, seed=0)
    assert len(x_train) == 7 and len(x_test) == 3
    for x, y in ((x_train, y_train), (x_test, y_test)):
        torch.testing.assert_close(x[:, 0].mean(dim=(1, 2)) * 255, y[:, 0], rtol=1e-5, atol=1e-3)


def test_imageset_rejects_bad_input() -> None:
    images = np.zeros((4, 8, 8, 3), dtype=np.uint8)
    good = np.zeros((4, 1), dtype=np.float32)
    with pytest.raises(ValueError, match="uint8"):
        ImageSet("bad", images.astype(np.float32), good, ("y",))
    with pytest.raises(ValueError, match=r"\(N, H, W, 3\)"):
        ImageSet("bad", images[..., :1], good, ("y",))
    with pytest.raises(ValueError, match=r"shape \(4, n\)"):
        ImageSet("bad", images, good[:3], ("y",))
    nan = good.copy()
    nan[2, 0] = np.nan
    with pytest.raises(ValueError, match=r"NaN/Inf \(first rows \[2\]\)"):
        ImageSet("bad", images, nan, ("y",))
    with pytest.raises(ValueError, match="target names"):
        ImageSet("bad", images, good, ("y", "z"))


# ---------------------------------------------------------------- CARLA


def test_carla_columns_order_and_limit(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    rgb_a, t_a = write_carla_file(tmp_path / "data_00002.h5", rng, 5)
    rgb_b, t_b = write_carla_file(tmp_path / "data_00001.h5", rng, 4)
    two = load_carla(tmp_path, "2d")
    assert two.target_names == ("speed", "steering")
    assert np.array_equal(two.images, np.concatenate([rgb_b, rgb_a]))  # files in name order
    assert np.array_equal(two.targets[:, 0], np.concatenate([t_b[:, 10], t_a[:, 10]]))
    assert np.array_equal(two.targets[:, 1], np.concatenate([t_b[:, 0], t_a[:, 0]]))
    one = load_carla(tmp_path / "data_00002.h5", "1d")
    assert one.targets.shape == (5, 1) and np.array_equal(one.targets[:, 0], t_a[:, 10])
    first = load_carla(tmp_path, "2d", limit=6, size=(32, 32))
    assert first.images.shape == (6, 32, 32, 3)
    assert first.provenance["files"] == ["data_00001.h5", "data_00002.h5"]
    assert np.array_equal(first.targets, two.targets[:6])


def test_carla_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="neither"):
        load_carla(tmp_path / "absent")
    with pytest.raises(FileNotFoundError, match=r"no \.h5 files"):
        load_carla(tmp_path)
    (tmp_path / "corrupt.h5").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="not a readable HDF5"):
        load_carla(tmp_path / "corrupt.h5")
    with h5py.File(tmp_path / "norgb.h5", "w") as f:
        f["targets"] = np.zeros((2, 28), dtype=np.float32)
    with pytest.raises(ValueError, match=r"missing dataset\(s\) \['rgb'\]"):
        load_carla(tmp_path / "norgb.h5")
    with h5py.File(tmp_path / "narrow.h5", "w") as f:
        f["rgb"] = np.zeros((2, 88, 200, 3), dtype=np.uint8)
        f["targets"] = np.zeros((2, 5), dtype=np.float32)
    with pytest.raises(ValueError, match="columns"):
        load_carla(tmp_path / "narrow.h5")
    with h5py.File(tmp_path / "nan.h5", "w") as f:
        f["rgb"] = np.zeros((2, 88, 200, 3), dtype=np.uint8)
        targets = np.zeros((2, 28), dtype=np.float32)
        targets[1, 10] = np.inf
        f["targets"] = targets
    with pytest.raises(ValueError, match=r"nan\.h5.*NaN/Inf"):
        load_carla(tmp_path / "nan.h5")
    with pytest.raises(ValueError, match="variant"):
        load_carla(tmp_path / "nan.h5", "3d")


# ---------------------------------------------------------------- UTKFace


def write_face(path: Path, color: tuple[int, int, int], size: int = 40) -> None:
    Image.new("RGB", (size, size), color).save(path, quality=100)


def test_utkface_ages_images_and_order(tmp_path: Path) -> None:
    write_face(tmp_path / "35_1_2_20170116174525125.jpg.chip.jpg", (10, 200, 30))
    write_face(tmp_path / "7_0_0_20161219140623097.jpg.chip.jpg", (250, 5, 5))
    write_face(tmp_path / "101_0_4_20170110182052.jpg", (0, 0, 255))
    (tmp_path / "notes.txt").write_text("not an image")
    data = load_utkface(tmp_path, size=16)
    # name order: "101_..." < "35_..." < "7_..."
    assert data.targets[:, 0].tolist() == [101.0, 35.0, 7.0]
    assert data.images.shape == (3, 16, 16, 3)
    assert np.abs(data.images[1].astype(int) - (10, 200, 30)).max() <= 3  # JPEG tolerance
    assert np.abs(data.images[2].astype(int) - (250, 5, 5)).max() <= 3
    assert load_utkface(tmp_path, size=16, limit=2).targets[:, 0].tolist() == [101.0, 35.0]


def test_utkface_name_parser() -> None:
    assert parse_age("1_0_0_20161219140623097.jpg.chip.jpg") == 1
    for bad in ("39_1_20170116174525125.jpg.chip.jpg", "x_0_0_2016.jpg", "200_0_0_20161219.jpg"):
        with pytest.raises(ValueError, match="UTKFace file name"):
            parse_age(bad)


def test_utkface_errors_and_skipping(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not found"):
        load_utkface(tmp_path / "absent")
    with pytest.raises(FileNotFoundError, match=r"no \.jpg files"):
        load_utkface(tmp_path)
    write_face(tmp_path / "20_1_1_20170109150557335.jpg.chip.jpg", (128, 128, 128))
    write_face(tmp_path / "61_1_20170109142408075.jpg.chip.jpg", (128, 128, 128))
    with pytest.raises(ValueError, match="61_1_20170109142408075"):
        load_utkface(tmp_path)
    data = load_utkface(tmp_path, skip_unparsable=True)
    assert data.targets[:, 0].tolist() == [20.0]
    assert data.provenance["skipped_unparsable"] == ["61_1_20170109142408075.jpg.chip.jpg"]
    (tmp_path / "30_0_0_20170109150557335.jpg").write_bytes(b"\xff\xd8 truncated jpeg")
    with pytest.raises(ValueError, match=r"corrupt or unreadable image .*30_0_0"):
        load_utkface(tmp_path, skip_unparsable=True)


# ---------------------------------------------------------------- nrc.data.load view


def test_load_image_dataset_carla_uses_the_released_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NRC_DATA_DIR", str(tmp_path))
    rng = np.random.default_rng(5)
    for part in ("SeqTrain", "SeqVal"):
        (tmp_path / "carla" / part).mkdir(parents=True)
    _, t_train = write_carla_file(tmp_path / "carla" / "SeqTrain" / "data_00000.h5", rng, 10)
    _, t_val = write_carla_file(tmp_path / "carla" / "SeqVal" / "data_00000.h5", rng, 6)
    data = load("carla-2d")
    assert provenance("carla-2d") == data.provenance  # from the files' shapes alone
    assert data.x_train.shape == (10, 3, 64, 64) and data.x_train.dtype == torch.float32
    assert float(data.x_train.min()) >= 0.0 and float(data.x_train.max()) <= 1.0
    np.testing.assert_array_equal(data.y_train.numpy(), t_train[:, [10, 0]])
    np.testing.assert_array_equal(data.y_test.numpy(), t_val[:2, [10, 0]])  # 20 % of 10
    one = load("carla-1d", train_size=4, test_size=3, subset="random", seed=1)
    assert one.y_train.shape == (4, 1) and one.y_test.shape == (3, 1)
    assert set(one.y_train[:, 0].tolist()) <= set(t_train[:, 10].tolist())
    with pytest.raises(ValueError, match="train_size = 11 exceeds the 10 rows"):
        load("carla-1d", train_size=11)
    small = load("carla-2d", image_size=16, normalization="imagenet")
    pixels = data.x_train.mul(255).round().byte().permute(0, 2, 3, 1).numpy()
    expected = resize_images(pixels, (16, 16))
    np.testing.assert_allclose(
        small.x_train.numpy(), images_to_tensor(expected, IMAGENET_MEAN, IMAGENET_STD).numpy(),
        atol=1e-6,
    )  # fmt: skip
    assert "ImageNet" in small.provenance["pixels"]
    with pytest.raises(ValueError, match="normalization"):
        load("carla-2d", normalization="cifar")
    with pytest.raises(ValueError, match="image_size/normalization apply to image datasets"):
        load("reacher", image_size=32)


def test_files_present_looks_for_the_real_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NRC_DATA_DIR", str(tmp_path))
    assert not registry.spec("carla-2d").files_present()
    assert not registry.spec("utkface").files_present()
    assert all(registry.spec(name).files_present() for name in registry.RENDERED)  # generated
    (tmp_path / "carla" / "SeqTrain").mkdir(parents=True)
    assert not registry.spec("carla-1d").files_present()  # SeqVal is needed too
    (tmp_path / "carla" / "SeqVal").mkdir()
    (tmp_path / "utkface").mkdir()
    assert registry.spec("carla-1d").files_present() and registry.spec("utkface").files_present()


def test_load_image_dataset_utkface_and_unknown_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NRC_DATA_DIR", str(tmp_path))
    (tmp_path / "utkface").mkdir()
    for age in range(1, 11):
        write_face(tmp_path / "utkface" / f"{age}_0_1_2017010915055{age % 10}.jpg", (age, 9, 9))
    data = load("utkface")
    assert provenance("utkface") == data.provenance  # from the file names alone
    assert len(data.y_train) == 8 and len(data.y_test) == 1  # 80/20 split, test 20 % of 8
    ages = sorted(data.y_train[:, 0].tolist() + data.y_test[:, 0].tolist())
    assert set(ages) <= set(range(1, 11)) and len(set(ages)) == 9
    with pytest.raises(FileNotFoundError, match="'imagenet' is not a known dataset"):
        load("imagenet")
