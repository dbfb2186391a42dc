"""Batched anti-aliased rasterisation and the labelled bitmap Dataset."""

import numpy as np
import pytest
import torch

from sketchlab import render
from sketchlab.data import raster
from sketchlab.data.npz import StrokeSplits
from sketchlab.data.quickdraw import read_ndjson, simplified_to_stroke3
from sketchlab.data.raster import RasterSketchDataset, rasterize
from sketchlab.errors import DataError

SQUARE = np.array([[0, 0, 0], [10, 0, 0], [0, 10, 0], [-10, 0, 0], [0, -10, 1]], dtype=np.float32)


def brute_force(segments: list[tuple[tuple, tuple]], size: int, line_width: float) -> np.ndarray:
    """The documented ink, pixel by pixel: clip(line_width / 2 + 0.5 - distance to the nearest segment, 0, 1)."""
    ys, xs = np.mgrid[0:size, 0:size] + 0.5
    best = np.full((size, size), np.inf)
    for (ax, ay), (bx, by) in segments:
        dx, dy = bx - ax, by - ay
        t = np.clip(((xs - ax) * dx + (ys - ay) * dy) / max(dx * dx + dy * dy, 1e-300), 0, 1)
        best = np.minimum(best, np.hypot(xs - ax - t * dx, ys - ay - t * dy))
    return np.clip(line_width / 2 + 0.5 - best, 0, 1)


def real_drawings(data_dir, n_files: int = 8) -> list[np.ndarray]:
    folder = data_dir / "quickdraw" / "simplified"
    return [simplified_to_stroke3(r["drawing"]) for p in sorted(folder.glob("*.ndjson"))[:n_files]
            for r in read_ndjson(p)]


def test_a_square_inks_its_outline_and_nothing_else():
    # 10 x 10 fitted into 32 px with a 25% margin: scale 1.6, edges on the pixel borders 8 and 24
    image = rasterize([SQUARE], size=32, line_width=2.0, margin=0.25)[0]
    assert image.shape == (32, 32) and image.dtype == np.float32
    assert (image[7:9, 8:24] == 1).all() and (image[23:25, 8:24] == 1).all()  # top and bottom edges, 2 px wide
    assert (image[8:24, 7:9] == 1).all() and (image[8:24, 23:25] == 1).all()  # left and right edges
    assert (image[9:23, 9:23] == 0).all()  # the inside stays empty
    assert image[:6].sum() == 0 and image[26:].sum() == 0 and image[:, :6].sum() == 0 and image[:, 26:].sum() == 0
    assert image[7, 7] == pytest.approx(1.5 - np.sqrt(0.5), abs=3e-5)  # round outer corner, partly covered
    corners = [((8, 8), (24, 8)), ((24, 8), (24, 24)), ((24, 24), (8, 24)), ((8, 24), (8, 8))]
    np.testing.assert_allclose(image, brute_force(corners, 32, 2.0), atol=3e-5)


def test_diagonal_lines_and_dots_match_the_documented_ink():
    drawing = np.array([[3, 2, 0], [20, 7, 0], [-9, 14, 1], [4, -30, 1]], dtype=np.float32)  # a dot at the end
    size, width = 40, 3.0
    image = rasterize([drawing], size=size, line_width=width, margin=0.1)[0]
    points = np.cumsum(drawing[:, :2], axis=0).astype(np.float64)
    scale, ox, oy = render.fit_to_canvas([points], size, size, 0.1)
    p = points * scale + [ox, oy]
    segments = [(tuple(p[0]), tuple(p[1])), (tuple(p[1]), tuple(p[2])), (tuple(p[3]), tuple(p[3]))]
    np.testing.assert_allclose(image, brute_force(segments, size, width), atol=1e-4)
    assert 0 < image.min() + 1 and image.max() == 1


