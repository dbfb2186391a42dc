"""Stroke formats and numpy operations on them: stroke-3 <-> stroke-5, polylines, normalising, simplifying, checking.

See docs/conventions.md for the formats. Everything here is plain numpy so that rendering and data preparation
never need torch.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Sequence

import numpy as np

from sketchlab.errors import DataError

# Why a drawing can be unusable, in the order a report lists them.
SKIP_REASONS = ("too_long", "empty", "non_finite", "bad_shape", "bad_pen")


def pad_stroke5(drawings: Sequence[np.ndarray], max_len: int) -> tuple[np.ndarray, np.ndarray]:
    """Stroke-3 drawings as one stroke-5 array `(N, max_len, 5)` float32, and their lengths `(N,)` int64."""
    lengths = np.array([len(d) for d in drawings], dtype=np.int64)
    too_long = np.flatnonzero(lengths > max_len)
    if len(too_long):
        i = too_long[0]
        raise DataError(f"drawing {i} has {lengths[i]} points, more than the {max_len} a sketch may have here")
    out = np.zeros((len(drawings), max_len, 5), dtype=np.float32)
    real = np.arange(max_len) < lengths[:, None]
    # Boolean-mask assignment fills rows in row-major order, i.e. sketch after sketch, matching the concatenation.
    rows = np.concatenate(drawings) if len(drawings) else np.zeros((0, 3))
    out[real, :2] = rows[:, :2]
    out[real, 3] = rows[:, 2]
    out[..., 2] = real - out[..., 3]
    out[..., 4] = ~real
    return out, lengths


def to_stroke5(stroke3: np.ndarray, max_len: int) -> np.ndarray:
    """One stroke-3 drawing as `(max_len, 5)` stroke-5 rows with end-of-sketch padding (magenta's to_big_strokes)."""
    return pad_stroke5([np.asarray(stroke3)], max_len)[0][0]


def to_stroke3(stroke5: np.ndarray) -> np.ndarray:
    """Stroke-5 rows back to stroke-3, up to (not including) the first end-of-sketch row."""
    rows = np.asarray(stroke5)
    ends = np.flatnonzero(rows[:, 4] == 1)
    n = ends[0] if len(ends) else len(rows)
    return rows[:n][:, [0, 1, 3]].astype(np.float32)


def strokes_to_lines(stroke3: np.ndarray) -> list[np.ndarray]:
    """Absolute polylines `(k, 2)` float64, one per stroke; a last stroke without a pen lift is kept too."""
    s = np.asarray(stroke3, dtype=np.float64)
    points = np.cumsum(s[:, :2], axis=0)
    lifts = np.flatnonzero(s[:, 2] == 1) + 1
    return [line for line in np.split(points, lifts) if len(line)]


def lines_to_strokes(lines: Sequence[np.ndarray]) -> np.ndarray:
    """Absolute polylines back to stroke-3 float32, the pen lifted after the last point of each line."""
    if not len(lines):
        return np.zeros((0, 3), dtype=np.float32)
    points = np.concatenate([np.asarray(line, dtype=np.float64).reshape(-1, 2) for line in lines])
    out = np.zeros((len(points), 3), dtype=np.float32)
    out[:, :2] = np.diff(points, axis=0, prepend=np.zeros((1, 2)))
    out[np.cumsum([len(line) for line in lines]) - 1, 2] = 1
    return out


def scale_factor(drawings: Sequence[np.ndarray]) -> float:
    """The standard deviation of every dx and dy together: dividing by it gives offsets of unit spread."""
    if not len(drawings):
        raise DataError("cannot compute a scale factor without drawings")
    factor = float(np.concatenate([np.asarray(d)[:, :2].ravel() for d in drawings]).std(dtype=np.float64))
    if not np.isfinite(factor) or factor <= 0:
        raise DataError(f"cannot normalise drawings whose offsets have standard deviation {factor}")
    return factor


def normalize(drawings: Sequence[np.ndarray], factor: float) -> list[np.ndarray]:
    """Copies of the drawings (float32) with dx and dy divided by `factor`."""
    if not np.isfinite(factor) or factor <= 0:
        raise DataError(f"the scale factor must be a positive number, got {factor}")
    out = [np.array(d, dtype=np.float32) for d in drawings]
    for d in out:
        d[:, :2] /= factor
    return out


def segment_distances(points: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Distances of points to the segment start-end (a stroke doubling back past its end keeps that turn)."""
    direction = end - start
    length2 = float(direction @ direction)
    t = np.zeros(len(points)) if length2 == 0 else np.clip((points - start) @ direction / length2, 0.0, 1.0)
    return np.linalg.norm(points - (start + t[:, None] * direction), axis=1)


def line_distances(points: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Distances of points to the infinite line through start and end, as Google's Quick, Draw! preprocessing measures.

    The cross product is spelled as that reference does: on straight runs many points tie up to the last bit, and
    the first farthest point wins.
    """
    d = end - start
    if d[0] == 0 and d[1] == 0:
        return np.sqrt(((points - start) ** 2).sum(axis=1))
    return np.abs(d[0] * (start[1] - points[:, 1]) - d[1] * (start[0] - points[:, 0])) / np.sqrt(d @ d)


def rdp(points: np.ndarray, epsilon: float, distances=segment_distances) -> np.ndarray:
    """Ramer-Douglas-Peucker: the points of a polyline that keep it within `epsilon`, endpoints always kept.

    `distances(points, start, end)` measures how far points lie from a chord: to the segment by default, or
    `line_distances` for Google's variant.
    """
    points = np.asarray(points, dtype=np.float64)
    if len(points) < 3:
        return points.copy()
    keep = np.zeros(len(points), dtype=bool)
    keep[[0, -1]] = True
    pending = [(0, len(points) - 1)]
    while pending:
        first, last = pending.pop()
        if last - first < 2:
            continue
        far = distances(points[first + 1 : last], points[first], points[last])
        farthest = int(np.argmax(far))
        if far[farthest] > epsilon:
            split = first + 1 + farthest
            keep[split] = True
            pending += [(first, split), (split, last)]
    return points[keep]


def simplify(stroke3: np.ndarray, epsilon: float) -> np.ndarray:
    """A stroke-3 drawing with each stroke simplified by RDP; stroke start and end points do not move."""
    return lines_to_strokes([rdp(line, epsilon) for line in strokes_to_lines(stroke3)])


def _diagnose(drawing) -> tuple[np.ndarray | None, str | None, str]:
    """(array, reason, message): the drawing as an array and what is wrong with it; reason None if usable."""
    try:
        a = np.asarray(drawing)
    except (TypeError, ValueError):  # ragged nested lists
        return None, "bad_shape", "a drawing must be a numeric (n, 3) array, got a ragged sequence"
    if a.size == 0:
        return a, "empty", "a drawing must have at least one point, got none"
    if a.dtype.kind not in "iuf" or a.ndim != 2 or a.shape[1] != 3:
        return a, "bad_shape", f"a drawing must be a numeric (n, 3) array, got {a.dtype} with shape {a.shape}"
    with np.errstate(over="ignore"):  # float64 beyond float32's range (1e300) becomes inf when training reads it
        finite = np.isfinite(a.astype(np.float32))
    if not finite.all():
        rows = int((~finite).any(axis=1).sum())
        return a, "non_finite", f"a drawing has NaN or infinite values in {rows} of its {len(a)} rows (as float32)"
    pen = a[:, 2]
    if not ((pen == 0) | (pen == 1)).all():
        return a, "bad_pen", f"a drawing's pen column must hold 0 or 1, found {pen[(pen != 0) & (pen != 1)][0]}"
    return a, None, ""


def check_drawing(arr) -> np.ndarray:
    """One drawing as stroke-3 float32 `(n, 3)`, or a DataError saying what is wrong with it."""
    a, reason, message = _diagnose(arr)
    if reason is not None:
        raise DataError(message)
    return a.astype(np.float32)


@dataclasses.dataclass
class SkipReport:
    """How many of `total` drawings were left out, by reason; `str()` gives a one-line summary."""

    total: int = 0
    max_len: int | None = None
    too_long: int = 0
    empty: int = 0
    non_finite: int = 0
    bad_shape: int = 0
    bad_pen: int = 0

    @property
    def skipped(self) -> int:
        return sum(getattr(self, reason) for reason in SKIP_REASONS)

    def __add__(self, other: SkipReport) -> SkipReport:
        counts = {name: getattr(self, name) + getattr(other, name) for name in ("total", *SKIP_REASONS)}
        return SkipReport(max_len=self.max_len if self.max_len is not None else other.max_len, **counts)

    def __str__(self) -> str:
        labels = {
            "too_long": f"too long (> {self.max_len} points)",
            "empty": "empty",
            "non_finite": "non-finite",
            "bad_shape": "not (n, 3) numeric arrays",
            "bad_pen": "with pen values other than 0 and 1",
        }
        parts = [f"{getattr(self, r)} {labels[r]}" for r in SKIP_REASONS if getattr(self, r)]
        summary = f"skipped {self.skipped} of {self.total} drawings"
        return f"{summary}: {', '.join(parts)}" if parts else summary


def clean_drawings(drawings: Sequence, max_len: int | None) -> tuple[list[np.ndarray], SkipReport]:
    """The usable drawings as stroke-3 float32 (at most `max_len` points if given) and a count of the others."""
    kept, reasons = [], Counter()
    for drawing in drawings:
        a, reason, _ = _diagnose(drawing)
        if reason is None and max_len is not None and len(a) > max_len:
            reason = "too_long"
        if reason is None:
            kept.append(a.astype(np.float32))
        else:
            reasons[reason] += 1
    return kept, SkipReport(total=len(drawings), max_len=max_len, **reasons)
