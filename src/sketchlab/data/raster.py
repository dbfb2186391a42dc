"""Stroke-3 drawings as anti-aliased bitmaps, many at a time, and a torch Dataset of class-labelled bitmaps.

`rasterize` places each drawing like `render.render_image` does (its bounding box fitted into the square canvas with
`margin` on every side, aspect kept, centred; y down) and draws every stroke as a chain of capsules `line_width`
pixels across: round caps and joints, a single-point stroke a dot. Anti-aliasing is analytic: a pixel's ink is
`clip(line_width / 2 + 0.5 - distance, 0, 1)`, the distance measured from its centre to the nearest segment, so a
line's edges fade over one pixel and overlapping strokes never add up beyond 1. (Ink within 1e-5 of 0 or 1, the size
of float32 rounding errors here, is snapped to it, so the background is exactly 0 and a line's core exactly 1.)

Speed comes from doing all segments of a batch at once: long segments are cut into pieces of at most `_PIECE` pixels,
every piece is evaluated on a fixed small patch of pixels around it (numpy, float32), and the patches are merged
into the canvases with an element-wise maximum. Every pixel's value depends only on its own drawing, so a drawing
rendered alone or inside any batch gives the same bitmap, bit for bit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from sketchlab.data.datasets import ShuffledBatches
from sketchlab.data.npz import StrokeSplits
from sketchlab.errors import DataError
from sketchlab.render import as_stroke3, fit_to_canvas

__all__ = ["ImageBatches", "RasterSketchDataset", "image_batch", "iter_image_batches", "rasterize"]

_PIECE = 3.0  # longest piece of a segment evaluated on one patch, in pixels
_CHUNK_PIXELS = 1 << 21  # pixel evaluations per numpy pass (about 8 MB per float32 temporary)
_CANVAS_PIXELS = 1 << 24  # padded canvas pixels drawn at once (64 MB)
_SNAP = np.float32(1e-5)  # ink this close to 0 or 1 (float32 rounding) is made exactly 0 or 1


def _segments(drawings: Sequence, size: int, margin: float,
              first: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every segment of every drawing in canvas pixels: starts (S, 2), ends (S, 2), drawing index (S,).

    A single-point stroke is a segment from the point to itself (a dot).
    """
    rows = [as_stroke3(drawing, f"drawing {i}") for i, drawing in enumerate(drawings, start=first)]
    lengths = np.array([len(s) for s in rows], dtype=np.int64)
    if not lengths.sum():
        return np.zeros((0, 2)), np.zeros((0, 2)), np.zeros(0, dtype=np.int64)
    points = [np.cumsum(s[:, :2], axis=0) for s in rows]  # per drawing: its bitmap must not depend on the batch
    fits = np.array([fit_to_canvas([p], size, size, margin) if len(p) else (1.0, 0.0, 0.0) for p in points])
    placed = np.concatenate(points) * np.repeat(fits[:, :1], lengths, axis=0) + np.repeat(fits[:, 1:], lengths, axis=0)
    lifted = np.concatenate(rows)[:, 2] == 1
    ends = np.cumsum(lengths)
    lifted[ends[lengths > 0] - 1] = True  # a last stroke left with the pen down ends with its drawing
    opens = np.concatenate([[True], lifted[:-1]])  # the point starts a stroke
    joined = np.flatnonzero(~lifted)  # point k is joined to point k + 1
    dots = np.flatnonzero(opens & lifted)
    owner = np.repeat(np.arange(len(rows)), lengths)
    return (np.concatenate([placed[joined], placed[dots]]), np.concatenate([placed[joined + 1], placed[dots]]),
            np.concatenate([owner[joined], owner[dots]]))


