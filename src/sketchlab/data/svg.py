"""Read line drawings from SVG: paths, polylines, polygons, lines, rectangles, circles and ellipses -> stroke-3.

Path data is parsed by the `svg.path` package (every command M/L/H/V/C/S/Q/T/A/Z, absolute and relative); curves
are sampled along their length. `transform` attributes (matrix, translate, scale, rotate, skewX, skewY) of the
elements and of every enclosing group are applied. Coordinates keep SVG's orientation, x to the right and y *down*,
which is also stroke-3's (see render.py), so nothing is flipped. The root's viewBox, colours and widths are ignored:
a stroke-3 drawing has no size, colour or width.

Which elements count: those that SVG strokes (`stroke` set and not `none`, by attribute, `style` or inheritance).
Shapes that are only filled (a background rectangle, say) are left out, unless nothing in the document is
stroked: then the outlines of the filled shapes are the drawing (icons drawn with fills only). Invisible elements
(`display="none"`, neither stroke nor fill) and the contents of `<defs>`, `<clipPath>`, `<mask>`, `<symbol>`,
`<marker>`, `<pattern>` and `<text>` are never read. `render.drawing_svg` writes the opposite direction.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
from svg.path import Close, Line, Move, parse_path

from sketchlab.data.strokes import lines_to_strokes, rdp
from sketchlab.errors import DataError

__all__ = ["MAX_CURVE_POINTS", "MAX_DEPTH", "MAX_POINTS", "parse_transform", "svg_to_lines", "svg_to_strokes"]

# Bounds that keep hostile SVG from hanging or exhausting memory (issue 18). A curve gets at most MAX_CURVE_POINTS
# points however long it is (a circle of radius 1e9 is still a circle), a drawing at most MAX_POINTS, and groups nest
# at most MAX_DEPTH deep: real drawings sit far below all three.
MAX_CURVE_POINTS = 1000
MAX_POINTS = 100_000
MAX_DEPTH = 100

_SKIPPED = {"defs", "clipPath", "mask", "symbol", "marker", "pattern", "metadata", "title", "desc", "style",
            "script", "text", "linearGradient", "radialGradient", "filter", "foreignObject"}
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_TRANSFORM = re.compile(r"\s*(matrix|translate|scale|rotate|skewX|skewY)\s*\(([^)]*)\)\s*,?")
_ARITY = {"matrix": (6,), "translate": (1, 2), "scale": (1, 2), "rotate": (1, 3), "skewX": (1,), "skewY": (1,)}


def parse_transform(text: str | None) -> np.ndarray:
    """An SVG `transform` attribute as a 3x3 affine matrix acting on column vectors `(x, y, 1)`."""
    m = np.eye(3)
    if not text or not text.strip():
        return m
    pos = 0
    while pos < len(text):
        match = _TRANSFORM.match(text, pos)
        if match is None:
            if not text[pos:].strip():
                break
            raise DataError(f"cannot read the SVG transform {text.strip()!r}")
        name, args = match.group(1), [float(v) for v in re.findall(_NUMBER, match.group(2))]
        if len(args) not in _ARITY[name]:
            raise DataError(f"the SVG transform {name}() takes {' or '.join(map(str, _ARITY[name]))} numbers, "
                            f"got {len(args)} in {text.strip()!r}")
        m = m @ _transform_matrix(name, args)
        pos = match.end()
    return m


def _transform_matrix(name: str, args: list[float]) -> np.ndarray:
    if name == "matrix":
        a, b, c, d, e, f = args
        return np.array([[a, c, e], [b, d, f], [0, 0, 1]], dtype=np.float64)
    if name == "translate":
        tx, ty = args[0], args[1] if len(args) > 1 else 0.0
        return np.array([[1, 0, tx], [0, 1, ty], [0, 0, 1]], dtype=np.float64)
    if name == "scale":
        sx, sy = args[0], args[1] if len(args) > 1 else args[0]
        return np.diag([sx, sy, 1.0])
    if name == "rotate":
        angle = math.radians(args[0])
        cos, sin = math.cos(angle), math.sin(angle)
        rot = np.array([[cos, -sin, 0], [sin, cos, 0], [0, 0, 1]], dtype=np.float64)
        if len(args) == 3:  # rotate(a, cx, cy) = translate(cx, cy) rotate(a) translate(-cx, -cy)
            cx, cy = args[1], args[2]
            return _transform_matrix("translate", [cx, cy]) @ rot @ _transform_matrix("translate", [-cx, -cy])
        return rot
    shear = math.tan(math.radians(args[0]))
    return np.array([[1, shear, 0], [0, 1, 0], [0, 0, 1]] if name == "skewX" else
                    [[1, 0, 0], [shear, 1, 0], [0, 0, 1]], dtype=np.float64)


def _tag(element: ET.Element) -> str:
    return element.tag.rsplit("}", 1)[-1] if isinstance(element.tag, str) else ""


def _length(element: ET.Element, name: str, default: float | None = None) -> float:
    value = element.get(name)
    if value is None:
        if default is None:
            raise DataError(f"an SVG <{_tag(element)}> lacks its {name!r} attribute")
        return default
    match = re.fullmatch(rf"\s*({_NUMBER})\s*(px)?\s*", value)
    if match is None:
        raise DataError(f"cannot read {name}={value!r} of an SVG <{_tag(element)}> (only plain numbers are read)")
    return float(match.group(1))


def _points_attribute(element: ET.Element) -> np.ndarray:
    numbers = [float(v) for v in re.findall(_NUMBER, element.get("points", ""))]
    if len(numbers) % 2:
        raise DataError(f"an SVG <{_tag(element)}> has an odd number of coordinates in 'points'")
    return np.array(numbers, dtype=np.float64).reshape(-1, 2)


def _shape_path(element: ET.Element) -> str | None:
    """Path data for the basic shapes that are easiest to treat as paths (rect, circle, ellipse)."""
    tag = _tag(element)
    if tag == "rect":
        x, y = _length(element, "x", 0.0), _length(element, "y", 0.0)
        w, h = _length(element, "width"), _length(element, "height")
        return f"M{x},{y} h{w} v{h} h{-w} Z"
    if tag in ("circle", "ellipse"):
        cx, cy = _length(element, "cx", 0.0), _length(element, "cy", 0.0)
        rx = _length(element, "r") if tag == "circle" else _length(element, "rx")
        ry = rx if tag == "circle" else _length(element, "ry")
        return f"M{cx + rx},{cy} A{rx},{ry} 0 1 1 {cx - rx},{cy} A{rx},{ry} 0 1 1 {cx + rx},{cy} Z"
    return None


class _Sampling:
    """Curve density and the points the drawing may still take (reading stops at the first segment over the cap)."""

    def __init__(self, samples_per_unit: float, where: str):
        self.samples_per_unit, self.where, self.points_left = samples_per_unit, where, MAX_POINTS

    def take(self, n: int) -> None:
        self.points_left -= n
        if self.points_left < 0:
            raise DataError(f"{self.where} has more than {MAX_POINTS:,} points (curves sampled at "
                            f"{self.samples_per_unit:g} per unit); simplify it or sample it more coarsely")

    def curve(self, segment) -> list[complex]:
        """Points along a curve segment (its start excluded) about equally far apart along the curve."""
        length = _curve_length(segment)
        if not math.isfinite(length):
            raise DataError(f"{self.where} has a curve whose coordinates are not finite numbers")
        n = min(MAX_CURVE_POINTS, max(2, math.ceil(length * self.samples_per_unit)))
        self.take(n)
        # the curve's parameter does not move at constant speed: invert the arc length measured on a finer polyline
        fine = np.linspace(0.0, 1.0, 8 * n + 1)
        points = np.array([segment.point(t) for t in fine])
        arc = np.concatenate([[0.0], np.cumsum(np.abs(np.diff(points)))])
        if arc[-1] <= 0:
            return [segment.end]
        ts = np.interp(np.linspace(0.0, arc[-1], n + 1)[1:-1], arc, fine)
        return [segment.point(t) for t in ts] + [segment.end]


def _curve_length(segment) -> float:
    """The segment's length (inf if it is not finite), to a tolerance relative to its size: svg.path's absolute
    tolerance makes the bisection of a huge curve run for ever."""
    coarse = np.array([segment.point(t) for t in np.linspace(0.0, 1.0, 17)])
    estimate = float(np.abs(np.diff(coarse)).sum())
    return segment.length(error=1e-6 * max(1.0, estimate)) if math.isfinite(estimate) else math.inf


def _path_lines(d: str, sampling: _Sampling) -> list[np.ndarray]:
    """One polyline per subpath of path data `d`; curves sampled every 1 / samples_per_unit along their length."""
    try:
        path = parse_path(d)
    except Exception as err:  # svg.path raises ValueError, IndexError ... on bad path data
        raise DataError(f"cannot read SVG path data {d[:40]!r}{'...' if len(d) > 40 else ''}: {err}") from None
    lines, current = [], []
    for segment in path:
        if isinstance(segment, Move):
            if len(current) > 1:  # a moveto alone draws nothing
                lines.append(current)
            current = [segment.end]
            continue
        if not current:
            current = [segment.start]
        if isinstance(segment, (Line, Close)):
            sampling.take(1)
            current.append(segment.end)
            continue
        current.extend(sampling.curve(segment))
    if len(current) > 1:
        lines.append(current)
    return [np.array([[p.real, p.imag] for p in line], dtype=np.float64) for line in lines]


def _element_lines(element: ET.Element, sampling: _Sampling) -> list[np.ndarray]:
    tag = _tag(element)
    if tag == "path":
        return _path_lines(element.get("d", ""), sampling)
    if tag == "line":
        return [np.array([[_length(element, "x1", 0.0), _length(element, "y1", 0.0)],
                          [_length(element, "x2", 0.0), _length(element, "y2", 0.0)]])]
    if tag in ("polyline", "polygon"):
        points = _points_attribute(element)
        sampling.take(len(points))
        if tag == "polygon" and len(points) > 1:
            points = np.concatenate([points, points[:1]])
        return [points] if len(points) else []
    d = _shape_path(element)
    return _path_lines(d, sampling) if d is not None else []


def _dedupe(line: np.ndarray) -> np.ndarray:
    """Drop points equal to the one before (a closing segment back onto the start, a doubled vertex)."""
    keep = np.ones(len(line), dtype=bool)
    keep[1:] = (np.diff(line, axis=0) != 0).any(axis=1)
    return line[keep]


def _paint(element: ET.Element, inherited: dict[str, str]) -> dict[str, str]:
    """The element's `stroke` and `fill` (attribute, or `style` declaration, else the parent's)."""
    paint = dict(inherited)
    for name in ("stroke", "fill"):
        if element.get(name) is not None:
            paint[name] = element.get(name).strip()
    for declaration in (element.get("style") or "").split(";"):
        name, _, value = declaration.partition(":")
        if name.strip() in ("stroke", "fill") and value.strip():
            paint[name.strip()] = value.strip()
    return paint


def _walk(element: ET.Element, matrix: np.ndarray, paint: dict[str, str], sampling: _Sampling,
          out: list[tuple[bool, np.ndarray]], depth: int = 0) -> None:
    """Collect `(stroked, polyline)` for every drawable element under `element`, in document order."""
    if depth > MAX_DEPTH:
        raise DataError(f"{sampling.where} nests elements more than {MAX_DEPTH} deep")
    tag = _tag(element)
    if tag in _SKIPPED or element.get("display", "").strip() == "none":
        return
    matrix = matrix @ parse_transform(element.get("transform"))
    paint = _paint(element, paint)
    stroked, filled = paint["stroke"] != "none", paint["fill"] != "none"
    if stroked or filled:
        for line in _element_lines(element, sampling):
            out.append((stroked, _dedupe(line @ matrix[:2, :2].T + matrix[:2, 2])))
    for child in element:
        _walk(child, matrix, paint, sampling, out, depth + 1)


def _read_text(svg: str | Path) -> tuple[str, str]:
    if isinstance(svg, Path) or not svg.lstrip().startswith("<"):
        path = Path(svg)
        try:
            return path.read_text(encoding="utf-8"), str(path)
        except (OSError, UnicodeDecodeError) as err:
            raise DataError(f"cannot read SVG file {path}: {getattr(err, 'strerror', None) or err}") from None
    return svg, "the SVG text"


def svg_to_lines(svg: str | Path, samples_per_unit: float = 1.0) -> list[np.ndarray]:
    """The drawing's strokes as absolute polylines `(k, 2)` float64 in SVG user units, in document order."""
    if not samples_per_unit > 0:
        raise ValueError(f"samples_per_unit must be positive, got {samples_per_unit}")
    text, where = _read_text(svg)
    if "<!ENTITY" in text:
        raise DataError(f"{where} declares XML entities, which sketchlab does not expand")
    try:
        root = ET.fromstring(text)
    except ET.ParseError as err:
        raise DataError(f"{where} is not valid SVG/XML: {err}") from None
    if _tag(root) != "svg":
        raise DataError(f"{where} is not SVG: its root element is <{_tag(root)}>, not <svg>")
    found: list[tuple[bool, np.ndarray]] = []
    try:
        with np.errstate(over="ignore", invalid="ignore"):  # inf and NaN coordinates are refused below, in one line
            _walk(root, np.eye(3), {"stroke": "none", "fill": "black"}, _Sampling(samples_per_unit, where), found)
    except ValueError as err:  # a number svg.path or float() could not read
        raise DataError(f"{where} has an unreadable number: {err}") from None
    any_stroked = any(stroked for stroked, _ in found)
    lines = [line for stroked, line in found if len(line) and (stroked or not any_stroked)]
    if not lines:
        raise DataError(f"{where} has nothing to draw: no path, line, polyline, polygon, rect, circle or ellipse")
    if not all(np.isfinite(line).all() for line in lines):
        raise DataError(f"{where} has coordinates that are not finite numbers")
    return lines


