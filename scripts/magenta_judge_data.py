"""The data of the `magenta-judge` classifier: the shared Quick, Draw! drawings of the ten categories whose published
Magenta models are in the shared data, with each training drawing joined by augmented copies.

About 16 training drawings a category are too few for a CNN (trained on them alone it scored 0.45 top-1 and 1 of 8
test birds). Each training drawing is joined by `--copies` copies stretched (x and y independently by up to
`--stretch`) and with points dropped (`--drop`), Sketch-RNN's own augmentations (`data.datasets`); the valid and
test splits stay the real drawings alone, so the test accuracy the card reports is on untouched drawings.

    python scripts/magenta_judge_data.py --out runs/magenta-judge/data
    sketchlab classifier train --data runs/magenta-judge/data --out-dir runs/magenta-judge/run --steps 600 ...
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
import torch

from sketchlab.data.datasets import drop_points, random_scale
from sketchlab.data.npz import load_npz, save_npz
from sketchlab.data.quickdraw import build_npz
from sketchlab.data.strokes import pad_stroke5, to_stroke3

CATEGORIES = ("ambulance", "bear", "bicycle", "bird", "dog", "key", "monkey", "palm tree", "parrot", "rabbit")
VALID_FRACTION, TEST_FRACTION = 0.15, 0.25  # as doodle-judge's recipe


def augmented(drawings: list[np.ndarray], copies: int, stretch: float, drop: float, seed: int) -> list[np.ndarray]:
    """`copies` stretched, thinned copies of each drawing (stroke-3, same units)."""
    generator = torch.Generator().manual_seed(seed)
    padded, lengths = pad_stroke5(drawings, max(len(d) for d in drawings))
    rows = torch.from_numpy(padded).repeat(copies, 1, 1)
    rows, new_lengths = drop_points(random_scale(rows, stretch, generator), torch.from_numpy(lengths).repeat(copies),
                                    drop, generator)
    return [to_stroke3(r[:n].numpy()) for r, n in zip(rows, new_lengths.tolist())]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="folder for one .npz per category")
    parser.add_argument("--copies", type=int, default=15)
    parser.add_argument("--stretch", type=float, default=0.2)
    parser.add_argument("--drop", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    data = Path(os.environ["SKETCHLAB_DATA"]) / "quickdraw"
    for index, category in enumerate(CATEGORIES):
        path = args.out / f"{category.replace(' ', '_')}.npz"
        build_npz([data / "raw" / f"{category}.ndjson", data / "simplified" / f"{category}.ndjson"], path,
                  valid_fraction=VALID_FRACTION, test_fraction=TEST_FRACTION)
        splits = load_npz(path)
        splits["train"] = splits["train"] + augmented(splits["train"], args.copies, args.stretch, args.drop,
                                                      args.seed + index)
        save_npz(path, splits)
        print(f"{path}: {len(splits['train'])} / {len(splits['valid'])} / {len(splits['test'])}")


if __name__ == "__main__":
    main()