def _pieces(a: np.ndarray, b: np.ndarray, owner: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Segments cut into equal pieces no longer than `_PIECE` (the union of the pieces is the segment)."""
    length = np.sqrt(((b - a) ** 2).sum(axis=1))
    count = np.maximum(1, np.ceil(length / _PIECE)).astype(np.int64)
    which = np.repeat(np.arange(len(a)), count)
    k = np.arange(len(which)) - np.repeat(np.cumsum(count) - count, count)
    n = count[which][:, None]
    d = (b - a)[which]
    return a[which] + d * (k[:, None] / n), a[which] + d * ((k[:, None] + 1) / n), owner[which]


def rasterize(drawings: Sequence, size: int = 64, line_width: float = 2.0, margin: float = 0.05) -> np.ndarray:
    """Anti-aliased bitmaps `(N, size, size)` float32 in [0, 1] (1 = ink, 0 = background) of stroke-3 drawings.

    Each drawing is fitted into the canvas with `margin` (a fraction of the side) left on every side, keeping its
    aspect ratio, like `render.render_image`; strokes are `line_width` pixels wide. Empty drawings give blank
    bitmaps. Deterministic: a drawing's bitmap does not depend on the rest of the batch. Accepts any sequence of
    `(n, 3)` arrays or tensors (a single 2-D array is refused: wrap it in a list).
    """
    if int(size) != size or size < 1:
        raise ValueError(f"size must be a positive integer, got {size}")
    if not line_width > 0:
        raise ValueError(f"line_width must be positive, got {line_width}")
    if getattr(drawings, "ndim", None) == 2:
        raise DataError("rasterize needs a list of drawings, got a single drawing (wrap it in a list)")
    size = int(size)
    drawings = list(drawings)
    reach = line_width / 2 + 0.5  # beyond this distance from a segment a pixel gets no ink
    patch = int(math.floor(_PIECE + 2 * reach)) + 1  # pixels across that can get ink from one piece
    pad = patch + int(math.ceil(reach)) + 1  # patches may stick out of the canvas: draw on a padded one
    side = size + 2 * pad
    out = np.empty((len(drawings), size, size), dtype=np.float32)
    block = max(1, _CANVAS_PIXELS // (side * side))  # drawings whose padded canvases are drawn together
    for first in range(0, len(drawings), block):
        part = drawings[first : first + block]
        canvas = np.zeros(len(part) * side * side, dtype=np.float32)
        a, b, owner = _pieces(*_segments(part, size, margin, first))
        a, b = a.astype(np.float32), b.astype(np.float32)
        step = max(1, _CHUNK_PIXELS // (patch * patch))
        for lo in range(0, len(a), step):
            _splat(canvas, a[lo : lo + step], b[lo : lo + step], owner[lo : lo + step], patch, np.float32(reach),
                   side, pad)
        out[first : first + len(part)] = canvas.reshape(len(part), side, side)[:, pad : pad + size, pad : pad + size]
    return out


def _splat(canvas: np.ndarray, a: np.ndarray, b: np.ndarray, owner: np.ndarray, patch: int,
           reach: np.float32, side: int, pad: int) -> None:
    """Ink of the `patch` x `patch` pixels around each piece, merged into the flat padded canvases with a maximum."""
    grid = np.arange(patch, dtype=np.float32) + np.float32(0.5)
    x0 = np.ceil(np.minimum(a[:, 0], b[:, 0]) - reach - np.float32(0.5))  # first pixel whose centre may get ink
    y0 = np.ceil(np.minimum(a[:, 1], b[:, 1]) - reach - np.float32(0.5))
    d = b - a
    length2 = (d * d).sum(axis=1)
    inv = (np.float32(1) / np.where(length2 > 0, length2, np.float32(1))) * (length2 > 0)
    # pixel centres c relative to the piece's start a, along x and along y: (S, P) each
    cx = (x0 - a[:, 0])[:, None] + grid
    cy = (y0 - a[:, 1])[:, None] + grid
    # everything below is (S, P, P), indexed [piece, row (y), column (x)]
    u = (cy * d[:, 1:2])[:, :, None] + (cx * d[:, 0:1])[:, None, :]  # c . d
    t = u * inv[:, None, None]
    np.clip(t, 0, 1, out=t)  # nearest point of the piece: a + t d
    # |c - t d|^2 = |c|^2 + t (t |d|^2 - 2 c.d)
    dist2 = t * length2[:, None, None]
    dist2 -= u
    dist2 -= u
    dist2 *= t
    dist2 += (cy * cy)[:, :, None] + (cx * cx)[:, None, :]
    np.maximum(dist2, 0, out=dist2)
    ink = np.sqrt(dist2, out=dist2)
    np.subtract(reach + _SNAP, ink, out=ink)  # rounding errors of a few millionths: full ink stays exactly 1 ...
    np.minimum(ink, 1, out=ink)
    itype = np.int32 if canvas.size < 2**31 else np.int64
    base = owner.astype(itype) * itype(side * side) + (y0.astype(itype) + itype(pad)) * itype(side) \
        + (x0.astype(itype) + itype(pad))
    offsets = (np.arange(grid.size, dtype=itype)[:, None] * itype(side) + np.arange(grid.size, dtype=itype)).ravel()
    index = (base[:, None] + offsets).ravel()
    values = ink.reshape(-1)
    keep = values > 2 * _SNAP  # ... and no ink stays exactly 0
    np.maximum.at(canvas, index[keep], values[keep])


def _stroke_source(drawings, labels, split: str):
    if isinstance(drawings, StrokeSplits):
        if labels is not None:
            raise DataError("labels come with a StrokeSplits: pass labels=None")
        return getattr(drawings, split), getattr(drawings, f"{split}_labels")
    if labels is None:
        raise DataError("RasterSketchDataset needs one label per drawing")
    return list(drawings), labels


def raster_line_width(size: int) -> float:
    """The stroke width of drawings rasterized for the pixel models: two pixels at 64x64 (Quick, Draw!'s look),
    thinner in proportion on smaller images, at least one pixel."""
    return max(1.0, size / 32)


class RasterSketchDataset(torch.utils.data.Dataset):
    """Class-labelled bitmaps of stroke-3 drawings, rendered once by `rasterize` and kept in memory as uint8.

    `drawings` is a list of stroke-3 arrays with `labels` (one class index each), or a `StrokeSplits` (its
    `split`'s drawings and labels; leave `labels` None). Item `i` is `(image, label)`: `image` a float32 tensor
    `(1, size, size)`, ink bright; with `value_range="[-1,1]"` (the default, what the pixel models take) background
    is -1 and full ink +1, with `"[0,1]"` background 0 and ink 1. `label` is an int64 scalar tensor.
    """

    RANGES = ("[-1,1]", "[0,1]")

    def __init__(self, drawings, labels=None, size: int = 64, line_width: float = 2.0, margin: float = 0.05,
                 value_range: str = "[-1,1]", split: str = "train", class_names: Sequence[str] | None = None):
        if value_range not in self.RANGES:
            raise ValueError(f"value_range must be one of {', '.join(self.RANGES)}, got {value_range!r}")
        if isinstance(drawings, StrokeSplits) and class_names is None:
            class_names = list(drawings.class_names)
        items, labels = _stroke_source(drawings, labels, split)
        labels = np.asarray(labels, dtype=np.int64).reshape(-1)
        if len(labels) != len(items):
            raise DataError(f"{len(items)} drawings but {len(labels)} labels")
        self.size = size
        self.value_range = value_range
        self.class_names = list(class_names) if class_names is not None else None
        pixels = np.empty((len(items), size, size), dtype=np.uint8)
        block = 4096  # render in blocks so the float32 bitmaps of a large set never all exist at once
        for lo in range(0, len(items), block):
            bitmaps = rasterize(items[lo : lo + block], size=size, line_width=line_width, margin=margin)
            pixels[lo : lo + block] = np.rint(bitmaps * 255)
        self.pixels = torch.from_numpy(pixels)
        self.labels = torch.from_numpy(labels)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.images(index), self.labels[index]

    def images(self, indices) -> torch.Tensor:
        """Float images of the items `indices` (an int, slice or index tensor), in `value_range`."""
        pixels = self.pixels[indices]
        images = pixels.to(torch.float32).unsqueeze(-3) / 255
        return images * 2 - 1 if self.value_range == "[-1,1]" else images


def image_batch(dataset: RasterSketchDataset, indices) -> dict[str, torch.Tensor]:
    """A batch `{"images": (B, 1, S, S), "labels": (B,)}` of the items `indices` (a slice or index tensor)."""
    return {"images": dataset.images(indices), "labels": dataset.labels[indices]}


class ImageBatches(ShuffledBatches):
    """Endless, seeded, exactly resumable training batches of a RasterSketchDataset (see `image_batch`), or of any
    data set with `images(indices)` and `labels` (`data.images.ImageFolderDataset`)."""

    def make_batch(self, indices: torch.Tensor) -> dict[str, torch.Tensor]:
        return image_batch(self.dataset, indices)


def iter_image_batches(dataset: RasterSketchDataset, batch_size: int):
    """Every item once, in order (validation and testing); the last batch may be smaller."""
    for lo in range(0, len(dataset), batch_size):
        yield image_batch(dataset, slice(lo, lo + batch_size))
