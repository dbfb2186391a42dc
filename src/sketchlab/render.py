"""Pictures of stroke-3 drawings: SVG, anti-aliased PNG, grids, animated GIFs and an atomic `save`; also grids of
pixel models' images (`image_grid`, `save_picture`).

Coordinates follow the data: x to the right, y *down* (Quick, Draw! and Sketch-RNN drawings are screen-oriented), so
a drawing is never flipped. Every picture fits the drawing's bounding box into a square canvas (or grid cell) with a
`margin` (a fraction of the side left empty on every side), keeping the aspect ratio and centring the box.

Degenerate drawings are drawn, not refused: an empty drawing gives a blank canvas, a single point (or a drawing whose
points all coincide) a dot in the centre, and a drawing whose last row still has the pen down keeps that last stroke.

Only numpy and Pillow are used (torch tensors are accepted and copied to numpy first).
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from sketchlab.data.strokes import strokes_to_lines
from sketchlab.errors import ConfigError, DataError, OutputError

__all__ = [
    "animate_gif",
    "drawing_svg",
    "grid_array",
    "grid_image",
    "grid_svg",
    "image_grid",
    "render_image",
    "save",
    "save_picture",
    "stroke_colors",
]

SUPERSAMPLE = 4  # raster pictures are drawn this many times larger, then box-filtered down (anti-aliasing)
MAX_GIF_FRAMES = 120

# A perceptual ramp (viridis' nine standard stops): its lightness rises monotonically from dark purple to yellow.
_RAMP = np.array([
    (0x44, 0x01, 0x54), (0x48, 0x28, 0x78), (0x3E, 0x49, 0x89), (0x31, 0x68, 0x8E), (0x26, 0x82, 0x8E),
    (0x1F, 0x9E, 0x89), (0x35, 0xB7, 0x79), (0x6E, 0xCE, 0x58), (0xFD, 0xE7, 0x25),
], dtype=np.float64)
_RAMP_END = 0.85  # stop before the palest yellows, which vanish on a white background

Lines = list[np.ndarray]  # (k, 2) float64 absolute coordinates, one array per pen-down stroke


# ----------------------------------------------------------------------------------------------------- geometry


def as_stroke3(drawing, what: str = "drawing") -> np.ndarray:
    """A drawing (array, list or tensor) as a checked float (n, 3) array; `what` names it in errors."""
    if hasattr(drawing, "detach"):  # a torch tensor, maybe on a GPU or requiring grad
        drawing = drawing.detach().cpu().numpy()
    try:
        s = np.asarray(drawing, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{what} is not a numeric stroke-3 array: {exc}") from None
    if s.ndim != 2 or s.shape[1] != 3:
        raise DataError(f"{what} must be a stroke-3 array of shape (n, 3), got shape {tuple(s.shape)}")
    if not np.isfinite(s).all():
        raise DataError(f"{what} contains NaN or infinite values")
    return s


def _lines(s: np.ndarray) -> Lines:
    """Polylines of a checked stroke-3 array (the last stroke kept even when the pen is still down at the end)."""
    return [line for line in strokes_to_lines(s) if len(line)]


def fit_to_canvas(lines: Lines, width: float, height: float, margin: float) -> tuple[float, float, float]:
    """(scale, ox, oy) so that `x * scale + ox` fits the drawing centred in the box with the margin."""
    if not 0 <= margin < 0.5:
        raise ValueError(f"margin must be in [0, 0.5), got {margin}")
    if not lines:
        return 1.0, width / 2, height / 2
    points = np.concatenate(lines)
    lo, hi = points.min(axis=0), points.max(axis=0)
    span = float((hi - lo).max())
    room = min(width, height) * (1 - 2 * margin)
    magnitude = max(1.0, float(np.abs(points).max()))
    scale = room / span if span > 1e-9 * magnitude else 1.0  # all points in one place: nothing to stretch
    centre = (lo + hi) / 2
    return scale, width / 2 - float(centre[0]) * scale, height / 2 - float(centre[1]) * scale


def _place(lines: Lines, width: float, height: float, margin: float, x0: float = 0.0, y0: float = 0.0) -> Lines:
    scale, ox, oy = fit_to_canvas(lines, width, height, margin)
    return [line * scale + np.array([ox + x0, oy + y0]) for line in lines]


def _prefix(lines: Lines, n_points: int) -> Lines:
    """The drawing as it looks after its first `n_points` points (in drawing order) are down."""
    out, left = [], n_points
    for line in lines:
        if left <= 0:
            break
        out.append(line[:left])
        left -= len(line)
    return out


# ------------------------------------------------------------------------------------------------------ colours


def stroke_colors(n: int) -> list[str]:
    """`n` colours ("#rrggbb") along a perceptual ramp, dark to light, for strokes in drawing order."""
    if n <= 0:
        return []
    ts = np.zeros(1) if n == 1 else np.linspace(0.0, _RAMP_END, n)
    stops = np.linspace(0.0, 1.0, len(_RAMP))
    rgb = np.stack([np.interp(ts, stops, _RAMP[:, c]) for c in range(3)], axis=1)
    return ["#{:02x}{:02x}{:02x}".format(*np.rint(c).astype(int)) for c in rgb]


def _colors(n: int, color: str, color_by_order: bool) -> list[str]:
    return stroke_colors(n) if color_by_order else [color] * n


# ---------------------------------------------------------------------------------------------------------- SVG


def _num(v: float) -> str:
    text = f"{v:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _path_d(line: np.ndarray) -> str:
    if len(line) == 1:  # a zero-length segment: with round caps it shows as a dot
        line = np.concatenate([line, line])
    head = f"M{_num(line[0, 0])} {_num(line[0, 1])}"
    return " ".join([head] + [f"L{_num(x)} {_num(y)}" for x, y in line[1:]])


def _svg_paths(placed: Lines, colors: list[str]) -> list[str]:
    return [f'<path d="{_path_d(line)}" stroke={quoteattr(c)}/>' for line, c in zip(placed, colors)]


def _svg_document(width: int, height: int, body: list[str], background: str | None, stroke_width: float) -> str:
    head = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}">']
    if background is not None:
        head.append(f'<rect x="0" y="0" width="{width}" height="{height}" fill={quoteattr(background)}/>')
    head.append(f'<g fill="none" stroke-width="{_num(stroke_width)}" stroke-linecap="round" '
                'stroke-linejoin="round">')
    return "\n".join(head + body + ["</g>", "</svg>"]) + "\n"


def drawing_svg(stroke3, size: int = 256, margin: float = 0.05, stroke_width: float = 2.0, color: str = "black",
                color_by_order: bool = False, background: str | None = "white") -> str:
    """A standalone SVG of one drawing: one `<path>` per stroke, fitted and centred in a `size` x `size` canvas.

    `color_by_order` colours the strokes along a dark-to-light perceptual ramp in drawing order
    (see `stroke_colors`); `background=None` leaves the canvas transparent.
    """
    _check_size(size, "size")
    lines = _lines(as_stroke3(stroke3))
    placed = _place(lines, size, size, margin)
    return _svg_document(size, size, _svg_paths(placed, _colors(len(lines), color, color_by_order)),
                         background, stroke_width)


def grid_svg(drawings, ncols: int | None = None, cell: int = 128, labels: Sequence | None = None,
             **style) -> str:
    """Many drawings in one SVG, `ncols` per row (about square by default), each fitted in a `cell` square.

    `labels` (one per drawing; None for no caption) are written in a band under each cell. `style` takes
    `drawing_svg`'s keywords: margin, stroke_width, color, color_by_order, background.
    """
    margin = style.pop("margin", 0.05)
    stroke_width = style.pop("stroke_width", 2.0)
    color = style.pop("color", "black")
    color_by_order = style.pop("color_by_order", False)
    background = style.pop("background", "white")
    if style:
        raise TypeError(f"grid_svg() got unexpected keyword arguments: {', '.join(sorted(style))}")
    items, ncols, nrows, label_h = _layout(drawings, ncols, cell, labels)
    width, height = ncols * cell, nrows * (cell + label_h)
    body: list[str] = []
    for i, s in enumerate(items):
        x0, y0 = (i % ncols) * cell, (i // ncols) * (cell + label_h)
        lines = _lines(s)
        placed = _place(lines, cell, cell, margin, x0, y0)
        body.append(f'<g class="drawing" id="drawing-{i}">')
        body += _svg_paths(placed, _colors(len(lines), color, color_by_order))
        body.append("</g>")
        if labels is not None and labels[i] is not None:
            font = label_h * 0.7
            body.append(f'<text x="{_num(x0 + cell / 2)}" y="{_num(y0 + cell + label_h * 0.78)}" '
                        f'font-size="{_num(font)}" font-family="sans-serif" text-anchor="middle" fill="#333" '
                        f'stroke="none">{escape(str(labels[i]))}</text>')
    return _svg_document(width, height, body, background, stroke_width)


# ------------------------------------------------------------------------------------------------------- raster


# The widest or tallest picture written: an enlargement or a canvas beyond this is a typo, not a wish.
MAX_PICTURE_SIDE = 16_384


def _check_size(value: int, name: str) -> None:
    if int(value) != value or not 1 <= value <= MAX_PICTURE_SIDE:
        raise ConfigError(f"{name} must be a whole number from 1 to {MAX_PICTURE_SIDE:,}, got {value}")


def _paint(draw: ImageDraw.ImageDraw, placed: Lines, colors: list[str], line_width: float, ss: int) -> None:
    """Draw placed polylines (in output pixels) onto a canvas `ss` times larger, round caps and joints."""
    width = max(1, round(line_width * ss))
    for line, c in zip(placed, colors):
        # Pillow truncates float coordinates and centres a wide line of integer coordinate c on the pixel edge c
        # (to within one supersampled pixel, depending on the direction), so rounding puts the line where the
        # continuous coordinate (pixel i covers [i, i + 1)) says
        pts = [(round(x * ss), round(y * ss)) for x, y in line]
        if len(pts) > 1:
            draw.line(pts, fill=c, width=width, joint="curve")
        for x, y in (pts[0], pts[-1]):  # round caps, `width` pixels across like the line (bounds are inclusive)
            lo_x, lo_y = x - width // 2, y - width // 2
            draw.ellipse((lo_x, lo_y, lo_x + width - 1, lo_y + width - 1), fill=c)


def _raster(placed: Lines, colors: list[str], size: int, line_width: float, background: str | None) -> Image.Image:
    big = Image.new("RGB", (size * SUPERSAMPLE, size * SUPERSAMPLE), background or "white")
    _paint(ImageDraw.Draw(big), placed, colors, line_width, SUPERSAMPLE)
    return big.resize((size, size), Image.Resampling.BOX)


def render_image(stroke3, size: int = 256, line_width: float = 2.0, margin: float = 0.05,
                 color_by_order: bool = False, color: str = "black", background: str | None = "white") -> Image.Image:
    """An anti-aliased RGB picture of one drawing (drawn 4x larger, then box-filtered down), white background."""
    _check_size(size, "size")
    lines = _lines(as_stroke3(stroke3))
    return _raster(_place(lines, size, size, margin), _colors(len(lines), color, color_by_order), size, line_width,
                   background)


def _font(px: int):
    try:
        return ImageFont.load_default(size=px)
    except (TypeError, ImportError, OSError):  # Pillow without FreeType: the small bitmap font
        return ImageFont.load_default()


def _fit_text(draw: ImageDraw.ImageDraw, text: str, font, room: float) -> str:
    if draw.textlength(text, font=font) <= room:
        return text
    while text and draw.textlength(text + "…", font=font) > room:
        text = text[:-1]
    return text + "…" if text else ""


def grid_image(drawings, ncols: int | None = None, cell: int = 128, labels: Sequence | None = None,
               line_width: float = 2.0, margin: float = 0.05, color_by_order: bool = False, color: str = "black",
               background: str | None = "white") -> Image.Image:
    """Many drawings in one RGB picture, `ncols` per row (about square by default), each in a `cell` square,
    with `labels` (one per drawing; None for no caption) in a band under each cell."""
    items, ncols, nrows, label_h = _layout(drawings, ncols, cell, labels)
    canvas = Image.new("RGB", (ncols * cell, nrows * (cell + label_h)), background or "white")
    draw = ImageDraw.Draw(canvas)
    font = _font(max(8, round(label_h * 0.7))) if label_h else None
    for i, s in enumerate(items):
        x0, y0 = (i % ncols) * cell, (i // ncols) * (cell + label_h)
        lines = _lines(s)
        tile = _raster(_place(lines, cell, cell, margin), _colors(len(lines), color, color_by_order), cell,
                       line_width, background)
        canvas.paste(tile, (x0, y0))
        if labels is not None and labels[i] is not None:
            text = _fit_text(draw, str(labels[i]), font, cell - 4)
            draw.text((x0 + cell / 2, y0 + cell + label_h / 2), text, fill="#333333", font=font, anchor="mm")
    return canvas


def grid_array(drawings, ncols: int | None = None, cell: int = 128, labels: Sequence | None = None,
               line_width: float = 2.0, margin: float = 0.05, color_by_order: bool = False, color: str = "black",
               background: str | None = "white") -> np.ndarray:
    """`grid_image` as an `(H, W, 3)` uint8 array (what TensorBoard's `add_image(..., dataformats="HWC")` takes)."""
    image = grid_image(drawings, ncols, cell, labels, line_width, margin, color_by_order, color, background)
    return np.asarray(image, dtype=np.uint8).copy()


def _layout(drawings, ncols: int | None, cell: int, labels) -> tuple[list[np.ndarray], int, int, int]:
    """Checked drawings, columns, rows and the caption band's height of a grid."""
    _check_size(cell, "cell")
    if getattr(drawings, "ndim", None) == 2:
        raise DataError("a grid needs a list of drawings, got a single drawing (wrap it in a list)")
    items = [as_stroke3(d, f"drawing {i}") for i, d in enumerate(drawings)]
    if not items:
        raise DataError("nothing to draw: the list of drawings is empty")
    if ncols is None:
        ncols = math.ceil(math.sqrt(len(items)))
    _check_size(ncols, "ncols")
    ncols = min(int(ncols), len(items))
    nrows = math.ceil(len(items) / ncols)
    if labels is not None:
        labels = list(labels)
        if len(labels) != len(items):
            raise DataError(f"got {len(labels)} labels for {len(items)} drawings")
    label_h = max(12, round(cell * 0.14)) if labels is not None else 0
    return items, ncols, nrows, label_h


def image_grid(images, ncols: int | None = None, pad: int = 2, background: int = 255) -> np.ndarray:
    """Pixel images `(N, C, H, W)` floats in [-1, 1] (a pixel model's; tensors accepted, C = 1 or 3) tiled into one
    `(H', W', 3)` uint8 picture, `ncols` per row (about square by default), `pad` pixels of `background` between."""
    if hasattr(images, "detach"):
        images = images.detach().float().cpu().numpy()
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4 or images.shape[1] not in (1, 3) or not len(images):
        raise DataError(f"image_grid needs images (N, 1 or 3, H, W), got shape {images.shape}")
    n, _, height, width = images.shape
    ncols = min(n, ncols or math.ceil(math.sqrt(n)))
    _check_size(ncols, "ncols")
    nrows = math.ceil(n / ncols)
    pixels = np.rint((np.clip(images, -1, 1) + 1) * 127.5).astype(np.uint8)
    pixels = np.broadcast_to(pixels, (n, 3, height, width)).transpose(0, 2, 3, 1)
    canvas = np.full((nrows * (height + pad) + pad, ncols * (width + pad) + pad, 3), background, dtype=np.uint8)
    for i, tile in enumerate(pixels):
        y, x = pad + (i // ncols) * (height + pad), pad + (i % ncols) * (width + pad)
        canvas[y : y + height, x : x + width] = tile
    return canvas


# ---------------------------------------------------------------------------------------------------------- GIF


def _gif_frames(stroke3, size: int, points_per_frame: int | None, max_frames: int, line_width: float,
                margin: float, color_by_order: bool, color: str, background: str | None) -> list[Image.Image]:
    lines = _lines(as_stroke3(stroke3))
    placed = _place(lines, size, size, margin)  # fitted once, on the whole drawing, so frames never rescale
    colors = _colors(len(lines), color, color_by_order)
    total = sum(len(line) for line in placed)
    if total == 0:
        return [_raster([], [], size, line_width, background)]
    step = max(1, math.ceil(total / max_frames))
    if points_per_frame is not None:
        if int(points_per_frame) != points_per_frame or points_per_frame < 1:
            raise ValueError(f"points_per_frame must be a positive integer, got {points_per_frame}")
        step = max(step, int(points_per_frame))
    ends = list(range(step, total, step)) + [total]
    return [_raster(_prefix(placed, k), colors, size, line_width, background) for k in ends]


def animate_gif(stroke3, path, size: int = 256, fps: float = 20, points_per_frame: int | None = None,
                hold_last_ms: int = 1000, line_width: float = 2.0, margin: float = 0.05,
                color_by_order: bool = False, color: str = "black", background: str | None = "white",
                max_frames: int = MAX_GIF_FRAMES) -> Path:
    """Write an animated GIF of the drawing being drawn, `points_per_frame` points at a time, and return its path.

    By default (and at least) points are grouped so that there are at most `max_frames` frames; the last frame,
    the finished drawing, is shown `hold_last_ms` longer. The file is written atomically.
    """
    _check_size(size, "size")
    _check_size(max_frames, "max_frames")
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    frames = _gif_frames(stroke3, size, points_per_frame, max_frames, line_width, margin, color_by_order, color,
                         background)
    frame_ms = max(20, round(1000 / fps))  # browsers slow down anything under 20 ms
    durations = [frame_ms] * len(frames)
    durations[-1] += max(0, int(hold_last_ms))
    # one palette for every frame, taken from the finished drawing (it holds every colour the frames use)
    palette = frames[-1].quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    indexed = [f.quantize(palette=palette, dither=Image.Dither.NONE) for f in frames]

    def write(tmp: str) -> None:
        indexed[0].save(tmp, format="GIF", save_all=True, append_images=indexed[1:], duration=durations, loop=0,
                        disposal=1)

    return _atomic_write(path, write)


# --------------------------------------------------------------------------------------------------------- save


def _atomic_write(path, write: Callable[[str], None]) -> Path:
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"cannot write {path}: it is a folder")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except (FileExistsError, NotADirectoryError):
        blocking = next(parent for parent in path.parents if parent.exists())
        raise OutputError(f"cannot write {path}: {blocking} is a file, not a folder") from None
    except OSError as err:  # no permission, a read-only disk
        raise OutputError(f"cannot write {path}: {err.strerror or err}") from None
    os.close(fd)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's private 0600 would stick to the picture
        write(tmp)
        os.replace(tmp, path)
    except BaseException as err:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(err, OSError):  # a full disk, a path that became a folder meanwhile
            raise OutputError(f"cannot write {path}: {err.strerror or err}") from None
        raise
    return path


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def save_picture(array: np.ndarray, path, scale: int = 1) -> Path:
    """Write an `(H, W, 3)` uint8 picture (an `image_grid`) to a .png file atomically, each pixel `scale` x `scale`
    (nearest neighbour: small images stay crisp); returns the path."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise DataError(f"cannot save {path}: pixel pictures are written as .png")
    _check_size(scale, "scale")
    image = Image.fromarray(np.ascontiguousarray(array, dtype=np.uint8))
    if max(image.size) * scale > MAX_PICTURE_SIDE:
        raise ConfigError(f"scale {scale} would make a {image.width * scale:,} x {image.height * scale:,} picture; "
                          f"at most {MAX_PICTURE_SIDE:,} pixels a side")
    if scale > 1:
        image = image.resize((image.width * scale, image.height * scale), Image.Resampling.NEAREST)
    return _atomic_write(path, lambda tmp: image.save(tmp, format="PNG"))


_GRID_ONLY = ("ncols", "labels", "cell")


def save(drawings_or_one, path, **kw) -> Path:
    """Write one drawing or a list of drawings to `path`, the format chosen by its suffix, atomically.

    `.svg`: `drawing_svg` for one drawing, `grid_svg` for a list; `.png`: `render_image` / `grid_image`;
    `.gif`: `animate_gif`, one drawing only (a list of one is accepted). One drawing is a 2-D `(n, 3)` array; any
    other sequence is a list of drawings. Keywords go to the chosen function; `stroke_width` and `line_width` are
    accepted by every format, and the grid keywords (ncols, labels, cell) are ignored for a single drawing.
    Returns the path written.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".svg", ".png", ".gif"):
        shown = f"'{path.suffix}'" if path.suffix else "no suffix"
        raise DataError(f"cannot save {path}: unknown picture format ({shown}); use .svg, .png or .gif")
    single = getattr(drawings_or_one, "ndim", None) == 2
    items = None if single else list(drawings_or_one)
    if suffix == ".gif" and not single:
        if len(items) != 1:
            raise DataError(f"cannot save {len(items)} drawings to {path}: a .gif animates one drawing "
                            "(use .svg or .png for a grid)")
        drawings_or_one, single = items[0], True
    kw = dict(kw)
    alias, name = ("line_width", "stroke_width") if suffix == ".svg" else ("stroke_width", "line_width")
    if alias in kw:
        kw.setdefault(name, kw.pop(alias))
    if single:
        for key in _GRID_ONLY:
            kw.pop(key, None)

    if suffix == ".gif":
        return animate_gif(drawings_or_one, path, **kw)
    if suffix == ".svg":
        text = drawing_svg(drawings_or_one, **kw) if single else grid_svg(items, **kw)

        def write(tmp: str) -> None:
            with open(tmp, "w", encoding="utf-8") as fh:
                fh.write(text)
    else:
        image = render_image(drawings_or_one, **kw) if single else grid_image(items, **kw)

        def write(tmp: str) -> None:
            image.save(tmp, format="PNG", optimize=True)
    return _atomic_write(path, write)
