"""ImageFolderDataset: any size and mode in, centred squares in [-1, 1] out, unreadable files reported and skipped,
classes from sub-folders, and batches that resume exactly."""

import logging

import numpy as np
import pytest
import torch
from PIL import Image

from sketchlab.data.images import ImageFolderDataset, load_image
from sketchlab.data.raster import ImageBatches
from sketchlab.errors import DataError


def three_bands(width: int, height: int) -> Image.Image:
    """Red, green and blue vertical bands, each a third of the width."""
    pixels = np.zeros((height, width, 3), np.uint8)
    third = width // 3
    pixels[:, :third, 0] = 255
    pixels[:, third : 2 * third, 1] = 255
    pixels[:, 2 * third :, 2] = 255
    return Image.fromarray(pixels)


@pytest.fixture()
def folder(tmp_path):
    root = tmp_path / "pictures"
    (root / "cats" / "deep").mkdir(parents=True)
    (root / "dogs").mkdir()
    three_bands(90, 30).save(root / "cats" / "wide.png")  # 3:1, the centre square is the green band
    Image.new("L", (20, 50), 40).save(root / "cats" / "deep" / "tall.JPG")  # found recursively, any case
    rgba = Image.new("RGBA", (64, 64), (0, 0, 255, 0))  # fully transparent blue: white once laid on white
    rgba.save(root / "dogs" / "clear.webp", lossless=True)
    Image.new("P", (8, 8), 0).save(root / "dogs" / "palette.png")
    Image.new("CMYK", (40, 40), (0, 255, 255, 0)).save(root / "dogs" / "cmyk.jpg")
    (root / "dogs" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (root / "dogs" / "notes.txt").write_text("not a picture")
    return root


def test_any_size_and_mode_becomes_a_centred_square_in_range(folder, caplog):
    with caplog.at_level(logging.WARNING, logger="sketchlab"):
        data = ImageFolderDataset(folder, size=16)
    assert len(data) == 5 and [p.name for p in data.paths] == ["tall.JPG", "wide.png", "clear.webp", "cmyk.jpg",
                                                                "palette.png"]
    images = data.images(slice(None))
    assert images.shape == (5, 3, 16, 16) and images.dtype == torch.float32
    assert images.min() >= -1 and images.max() <= 1
    wide = images[1]
    assert wide[1].mean() > 0.9 and wide[0].mean() < -0.9 and wide[2].mean() < -0.9  # only green: centre cut
    assert torch.all(images[2] == 1)  # transparent -> white
    assert images[3][0].mean() > 0.9 and images[3][1:].mean() < -0.5  # CMYK red came out red
    # the broken file is reported, by name, and left out; the text file is no picture at all
    assert [p.name for p, _ in data.skipped] == ["broken.png"]
    assert "skipped 1 unreadable image(s) of 6" in caplog.text and "broken.png" in caplog.text


def test_classes_come_from_first_level_folders(folder):
    data = ImageFolderDataset(folder, size=8)
    assert data.class_names == ["cats", "dogs"]
    assert data.labels.tolist() == [0, 0, 1, 1, 1]
    image, label = data[1]
    assert image.shape == (3, 8, 8) and label.item() == 0


def test_grayscale(folder):
    data = ImageFolderDataset(folder, size=12, channels=1)
    images = data.images(slice(None))
    assert images.shape == (5, 1, 12, 12)
    assert images[0].mean().item() == pytest.approx(40 / 127.5 - 1, abs=0.02)  # the tall gray image, level 40


def test_load_image_keeps_a_small_image_exact(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "a.png")
    np.testing.assert_array_equal(load_image(tmp_path / "a.png", 8), pixels.transpose(2, 0, 1))


def test_batches_resume_exactly(folder):
    data = ImageFolderDataset(folder, size=8)
    batches = ImageBatches(data, 2, seed=1)
    batches.next_batch()
    state = batches.state_dict()
    expected = [batches.next_batch()["images"] for _ in range(4)]
    resumed = ImageBatches(data, 2, seed=99)
    resumed.load_state_dict(state)
    for want in expected:
        torch.testing.assert_close(resumed.next_batch()["images"], want)


def test_bad_folders_are_clear_errors(tmp_path):
    with pytest.raises(DataError, match="no image folder"):
        ImageFolderDataset(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no PNG/JPG/JPEG/WEBP images"):
        ImageFolderDataset(tmp_path / "empty")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "a.jpg").write_bytes(b"garbage")
    with pytest.raises(DataError, match="none of the 1 images"):
        ImageFolderDataset(tmp_path / "bad")
    with pytest.raises(DataError, match="channels"):
        ImageFolderDataset(tmp_path / "bad", channels=2)
