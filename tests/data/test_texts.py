"""Pictures with texts: OpenMoji names from names.tsv, class names otherwise, and their seeded batches."""

import numpy as np
import torch
from PIL import Image

from sketchlab.data.images import ImageFolderDataset
from sketchlab.data.raster import RasterSketchDataset
from sketchlab.data.texts import TextImageBatches, image_texts


def test_emoji_folder_texts_are_their_unicode_names(tmp_path):
    for name in ("1F431.png", "1F600.png", "E000.png"):
        Image.fromarray(np.full((8, 8, 3), 200, np.uint8)).save(tmp_path / name)
    (tmp_path / "names.tsv").write_text("file\tcodepoints\tname\n1F431.png\tU+1F431\tCAT FACE\n"
                                        "1F600.png\tU+1F600\tGRINNING FACE\nE000.png\tU+E000\t\n")
    texts = image_texts(ImageFolderDataset(tmp_path, size=8))
    assert texts == ["cat face", "grinning face", "."]  # no Unicode name: the class name (the root's ".")


def test_sketch_texts_are_class_names_and_batches_carry_tokens():
    line = np.array([[0, 0, 0], [5, 5, 1]], np.float32)
    dataset = RasterSketchDataset([line] * 3, [1, 0, 1], size=8, class_names=["owl", "cat"])
    assert image_texts(dataset) == ["cat", "owl", "cat"]
    tokens = torch.tensor([[3, 0], [4, 0], [3, 0]])
    batch = TextImageBatches(dataset, tokens, batch_size=2, seed=0).next_batch()
    assert batch["images"].shape == (2, 1, 8, 8)
    for row in range(2):  # each image keeps its own text
        assert batch["tokens"][row, 0] == (3 if batch["labels"][row] == 1 else 4)