def svg_to_strokes(svg: str | Path, samples_per_unit: float = 1.0, tolerance: float | None = None) -> np.ndarray:
    """An SVG drawing (its text, or a path to a file) as stroke-3 float32, one stroke per (sub)path.

    Curves (Bezier, arcs, circles) are sampled with `samples_per_unit` points per unit of length (in the element's
    own coordinates, before transforms; at least 2 and at most MAX_CURVE_POINTS per curve segment); straight
    segments keep only their end points. A drawing of more than MAX_POINTS points, groups nested deeper than
    MAX_DEPTH, and coordinates whose offsets do not fit in float32 are refused with a DataError.
    A single-point stroke (`M x y L x y`, as `render.drawing_svg` writes a dot) comes back as one point. `tolerance`, if given, then simplifies every
    stroke with Ramer-Douglas-Peucker (`strokes.rdp`) at that distance in user units. The first row is the first
    point's offset from the origin, as in every stroke-3 drawing. Unreadable SVG raises a one-line DataError.
    """
    lines = svg_to_lines(svg, samples_per_unit)
    if tolerance is not None:
        lines = [rdp(line, tolerance) for line in lines]
    with np.errstate(over="ignore"):  # an offset beyond float32's range becomes inf: refused just below
        strokes = lines_to_strokes(lines)
    if not np.isfinite(strokes).all():
        raise DataError("the SVG's coordinates are too large: their offsets do not fit in float32")
    return strokes
