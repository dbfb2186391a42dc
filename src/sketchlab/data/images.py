"""Folders of pictures as training images for the pixel models.

`ImageFolderDataset` reads every PNG, JPEG and WebP file below a folder (recursively), whatever its size and mode:
transparency is laid over a white background, the largest centred square is cut out and resized (Lanczos) to
`size` x `size`, in RGB (`channels=3`) or grayscale (`channels=1`). Files that cannot be decoded are reported and
skipped. Images are kept in memory as uint8 and served as floats in [-1, 1]; class labels come from the first level
of sub-folders, so `ImageBatches` and `iter_image_batches` of `data.raster` batch them exactly as rasterized sketches.

`PairedImageBatches` draws from two such sources at once, for translation between unpaired domains (CycleGAN).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from sketchlab.data.raster import ImageBatches
from sketchlab.errors import DataError

__all__ = ["IMAGE_SUFFIXES", "ImageFolderDataset", "PairedImageBatches", "load_image", "load_images"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
# What a broken or hostile file makes Pillow raise: truncated data, unknown formats, absurd sizes (decompression bombs).
_UNREADABLE = (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError)
log = logging.getLogger("sketchlab")


def load_image(path: str | Path, size: int, channels: int = 3) -> np.ndarray:
    """One picture as uint8 `(channels, size, size)`: first frame, transparency over white, centre square, resized."""
    with Image.open(path) as image:
        image.load()
        if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
            rgba = image.convert("RGBA")
            image = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            image.alpha_composite(rgba)
        image = image.convert("RGB" if channels == 3 else "L")
        width, height = image.size
        side = min(width, height)
        left, top = (width - side) // 2, (height - side) // 2
        image = image.resize((size, size), Image.Resampling.LANCZOS, box=(left, top, left + side, top + side))
        pixels = np.asarray(image, dtype=np.uint8)
    return pixels[None] if channels == 1 else pixels.transpose(2, 0, 1)


class ImageFolderDataset(torch.utils.data.Dataset):
    """Every readable picture below `root`: `images(indices)` floats `(…, channels, size, size)` in [-1, 1],
    `labels` (the index of each file's first-level sub-folder in `class_names`; "." for files directly in `root`),
    `paths` (the files kept, sorted) and `skipped` (`(path, reason)` of the unreadable ones)."""

    def __init__(self, root: str | Path, size: int = 64, channels: int = 3) -> None:
        if int(size) != size or size < 1:
            raise DataError(f"image size must be a positive integer, got {size}")
        if channels not in (1, 3):
            raise DataError(f"channels must be 1 (grayscale) or 3 (RGB), got {channels}")
        root = Path(root)
        if not root.is_dir():
            raise DataError(f"no image folder at {root}")
        files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not files:
            raise DataError(f"no {'/'.join(s[1:].upper() for s in IMAGE_SUFFIXES)} images below {root}")
        pixels, self.paths, self.skipped = [], [], []
        for path in files:
            try:
                pixels.append(load_image(path, int(size), channels))
                self.paths.append(path)
            except _UNREADABLE as error:
                self.skipped.append((path, _reason(error)))
        if self.skipped:
            first, reason = self.skipped[0]
            log.warning("skipped %d unreadable image(s) of %d below %s (first: %s: %s)", len(self.skipped),
                        len(files), root, first.relative_to(root), reason)
        if not pixels:
            raise DataError(f"none of the {len(files)} images below {root} could be read")
        groups = [p.relative_to(root).parts[0] if len(p.relative_to(root).parts) > 1 else "." for p in self.paths]
        self.class_names = sorted(set(groups))
        index = {name: i for i, name in enumerate(self.class_names)}
        self.root, self.size, self.channels = root, int(size), channels
        self.pixels = torch.from_numpy(np.stack(pixels))
        self.labels = torch.tensor([index[g] for g in groups], dtype=torch.int64)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.images(index), self.labels[index]

    def images(self, indices) -> torch.Tensor:
        """Float images of the items `indices` (an int, slice or index tensor) in [-1, 1]."""
        return _as_floats(self.pixels[indices])


def _reason(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def _as_floats(pixels: torch.Tensor) -> torch.Tensor:
    return pixels.to(torch.float32) / 127.5 - 1


def load_images(paths, size: int, channels: int = 3) -> torch.Tensor:
    """The pictures `paths` as floats `(N, channels, size, size)` in [-1, 1] (as `load_image` reads each); a missing
    or unreadable one is a one-line DataError."""
    pixels = []
    for path in paths:
        try:
            pixels.append(load_image(path, size, channels))
        except _UNREADABLE as error:
            raise DataError(f"cannot read the picture {path}: {_reason(error)}") from error
    if not pixels:
        raise DataError("no pictures given")
    return _as_floats(torch.from_numpy(np.stack(pixels)))


class PairedImageBatches:
    """Endless batches `{"a": images of domain A, "b": images of domain B}`, seeded and exactly resumable: each
    domain is shuffled on its own (`data.raster.ImageBatches`, seeds `seed` and `seed + 1`), so the two sets
    need not be the same size and no image is ever paired with the same partner for long."""

    def __init__(self, domain_a, domain_b, batch_size: int, seed: int = 0) -> None:
        self.a = ImageBatches(domain_a, batch_size, seed=seed)
        self.b = ImageBatches(domain_b, batch_size, seed=seed + 1)

    def next_batch(self) -> dict[str, torch.Tensor]:
        return {"a": self.a.next_batch()["images"], "b": self.b.next_batch()["images"]}

    def state_dict(self) -> dict:
        return {"a": self.a.state_dict(), "b": self.b.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.a.load_state_dict(state["a"])
        self.b.load_state_dict(state["b"])