def test_batch_equals_one_at_a_time_and_is_deterministic(data_dir, monkeypatch):
    rng = np.random.default_rng(0)
    wobbly = np.concatenate([rng.normal(size=(30, 2)) * 3.3, rng.random((30, 1)) < 0.2], axis=1)
    drawings = real_drawings(data_dir, 2)[:40] + [
        wobbly,                                                    # offsets that are not whole numbers
        np.zeros((0, 3), dtype=np.float32),                        # empty: blank
        np.array([[7, 7, 1]], dtype=np.float32),                   # one point: a dot in the centre
        np.array([[0, 0, 0], [5, 5, 0]], dtype=np.float32),        # pen still down at the end
        torch.tensor([[1.0, 2.0, 0.0], [300.0, -40.0, 1.0]]),      # a tensor
        SQUARE * 1000,
    ]
    batch = rasterize(drawings)
    assert batch.shape == (len(drawings), 64, 64) and batch.dtype == np.float32
    assert batch.min() >= 0 and batch.max() <= 1
    for i, d in enumerate(drawings):
        np.testing.assert_array_equal(batch[i], rasterize([d])[0])
    np.testing.assert_array_equal(batch, rasterize(drawings))
    assert batch[-5].sum() == 0
    # a dot of diameter 2 centred on the corner of 4 pixels, each 0.71 px away
    np.testing.assert_allclose(batch[-4][31:33, 31:33], 1.5 - np.sqrt(0.5), atol=3e-5)
    assert batch[-4].sum() == pytest.approx(batch[-4][30:34, 30:34].sum())
    # drawn in several canvas blocks and numpy passes: the same bits
    monkeypatch.setattr(raster, "_CANVAS_PIXELS", 3 * 90 * 90)
    monkeypatch.setattr(raster, "_CHUNK_PIXELS", 5000)
    np.testing.assert_array_equal(rasterize(drawings), batch)


def test_rasterize_places_drawings_like_render_image(data_dir):
    drawings = real_drawings(data_dir, 3)[:30]
    ours = rasterize(drawings, size=64, line_width=2.0)
    theirs = np.stack([1 - np.asarray(render.render_image(d, size=64, line_width=2.0).convert("L")) / 255
                       for d in drawings])
    assert np.abs(ours - theirs).mean() < 0.04  # same fit and width; only the anti-aliasing differs
    assert abs(ours.mean() - theirs.mean()) < 0.01


def test_rasterize_refuses_bad_input():
    with pytest.raises(DataError, match="single drawing"):
        rasterize(SQUARE)
    with pytest.raises(DataError, match="drawing 1"):
        rasterize([SQUARE, np.zeros((3, 2))])
    with pytest.raises(DataError, match="NaN"):
        rasterize([np.array([[np.nan, 0, 1]])])
    with pytest.raises(ValueError, match="size"):
        rasterize([SQUARE], size=0)
    with pytest.raises(ValueError, match="line_width"):
        rasterize([SQUARE], line_width=0)
    assert rasterize([], size=8).shape == (0, 8, 8)


# -------------------------------------------------------------------------------------------------------- Dataset


def test_dataset_from_drawings_and_labels(data_dir):
    drawings = real_drawings(data_dir, 2)[:12]
    labels = [0] * 6 + [1] * 6
    dataset = RasterSketchDataset(drawings, labels, size=32)
    assert len(dataset) == 12 and dataset.pixels.dtype == torch.uint8
    image, label = dataset[7]
    assert image.shape == (1, 32, 32) and image.dtype == torch.float32 and label.item() == 1
    assert image.min() == -1 and image.max() == 1  # background -1, full ink +1
    expected = rasterize(drawings[7:8], size=32)[0]
    np.testing.assert_allclose((image[0].numpy() + 1) / 2, expected, atol=1 / 255)
    unit = RasterSketchDataset(drawings, labels, size=32, value_range="[0,1]")
    assert unit[7][0].min() == 0 and torch.allclose(unit[7][0] * 2 - 1, image, atol=1e-6)
    images, batch_labels = next(iter(torch.utils.data.DataLoader(dataset, batch_size=5)))
    assert images.shape == (5, 1, 32, 32) and batch_labels.tolist() == [0] * 5


def test_dataset_from_stroke_splits():
    def drawing(k):
        return (SQUARE * (k + 1)).astype(np.float32)
    splits = StrokeSplits(train=[drawing(0), drawing(1), drawing(2)], valid=[drawing(3)], test=[],
                          train_labels=np.array([0, 1, 1]), valid_labels=np.array([1]),
                          test_labels=np.array([], dtype=np.int64), class_names=["small", "big"])
    train = RasterSketchDataset(splits, size=16)
    assert len(train) == 3 and train.class_names == ["small", "big"] and train[2][1].item() == 1
    valid = RasterSketchDataset(splits, size=16, split="valid")
    assert len(valid) == 1
    torch.testing.assert_close(valid[0][0], train[0][0])  # a square is a square at any scale
    assert len(RasterSketchDataset(splits, split="test")) == 0


def test_dataset_refuses_mismatched_labels():
    with pytest.raises(DataError, match="2 drawings but 3 labels"):
        RasterSketchDataset([SQUARE, SQUARE], [0, 1, 2])
    with pytest.raises(DataError, match="needs one label"):
        RasterSketchDataset([SQUARE])
    with pytest.raises(ValueError, match="value_range"):
        RasterSketchDataset([SQUARE], [0], value_range="0-255")
