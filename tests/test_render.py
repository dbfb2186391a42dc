import os
import re
import stat
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PIL import Image, ImageSequence

from sketchlab import render
from sketchlab.errors import DataError

NS = "{http://www.w3.org/2000/svg}"


def square(side: float = 100.0, start=(0.0, 0.0)) -> np.ndarray:
    """One closed stroke: corners (0,0) (side,0) (side,side) (0,side) relative to `start`."""
    return np.array([[start[0], start[1], 0], [side, 0, 0], [0, side, 0], [-side, 0, 0], [0, -side, 1]],
                    dtype=np.float32)


def three_strokes(last_pen_down: bool = False) -> np.ndarray:
    s = np.array([
        [5, 5, 0], [10, 0, 0], [0, 10, 1],      # stroke 0: 3 points
        [-20, 0, 0], [0, 10, 1],                # stroke 1: 2 points
        [30, 0, 0], [5, 5, 0], [5, -5, 1],      # stroke 2: 3 points
    ], dtype=np.float32)
    if last_pen_down:
        s[-1, 2] = 0
    return s


def parse_svg(text: str):
    root = ET.fromstring(text)
    assert root.tag == f"{NS}svg"
    return root, root.findall(f".//{NS}path")


def path_points(path) -> np.ndarray:
    d = path.get("d")
    assert re.fullmatch(r"M[-\d.]+ [-\d.]+( L[-\d.]+ [-\d.]+)*", d), d
    return np.array(re.findall(r"[ML](-?[\d.]+) (-?[\d.]+)", d), dtype=float)


