"""Canvas pixels <-> model units: the one scale per model and canvas size, and the simplification of a user's
drawing into rows the model can read (the rules are in the API description, `sketchlab.web.app`'s docstring)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from sketchlab import sampling
from sketchlab.data.strokes import simplify
from sketchlab.models.sketch_rnn import SketchRNN
from sketchlab.web.schemas import DEFAULT_CANVAS

CANVAS_FILL = 0.6  # a typical drawing of the model spans this fraction of the canvas side
RDP_FRACTION = 2 / 256  # Quick, Draw!'s simplification: epsilon 2 on drawings scaled into a 256 box
RDP_GROWTH, RDP_TRIES = 1.6, 2  # coarser than this, the drawing loses its shape: its oldest strokes are left out
EXTENT_SAMPLES, EXTENT_TEMPERATURE = 16, 0.25
EXTENT_RANGE = (3.0, 30.0)  # the typical extent, in scale factors, is kept in this range
MAX_OUTPUT_COORD = 1e6  # a result's offsets are clipped to this (an untrained model can wander far)


def measure_extent(model: SketchRNN) -> float:
    """The median larger side of the model's own drawings (see the API description), in data units."""
    factor = float(model.config.scale_factor)
    given = getattr(model.config, "typical_extent", None)
    if isinstance(given, (int, float)) and math.isfinite(given) and given > 0:
        return float(given)
    drawings = sampling.sample(model, EXTENT_SAMPLES, EXTENT_TEMPERATURE, seed=0)
    sides = [float(np.ptp(np.cumsum(d[:, :2], axis=0), axis=0).max()) for d in drawings if len(d) >= 2]
    sides = [side for side in sides if math.isfinite(side)]
    low, high = EXTENT_RANGE
    typical = float(np.median(sides)) if sides else 10 * factor
    return float(np.clip(typical, low * factor, high * factor))


@dataclasses.dataclass(frozen=True)
class Placement:
    """How a canvas drawing was mapped into model units: model = (canvas - origin) * scale. When the drawing had
    more points than the model reads, only its most recent part was mapped: `dropped_strokes` strokes at its start
    were left out (in whole or in part), and `origin` is where the part read starts."""

    origin: tuple[float, float]
    scale: float
    dropped_strokes: int = 0

    def paper(self, canvas_size: float) -> sampling.Paper:
        """The canvas (0..canvas_size on both axes) in model units around the mapped drawing's origin."""
        (ox, oy), s = self.origin, self.scale
        return sampling.Paper(-ox * s, -oy * s, (canvas_size - ox) * s, (canvas_size - oy) * s)

    def to_canvas(self, stroke3: np.ndarray) -> np.ndarray:
        out = np.array(stroke3, dtype=np.float64)
        out[:, :2] /= self.scale
        if len(out):
            out[0, :2] += self.origin
        return out


def recent_part(stroke3: np.ndarray, max_rows: int) -> tuple[np.ndarray, int]:
    """The last rows of a drawing (first row absolute, as every drawing here) that fit in `max_rows`, starting at
    a stroke's start when one fits, and how many strokes it leaves out in whole or in part."""
    if len(stroke3) <= max_rows:
        return stroke3, 0
    first = len(stroke3) - max_rows
    starts = np.flatnonzero(stroke3[:-1, 2] == 1) + 1  # the rows where a stroke begins
    whole = starts[starts >= first]
    start = int(whole[0]) if len(whole) else first
    part = stroke3[start:].copy()
    part[0, :2] = stroke3[: start + 1, :2].sum(axis=0)
    dropped = int(stroke3[:start, 2].sum()) + int(start not in starts)
    return part, dropped


def to_model_units(drawing: list, units_per_pixel: float, max_rows: int,
                   canvas_size: float = DEFAULT_CANVAS) -> tuple[np.ndarray, Placement]:
    """A validated canvas drawing as stroke-3 float32 in the model's data units (see the module docstring)."""
    rows = np.asarray(drawing, dtype=np.float64).reshape(-1, 3)
    last_pen = rows[-1, 2]
    epsilon = RDP_FRACTION * CANVAS_FILL * canvas_size  # 2/256 of the typical drawing's size, in pixels
    simple = simplify(rows, epsilon).astype(np.float64)
    for _ in range(RDP_TRIES):
        if len(simple) <= max_rows:
            break
        epsilon *= RDP_GROWTH
        simple = simplify(rows, epsilon).astype(np.float64)
    simple[-1, 2] = last_pen  # simplify lifts the pen at the end; an unfinished last stroke stays unfinished
    part, dropped = recent_part(simple, max_rows)
    origin = (float(part[0, 0]), float(part[0, 1]))
    part[0, :2] = 0.0
    part[:, :2] *= units_per_pixel
    return part.astype(np.float32), Placement(origin, units_per_pixel, dropped)


def completion_prefix(drawing: list, units_per_pixel: float, max_seq_len: int,
                      canvas_size: float = DEFAULT_CANVAS) -> tuple[np.ndarray, Placement]:
    """The drawing in model units for a completion: a quarter of the model's length is left for it to draw in."""
    room = max(1, max_seq_len // 4)
    return to_model_units(drawing, units_per_pixel, max_seq_len - room, canvas_size)


def json_rows(stroke3: np.ndarray) -> list[tuple[float, float, int]]:
    """A result as JSON-safe rows: finite, bounded, rounded to 1/1000."""
    a = np.nan_to_num(np.asarray(stroke3, dtype=np.float64), nan=0.0, posinf=MAX_OUTPUT_COORD,
                      neginf=-MAX_OUTPUT_COORD)
    xy = np.round(np.clip(a[:, :2], -MAX_OUTPUT_COORD, MAX_OUTPUT_COORD), 3)
    pen = (a[:, 2] > 0.5).astype(int)
    return [(float(x), float(y), int(p)) for (x, y), p in zip(xy.tolist(), pen.tolist())]


def placements_between(a: Placement, b: Placement, steps: int) -> list[Placement]:
    """Start points moving from a's to b's (the scale is the same: one per model and canvas)."""
    return [Placement(tuple(float((1 - t) * pa + t * pb) for pa, pb in zip(a.origin, b.origin)), a.scale)
            for t in np.linspace(0.0, 1.0, steps)]
