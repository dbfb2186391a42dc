"""Sketches per second of `raster.rasterize` against per-sketch Pillow ImageDraw baselines, in one run.

    OMP_NUM_THREADS=1 python benchmarks/raster_throughput.py [--size 64] [--n 3000] [--repeats 3]

Drawings are real Quick, Draw! simplified drawings from the shared data folder ($SKETCHLAB_DATA, else
../shared/data). Baselines, one sketch at a time like a naive Dataset would render them:
- `render_image`: the project's anti-aliased renderer (ImageDraw 4x supersampled, box-filtered down), as grayscale;
- `imagedraw_1x`: the cheapest possible ImageDraw: one `line` call per stroke on a 1x "L" canvas, no anti-aliasing.
Each timing is the best of `--repeats` runs.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from sketchlab import render
from sketchlab.data.quickdraw import read_ndjson, simplified_to_stroke3
from sketchlab.data.raster import rasterize
from sketchlab.data.strokes import strokes_to_lines


def load_drawings(n: int) -> list[np.ndarray]:
    root = Path(os.environ.get("SKETCHLAB_DATA") or Path(__file__).resolve().parents[1].parent / "shared" / "data")
    folder = root / "quickdraw" / "simplified"
    if not folder.is_dir():
        sys.exit(f"no Quick, Draw! data in {folder}: set SKETCHLAB_DATA to the shared data folder")
    drawings: list[np.ndarray] = []
    for path in sorted(folder.glob("*.ndjson")):
        drawings += [simplified_to_stroke3(r["drawing"]) for r in read_ndjson(path)]
        if len(drawings) >= n:
            break
    return drawings[:n]


def baseline_render_image(drawings, size: int, line_width: float) -> np.ndarray:
    return np.stack([1 - np.asarray(render.render_image(d, size=size, line_width=line_width).convert("L"),
                                    dtype=np.float32) / 255 for d in drawings])


def baseline_imagedraw_1x(drawings, size: int, line_width: float, margin: float = 0.05) -> np.ndarray:
    out = np.zeros((len(drawings), size, size), dtype=np.float32)
    width = max(1, round(line_width))
    for i, d in enumerate(drawings):
        lines = strokes_to_lines(d)
        scale, ox, oy = render.fit_to_canvas(lines, size, size, margin)
        image = Image.new("L", (size, size), 0)
        draw = ImageDraw.Draw(image)
        for line in lines:
            draw.line([(x * scale + ox, y * scale + oy) for x, y in line], fill=255, width=width)
        out[i] = np.asarray(image, dtype=np.float32) / 255
    return out


def best_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--line-width", type=float, default=2.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    drawings = load_drawings(args.n)
    points = sum(len(d) for d in drawings)
    print(f"{len(drawings)} Quick, Draw! drawings ({points / len(drawings):.1f} points each), "
          f"{args.size}x{args.size}, line width {args.line_width}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}")
    rasterize(drawings[:50], size=args.size)  # warm up
    first, second = rasterize(drawings, size=args.size), rasterize(drawings, size=args.size)
    assert np.array_equal(first, second), "rasterize is not deterministic"
    ours = best_time(lambda: rasterize(drawings, size=args.size, line_width=args.line_width), args.repeats)
    rate = len(drawings) / ours
    print(f"rasterize (batched):        {rate:9.0f} sketches/s")
    for name, fn in (("render_image (PIL, 4x AA)", baseline_render_image),
                     ("imagedraw_1x (PIL, no AA)", baseline_imagedraw_1x)):
        seconds = best_time(lambda fn=fn: fn(drawings, args.size, args.line_width), args.repeats)
        base = len(drawings) / seconds
        print(f"{name + ':':27s} {base:9.0f} sketches/s   rasterize is {rate / base:5.1f}x faster")
    reference = baseline_render_image(drawings[:200], args.size, args.line_width)
    diff = np.abs(rasterize(drawings[:200], size=args.size, line_width=args.line_width) - reference)
    print(f"mean |rasterize - render_image| per pixel: {diff.mean():.4f} (max {diff.max():.2f})")


if __name__ == "__main__":
    main()