def luminance(hex_color: str) -> float:
    r, g, b = (int(hex_color[i:i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


# ---------------------------------------------------------------------------------------------------------- SVG


def test_svg_square_is_fitted_with_margin_exactly():
    root, paths = parse_svg(render.drawing_svg(square(), size=256, margin=0.05))
    assert root.get("width") == "256" and root.get("height") == "256" and root.get("viewBox") == "0 0 256 256"
    assert len(paths) == 1
    # the 100 x 100 square fills 90% of 256 = 230.4 px, starting 12.8 px from each side; y points down
    lo, hi = 12.8, 243.2
    np.testing.assert_allclose(path_points(paths[0]), [[lo, lo], [hi, lo], [hi, hi], [lo, hi], [lo, lo]], atol=0.006)


def test_svg_keeps_aspect_ratio_centres_and_ignores_the_start_offset():
    rect = np.array([[37, -12, 0], [200, 0, 0], [0, 100, 0], [-200, 0, 0], [0, -100, 1]], dtype=np.float32)
    _, paths = parse_svg(render.drawing_svg(rect, size=256, margin=0.05))
    # scale 230.4 / 200 = 1.152: the 100-high side becomes 115.2 px, centred vertically: 70.4 .. 185.6
    expected = [[12.8, 70.4], [243.2, 70.4], [243.2, 185.6], [12.8, 185.6], [12.8, 70.4]]
    np.testing.assert_allclose(path_points(paths[0]), expected, atol=0.006)


def test_svg_has_one_path_per_stroke_inside_the_canvas():
    for last_pen_down in (False, True):  # a last row with the pen still down still ends a stroke
        _, paths = parse_svg(render.drawing_svg(three_strokes(last_pen_down), size=200, margin=0.1))
        assert [len(path_points(p)) for p in paths] == [3, 2, 3]
        pts = np.concatenate([path_points(p) for p in paths])
        assert pts.min() >= 20 - 1e-6 and pts.max() <= 180 + 1e-6
        assert np.isclose(pts[:, 0].min(), 20) and np.isclose(pts[:, 0].max(), 180)  # wider than high


def test_color_by_order_gives_distinct_colours_along_the_ramp_in_drawing_order():
    strokes = np.array([[0, 0, 1], [10, 0, 1], [10, 0, 1], [10, 0, 0], [5, 5, 1]], dtype=np.float32)
    _, paths = parse_svg(render.drawing_svg(strokes, color_by_order=True))
    colours = [p.get("stroke") for p in paths]
    assert len(paths) == 4 and len(set(colours)) == 4
    assert colours == render.stroke_colors(4)
    assert all(re.fullmatch(r"#[0-9a-f]{6}", c) for c in colours)
    lum = [luminance(c) for c in colours]
    assert all(a < b for a, b in zip(lum, lum[1:])), lum  # dark to light, following the drawing order
    _, plain = parse_svg(render.drawing_svg(strokes, color="red"))
    assert {p.get("stroke") for p in plain} == {"red"}


def test_grid_svg_layout_and_labels():
    drawings = [square(), three_strokes(), square(50), three_strokes(True), square(7)]
    root, paths = parse_svg(render.grid_svg(drawings, ncols=3, cell=100))
    assert (root.get("width"), root.get("height")) == ("300", "200")
    cells = root.findall(f".//{NS}g[@class='drawing']")
    assert len(cells) == 5 and len(paths) == 1 + 3 + 1 + 3 + 1
    for i, g in enumerate(cells):  # every drawing stays inside its own cell, margin included
        pts = np.concatenate([path_points(p) for p in g.findall(f"{NS}path")])
        x0, y0 = (i % 3) * 100, (i // 3) * 100
        assert pts[:, 0].min() >= x0 + 5 - 1e-6 and pts[:, 0].max() <= x0 + 95 + 1e-6
        assert pts[:, 1].min() >= y0 + 5 - 1e-6 and pts[:, 1].max() <= y0 + 95 + 1e-6

    labels = ["a<b", "two", None, "four", "five"]
    root, _ = parse_svg(render.grid_svg(drawings, ncols=3, cell=100, labels=labels, color_by_order=True))
    assert int(root.get("height")) > 200
    assert [t.text for t in root.iter(f"{NS}text")] == ["a<b", "two", "four", "five"]
    with pytest.raises(DataError):
        render.grid_svg(drawings, labels=["too", "few"])


# ------------------------------------------------------------------------------------------------------- raster


def test_png_square_has_ink_on_its_edges_only():
    img = render.render_image(square(), size=256, line_width=2.0, margin=0.05)
    assert img.mode == "RGB" and img.size == (256, 256)
    a = np.asarray(img.convert("L")).astype(int)
    # edges at 12.8 and 243.2 px, 2 px wide: pixel 12 (and 242/243) is fully covered along each side
    for line in (a[30:226, 12], a[30:226, 243], a[12, 30:226], a[243, 30:226]):
        assert line.max() < 60, line.max()
    assert (a[16:240, 16:240] == 255).all()                   # inside the square
    assert (a[:10] == 255).all() and (a[:, :10] == 255).all()  # outside the margin, corners included
    assert (a[246:] == 255).all() and (a[:, 246:] == 255).all()


def test_render_is_anti_aliased():
    diagonal = np.array([[0, 0, 0], [100, 37, 1]], dtype=np.float32)
    a = np.asarray(render.render_image(diagonal, size=128).convert("L"))
    grey = (a > 30) & (a < 225)
    assert grey.sum() > 50                      # soft edges, not a hard black/white staircase
    assert len(np.unique(a)) > 8
    # the square's sides are 2 px wide and centred on 12.8 and 243.2 px to within a supersampled pixel (0.25 px)
    ink = 1 - np.asarray(render.render_image(square(), size=256).convert("L")) / 255
    centres = np.arange(256) + 0.5
    for profile, expected in ((ink[128, :128], 12.8), (ink[:128, 128], 12.8),
                              (ink[128, 128:], 243.2 - 128), (ink[128:, 128], 243.2 - 128)):
        assert abs(profile.sum() - 2.0) < 0.1
        assert abs((profile * centres[:128]).sum() / profile.sum() - expected) < 0.35
    assert 0.1 < ink[128, 11] < 0.4 and 0.6 < ink[128, 13] < 0.9  # partly covered pixels: 20% and 80% ideally


def test_color_by_order_in_png():
    strokes = np.array([[0, 0, 0], [100, 0, 1], [-100, 50, 0], [100, 0, 1]], dtype=np.float32)
    a = np.asarray(render.render_image(strokes, size=128, line_width=4, color_by_order=True)).astype(int)
    first, last = render.stroke_colors(2)
    top, bottom = a[a.shape[0] // 4 + 3, 64], a[3 * a.shape[0] // 4 - 3, 64]
    rgb = lambda c: np.array([int(c[i:i + 2], 16) for i in (1, 3, 5)])  # noqa: E731
    assert np.abs(top - rgb(first)).max() <= 3 and np.abs(bottom - rgb(last)).max() <= 3


def test_grid_image_and_array_dimensions():
    drawings = [square(), three_strokes(), square(30), three_strokes(True), square(3)]
    img = render.grid_image(drawings, ncols=2, cell=64)
    assert img.size == (128, 192) and img.mode == "RGB"
    square_grid = render.grid_image(drawings, cell=32)  # about square by default: 3 columns, 2 rows
    assert square_grid.size == (96, 64)
    labelled = render.grid_image(drawings, ncols=2, cell=64, labels=list("abcde"))
    assert labelled.size[0] == 128 and labelled.size[1] > 192
    arr = render.grid_array(drawings, ncols=5, cell=40, labels=list("abcde"))
    assert arr.dtype == np.uint8 and arr.ndim == 3 and arr.shape[1:] == (200, 3) and arr.shape[0] > 40
    np.testing.assert_array_equal(arr, np.asarray(render.grid_image(drawings, 5, 40, list("abcde"))))
    # cell 0 holds the square drawn alone at the cell's size
    np.testing.assert_array_equal(np.asarray(img)[:64, :64], np.asarray(render.render_image(square(), size=64)))
    with pytest.raises(DataError):
        render.grid_image([])


# ---------------------------------------------------------------------------------------------------------- GIF


def gif_frames(path) -> list[np.ndarray]:
    with Image.open(path) as im:
        assert im.format == "GIF"
        return [np.asarray(f.convert("RGB")).astype(int) for f in ImageSequence.Iterator(im)]


def test_gif_draws_the_drawing_and_holds_the_last_frame(tmp_path):
    t = np.linspace(0, 2 * np.pi, 40)
    circle = np.stack([np.cos(t) * 50, np.sin(t) * 50], axis=1)
    strokes = np.concatenate([circle[:1], np.diff(circle, axis=0)])
    strokes = np.concatenate([strokes, np.zeros((40, 1))], axis=1).astype(np.float32)
    strokes[-1, 2] = 1
    path = render.animate_gif(strokes, tmp_path / "circle.gif", size=96, fps=25, hold_last_ms=800)
    frames = gif_frames(path)
    assert len(frames) > 1
    ink = [(255 - f).sum() for f in frames]
    assert all(a <= b for a, b in zip(ink, ink[1:])) and ink[0] < ink[-1]  # drawn progressively
    full = np.asarray(render.render_image(strokes, size=96)).astype(int)
    assert np.abs(frames[-1] - full).max() <= 8
    with Image.open(path) as im:
        im.seek(im.n_frames - 1)
        assert im.info["duration"] >= 800


def test_gif_frame_count_is_capped(tmp_path):
    rng = np.random.default_rng(0)
    strokes = np.concatenate([rng.normal(size=(500, 2)), (rng.random((500, 1)) < 0.05)], axis=1)
    for ppf in (None, 1):
        path = render.animate_gif(strokes, tmp_path / f"long{ppf}.gif", size=48, points_per_frame=ppf)
        with Image.open(path) as im:
            assert 1 < im.n_frames <= render.MAX_GIF_FRAMES
    path = render.animate_gif(strokes, tmp_path / "coarse.gif", size=48, points_per_frame=150)
    with Image.open(path) as im:
        assert im.n_frames == 4  # 150 + 150 + 150 + 50 points


# ---------------------------------------------------------------------------------------------- edge cases, save

DEGENERATE = {  # name: (drawing, strokes in it)
    "single_point": (np.array([[3, 4, 1]], dtype=np.float32), 1),
    "single_point_pen_down": (np.array([[3, 4, 0]], dtype=np.float32), 1),
    "zero_extent": (np.array([[5, 5, 0], [0, 0, 0], [0, 0, 1], [0, 0, 0]], dtype=np.float32), 2),
    "empty": (np.zeros((0, 3), dtype=np.float32), 0),
    "flat_line": (np.array([[0, 0, 0], [50, 0, 0], [50, 0, 0]], dtype=np.float32), 1),
}


@pytest.mark.parametrize("name", sorted(DEGENERATE))
def test_degenerate_drawings_give_valid_files(tmp_path, name):
    drawing, n_strokes = DEGENERATE[name]
    _, paths = parse_svg(render.save(drawing, tmp_path / "d.svg").read_text())
    assert len(paths) == n_strokes
    for p in paths:
        pts = path_points(p)
        assert np.isfinite(pts).all() and pts.min() >= 0 and pts.max() <= 256
    with Image.open(render.save(drawing, tmp_path / "d.png")) as im:
        a = np.asarray(im.convert("L"))
    assert a.shape == (256, 256)
    if name == "empty":
        assert (a == 255).all()
    else:
        assert a.min() < 100
    if name in ("single_point", "single_point_pen_down", "zero_extent"):  # a dot in the centre
        np.testing.assert_allclose(np.concatenate([path_points(p) for p in paths]), 128)
        assert a[127:129, 127:129].max() < 100 and a[:100].min() == 255
    with Image.open(render.save(drawing, tmp_path / "d.gif")) as im:
        assert im.format == "GIF" and im.n_frames >= 1


def test_save_picks_the_format_by_suffix_and_leaves_no_temp_files(tmp_path):
    drawings = [square(), three_strokes()]
    svg = render.save(drawings, tmp_path / "grid.svg", color_by_order=True, ncols=2, labels=["x", "y"])
    root, paths = parse_svg(svg.read_text())
    assert root.get("width") == "256" and len(paths) == 4
    with Image.open(render.save(drawings, tmp_path / "grid.PNG", ncols=1, cell=50, stroke_width=3)) as im:
        assert im.format == "PNG" and im.size == (50, 100)
    with Image.open(render.save(square(), tmp_path / "one.png", size=80, labels=["ignored"])) as im:
        assert im.size == (80, 80)
    with Image.open(render.save([square()], tmp_path / "sub" / "one.gif", size=40)) as im:
        assert im.format == "GIF" and im.n_frames > 1
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["grid.PNG", "grid.svg", "one.gif",
                                                                         "one.png"]
    umask = os.umask(0o022)
    os.umask(umask)
    assert stat.S_IMODE(svg.stat().st_mode) == 0o666 & ~umask  # not the temp file's private 0600


def test_torch_tensors_are_accepted():
    torch = pytest.importorskip("torch")
    expected = render.drawing_svg(square())
    assert render.drawing_svg(torch.tensor(square(), requires_grad=True)) == expected
    _, grid_paths = parse_svg(render.grid_svg([torch.tensor(square())], cell=256))
    _, one_paths = parse_svg(expected)
    assert [p.get("d") for p in grid_paths] == [p.get("d") for p in one_paths]


def test_save_errors_are_one_line_data_errors(tmp_path):
    with pytest.raises(DataError) as err:
        render.save(square(), tmp_path / "picture.jpg")
    assert ".jpg" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(DataError):
        render.save(square(), tmp_path / "no_suffix")
    with pytest.raises(DataError):
        render.save([square(), square()], tmp_path / "two.gif")
    with pytest.raises(DataError):
        render.save(np.zeros((4, 2)), tmp_path / "bad.svg")
    with pytest.raises(DataError):
        render.render_image(np.array([[0, np.nan, 1]]))
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------------------- pixel image grids


def test_image_grid_maps_range_and_lays_out_tiles():
    images = np.stack([np.full((1, 4, 4), v, np.float32) for v in (-1.0, 0.0, 1.0, 2.0, -3.0)])  # gray, clipped
    grid = render.image_grid(images, ncols=3, pad=1)
    assert grid.shape == (2 * 5 + 1, 3 * 5 + 1, 3) and grid.dtype == np.uint8
    assert grid[1, 1].tolist() == [0, 0, 0] and grid[1, 6].tolist() == [128, 128, 128]
    assert grid[1, 11].tolist() == [255, 255, 255] and grid[6, 1].tolist() == [255, 255, 255]  # 2.0 -> white
    assert grid[6, 6].tolist() == [0, 0, 0] and grid[0, 0].tolist() == [255, 255, 255]  # -3 -> black; padding
    assert grid[6, 11].tolist() == [255, 255, 255]  # the empty sixth cell is background
    colour = np.zeros((1, 3, 2, 2), np.float32)
    colour[0, 0] = 1
    assert render.image_grid(colour, pad=0)[0, 0].tolist() == [255, 128, 128]
    with pytest.raises(DataError, match="needs images"):
        render.image_grid(np.zeros((2, 2, 4, 4)))


def test_save_picture_scales_crisply(tmp_path):
    picture = np.zeros((2, 3, 3), np.uint8)
    picture[0, 0] = 255
    render.save_picture(picture, tmp_path / "p.png", scale=4)
    saved = np.asarray(Image.open(tmp_path / "p.png"))
    assert saved.shape == (8, 12, 3) and (saved[:4, :4] == 255).all() and (saved[4:, 4:] == 0).all()
    with pytest.raises(DataError, match="written as .png"):
        render.save_picture(picture, tmp_path / "p.jpg")
