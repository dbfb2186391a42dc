"""The measurements behind docs/magenta.md, from the shared published models and the shared Quick, Draw! drawings.

1. Scale: each model's mean log-likelihood of its category's 25 shared simplified drawings (0-255 box, first point
   moved to the origin), in the drawings' units (Jacobian included, `sketchlab.magenta.scale`), as they are
   magnified by a range of factors; the best factor per model and pooled.
2. The bear model's test losses (L_R = L_s + L_p, as magenta's r_loss: mean over N_max = 175 rows) on the shared bear
   drawings with the adopted scale rule, next to the r_loss its file records.
3. Samples judged by `magenta-judge` (the ten-category classifier; its test accuracy beside), and sample grids at
   temperatures 0.2 / 0.5 / 0.8 in docs/magenta/.

    SKETCHLAB_DATA=../shared/data python scripts/magenta_report.py [--samples 200]
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np
import torch

from sketchlab import render
from sketchlab.data.quickdraw import read_ndjson, simplified_to_stroke3
from sketchlab.evaluation import sketch_rnn_test_losses
from sketchlab.magenta.format import PIXEL_FACTOR, read_file, to_model
from sketchlab.magenta.scale import log_likelihoods
from sketchlab.models.classifier import SketchClassifier
from sketchlab.zoo import find

REPO = Path(__file__).resolve().parents[1]
MAGNIFICATIONS = (1.0, 1.25, 1.5, 1.75, 2.0, 2.25, 2.5, 3.0)
GRID_TEMPERATURES = (0.2, 0.5, 0.8)


def shared_drawings(data: Path, name: str) -> list[np.ndarray]:
    """The category's shared simplified drawings, each moved to start at the origin (as the studio does)."""
    records = read_ndjson(data / "quickdraw" / "simplified" / f"{name.replace('_', ' ')}.ndjson")
    drawings = [simplified_to_stroke3(r["drawing"]) for r in records]
    for drawing in drawings:
        drawing[0, :2] = 0
    return drawings


def scale_table(data: Path, names: list[str]) -> None:
    print("| model | " + " | ".join(f"x{k:g}" for k in MAGNIFICATIONS) + " | best |")
    print("|---" * (len(MAGNIFICATIONS) + 2) + "|")
    pooled = np.zeros(len(MAGNIFICATIONS))
    for name in names:
        model = to_model(read_file(data / "magenta" / f"{name}.gen.json"), pixel_factor=1.0)
        drawings = [d for d in shared_drawings(data, name) if len(d) <= model.config.max_seq_len]
        row = np.array([log_likelihoods(model, drawings, k).mean() for k in MAGNIFICATIONS])
        pooled += row - row.max()
        cells = " | ".join(f"{v:.1f}" for v in row)
        print(f"| {name} ({len(drawings)}) | {cells} | x{MAGNIFICATIONS[int(row.argmax())]:g} |")
    print("| all, nats below each model's best | " + " | ".join(f"{v:.1f}" for v in pooled)
          + f" | x{MAGNIFICATIONS[int(pooled.argmax())]:g} |")


def bear_losses(data: Path) -> None:
    magenta = read_file(data / "magenta" / "bear.gen.json")
    model = to_model(magenta)
    drawings = [d for d in shared_drawings(data, "bear") if len(d) <= model.config.max_seq_len]
    losses = sketch_rnn_test_losses(model, drawings, np.zeros(len(drawings), dtype=np.int64))
    print(f"bear on {losses['count']} shared drawings, magnified x{PIXEL_FACTOR:g}: L_R {losses['l_r']:.3f} "
          f"(L_s {losses['l_s']:.3f}, L_p {losses['l_p']:.3f}); recorded r_loss {magenta.info['r_loss']:.3f}")


def judged(data: Path, names: list[str], samples: int) -> None:
    judge = SketchClassifier.from_pretrained("magenta-judge")
    card_test = json.loads((find("magenta-judge") / "card.json").read_text())["test"]
    print(f"judge magenta-judge: test top-1 {card_test['top1']:.3f}, top-3 {card_test['top3']:.3f}; chance "
          f"{1 / judge.config.num_classes:.2f}")
    print("| model | " + " | ".join(f"T {t:g}" for t in GRID_TEMPERATURES) + " |")
    print("|---" * (len(GRID_TEMPERATURES) + 1) + "|")
    out = REPO / "docs" / "magenta"
    out.mkdir(parents=True, exist_ok=True)
    for name in names:
        model = to_model(read_file(data / "magenta" / f"{name}.gen.json"))
        target = judge.config.class_names.index(name)
        cells = []
        for temperature in GRID_TEMPERATURES:
            drawings = model.sample(samples, temperature=temperature, seed=0)
            cells.append(f"{(judge.classify(drawings).argmax(1) == target).mean():.2f}")
            render.save(drawings[:9], out / f"{name}_t{temperature:g}.svg", ncols=3, cell=96, color_by_order=True)
        print(f"| {name} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--only", choices=("scale", "bear", "judged"), default=None)
    args = parser.parse_args()
    torch.manual_seed(0)
    data = Path(os.environ["SKETCHLAB_DATA"])
    names = sorted(p.name.removesuffix(".gen.json") for p in (data / "magenta").glob("*.gen.json"))
    steps = {"scale": lambda: scale_table(data, names), "bear": lambda: bear_losses(data),
             "judged": lambda: judged(data, names, args.samples)}
    for name, step in steps.items():
        if args.only in (None, name):
            step()


if __name__ == "__main__":
    main()
