"""Pictures with a text each, for text-to-image models.

The text of a picture is its Unicode name when its folder has the `names.tsv` of a rendered OpenMoji set
("CAT FACE", see `data.openmoji`), otherwise its class name: the Quick, Draw! category of a rasterized sketch
("owl"), or the sub-folder of a picture folder. `TextImageBatches` serves them with the texts as word ids.
"""

from __future__ import annotations

import csv
from pathlib import Path

import torch

from sketchlab.data.datasets import ShuffledBatches
from sketchlab.errors import DataError

__all__ = ["TextImageBatches", "image_texts"]


def _emoji_names(folder: Path) -> dict[str, str]:
    with open(folder / "names.tsv", newline="", encoding="utf-8") as file:
        return {row["file"]: row["name"] for row in csv.DictReader(file, delimiter="\t")}


def image_texts(dataset) -> list[str]:
    """One text per item of an `ImageFolderDataset` or `RasterSketchDataset`, lower-case; items without a name
    (OpenMoji's own extras) get their class name."""
    names = dataset.class_names or []
    texts = [names[int(label)] if int(label) < len(names) else "" for label in dataset.labels]
    root = getattr(dataset, "root", None)
    if root is not None and (Path(root) / "names.tsv").is_file():
        emoji = _emoji_names(Path(root))
        texts = [emoji.get(Path(path).name) or text for path, text in zip(dataset.paths, texts)]
    return [text.lower() for text in texts]


class TextImageBatches(ShuffledBatches):
    """Endless, seeded, resumable batches `{"images", "labels", "tokens"}` of a data set with `images(indices)` and
    `labels`; `tokens` (N, L) holds each item's word ids (0 = padding), as the model's tokenizer made them."""

    def __init__(self, dataset, tokens: torch.Tensor, batch_size: int, seed: int = 0, shuffle: bool = True):
        if len(tokens) != len(dataset):
            raise DataError(f"{len(dataset)} images but {len(tokens)} texts")
        super().__init__(dataset, batch_size, seed, shuffle)
        self.tokens = tokens

    def make_batch(self, indices: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"images": self.dataset.images(indices), "labels": self.dataset.labels[indices],
                "tokens": self.tokens[indices]}
