"""SVG -> stroke-3: path commands, shapes, transforms, what counts as ink, errors, and the round trip with render."""

import numpy as np
import pytest

from sketchlab import render
from sketchlab.data.quickdraw import read_ndjson, simplified_to_stroke3
from sketchlab.data.strokes import strokes_to_lines
from sketchlab.data import svg as svg_module
from sketchlab.data.svg import parse_transform, svg_to_lines, svg_to_strokes
from sketchlab.errors import DataError


def svg(body: str) -> str:
    return f'<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100" stroke="black">{body}</svg>'


def one_line(body: str, **kw) -> np.ndarray:
    (line,) = svg_to_lines(svg(body), **kw)
    return line


def normalised(lines) -> list[np.ndarray]:
    """Polylines moved and scaled so that their bounding box starts at 0 and its larger side is 1."""
    points = np.concatenate(lines)
    low, extent = points.min(axis=0), (points.max(axis=0) - points.min(axis=0)).max()
    return [(line - low) / extent for line in lines]


def without_repeats(line: np.ndarray) -> np.ndarray:
    keep = np.ones(len(line), dtype=bool)
    keep[1:] = (np.diff(line, axis=0) != 0).any(axis=1)
    return line[keep]


# ------------------------------------------------------------------------------------------------------- paths


def test_straight_path_commands_absolute_and_relative():
    np.testing.assert_allclose(one_line('<path d="M10 10 H 30 V 30 h -20 z"/>'),
                               [[10, 10], [30, 10], [30, 30], [10, 30], [10, 10]])
    np.testing.assert_allclose(one_line('<path d="m10 10 l20 0 l0 20 L10 30 Z"/>'),
                               [[10, 10], [30, 10], [30, 30], [10, 30], [10, 10]])


def test_subpaths_and_elements_are_separate_strokes_in_document_order():
    lines = svg_to_lines(svg('<path d="M0 0 L10 0 M0 5 l10 0"/><line x1="1" y1="2" x2="3" y2="4"/>'
                             '<polyline points="0,0 5,5 10,0"/><polygon points="0 0, 4 0, 4 4"/>'))
    assert [len(line) for line in lines] == [2, 2, 2, 3, 4]
    np.testing.assert_allclose(lines[1], [[0, 5], [10, 5]])
    np.testing.assert_allclose(lines[2], [[1, 2], [3, 4]])
    np.testing.assert_allclose(lines[4], [[0, 0], [4, 0], [4, 4], [0, 0]])  # a polygon closes
    np.testing.assert_allclose(svg_to_lines(svg('<path d="M4 4 L4 4"/>')), [[[4, 4]]])  # a dot
    s = svg_to_strokes(svg('<path d="M0 0 L10 0 M3 3 M0 5 l10 0 M 7 7"/>'))  # a lone moveto draws nothing
    np.testing.assert_allclose(s, [[0, 0, 0], [10, 0, 1], [-10, 5, 0], [10, 0, 1]])


def test_curves_are_sampled_on_the_curve():
    cubic = one_line('<path d="M0 0 C 0 10 10 10 10 0"/>', samples_per_unit=2)
    np.testing.assert_allclose(cubic[[0, -1]], [[0, 0], [10, 0]])
    steps = np.linalg.norm(np.diff(cubic, axis=0), axis=1)
    assert steps.max() <= 0.55 and len(cubic) <= 2 * steps.sum() + 2  # 2 samples per unit of length, no more
    assert cubic[:, 1].max() == pytest.approx(7.5, abs=0.02)  # the Bezier's top, at t = 0.5
    quad = one_line('<path d="M0 0 q 5 10 10 0"/>', samples_per_unit=4)
    assert quad[:, 1].max() == pytest.approx(5.0, abs=0.01)
    # an arc from (0, 0) to (20, 0), radius 10, sweep 1: clockwise on screen, so over the top (y = -10, y is down)
    arc = one_line('<path d="M0 0 A 10 10 0 0 1 20 0"/>')
    np.testing.assert_allclose(np.linalg.norm(arc - [10, 0], axis=1), 10, atol=1e-9)
    assert arc[:, 1].min() == pytest.approx(-10, abs=0.1) and arc[:, 1].max() < 1e-9
    circle = one_line('<circle cx="50" cy="50" r="20"/>')
    np.testing.assert_allclose(np.linalg.norm(circle - 50, axis=1), 20, atol=1e-9)
    np.testing.assert_allclose(circle[0], circle[-1], atol=1e-9)


def test_y_points_down_as_in_stroke3():
    s = svg_to_strokes(svg('<line x1="0" y1="0" x2="0" y2="10"/>'))
    np.testing.assert_allclose(s, [[0, 0, 0], [0, 10, 1]])  # downwards on screen is +dy, nothing flipped


def test_transforms_of_elements_and_groups_compose():
    line = one_line('<g transform="translate(100,0) scale(2)"><line x1="0" y1="0" x2="10" y2="5"/></g>')
    np.testing.assert_allclose(line, [[100, 0], [120, 10]])
    line = one_line('<g transform="matrix(1 0 0 1 5 5)"><path transform="rotate(90)" d="M1 0 L2 0"/></g>')
    np.testing.assert_allclose(line, [[5, 6], [5, 7]], atol=1e-12)
    line = one_line('<rect x="0" y="0" width="2" height="1" transform="rotate(180, 1, 0.5) skewX(0)"/>')
    np.testing.assert_allclose(line, [[2, 1], [0, 1], [0, 0], [2, 0], [2, 1]], atol=1e-12)
    np.testing.assert_allclose(parse_transform("scale(2, 3) translate(1)"), [[2, 0, 2], [0, 3, 0], [0, 0, 1]])


def test_only_stroked_shapes_count_unless_nothing_is_stroked():
    doc = ('<svg xmlns="http://www.w3.org/2000/svg"><rect width="100" height="100" fill="white"/>'
           '<g style="stroke: #000"><path d="M1 1 L2 2"/><path stroke="none" d="M5 5 L6 6"/></g>'
           '<defs><path stroke="black" d="M7 7 L8 8"/></defs><line stroke="red" display="none" x2="9" y2="9"/>'
           '<text stroke="black">no</text></svg>')
    np.testing.assert_allclose(svg_to_lines(doc), [[[1, 1], [2, 2]]])
    icon = '<svg xmlns="http://www.w3.org/2000/svg"><rect width="4" height="3"/><rect fill="none"/></svg>'
    np.testing.assert_allclose(svg_to_lines(icon), [[[0, 0], [4, 0], [4, 3], [0, 3], [0, 0]]])


def test_tolerance_simplifies_strokes():
    line = '<polyline points="0,0 1,0.01 2,0 3,0.01 4,0"/>'
    assert len(svg_to_strokes(svg(line))) == 5
    np.testing.assert_allclose(svg_to_strokes(svg(line), tolerance=0.1), [[0, 0, 0], [4, 0, 1]])


# --------------------------------------------------------------------------------------------------- round trip


def test_round_trip_through_render_drawing_svg(data_dir):
    path = data_dir / "quickdraw" / "simplified" / "hot air balloon.ndjson"
    drawings = [simplified_to_stroke3(r["drawing"]) for r in read_ndjson(path, limit=10)]
    drawings.append(np.array([[5, 5, 0], [10, 0, 0], [0, 10, 1], [-20, 0, 0], [0, 10, 0]], dtype=np.float32))
    for d in drawings:
        text = render.drawing_svg(d, size=256, color_by_order=True)  # a background rect, one path per stroke
        back = svg_to_strokes(text)
        want = [without_repeats(line) for line in strokes_to_lines(d)]
        got = strokes_to_lines(back)
        assert [len(line) for line in got] == [len(line) for line in want]
        for a, b in zip(normalised(got), normalised(want)):
            np.testing.assert_allclose(a, b, atol=1e-4)  # drawing_svg writes 2 decimals on a 256 canvas


def test_reads_files(tmp_path):
    target = render.save(np.array([[0, 0, 0], [10, 10, 1]], dtype=np.float32), tmp_path / "d.svg")
    np.testing.assert_allclose(svg_to_strokes(target), svg_to_strokes(target.read_text()))
    np.testing.assert_allclose(svg_to_strokes(str(target)), svg_to_strokes(target.read_text()))


# ------------------------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(("text", "message"), [
    ("<svg><path d='M0 0 L1", "not valid SVG/XML"),
    ("<html><body/></html>", "root element is <html>"),
    ("<svg stroke='black'><path d='M 0 0 L x 1'/></svg>", "cannot read SVG path data"),
    ("<svg stroke='black'><line x1='1cm' x2='2'/></svg>", "cannot read x1='1cm'"),
    ("<svg stroke='black'><rect width='2'/></svg>", "lacks its 'height'"),
    ("<svg stroke='black'><line transform='spin(3)'/></svg>", "cannot read the SVG transform"),
    ("<svg stroke='black'><line transform='translate(1,2,3)'/></svg>", "translate\\(\\) takes 1 or 2 numbers"),
    ("<svg stroke='black'><polyline points='1 2 3'/></svg>", "odd number of coordinates"),
    ("<svg><g/></svg>", "nothing to draw"),
    ('<!DOCTYPE svg [<!ENTITY a "aaaa">]><svg>&a;</svg>', "declares XML entities"),
])
def test_bad_svg_is_a_one_line_data_error(text, message):
    with pytest.raises(DataError, match=message) as err:
        svg_to_strokes(text)
    assert "\n" not in str(err.value)


def test_missing_file_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="cannot read SVG file"):
        svg_to_strokes(tmp_path / "nope.svg")


# ------------------------------------------------------------------------------------------ hostile input (#18)


def test_a_huge_circle_is_sampled_by_a_bounded_number_of_points_and_stays_a_circle():
    (line,) = svg_to_lines(svg('<circle cx="0" cy="0" r="1e9"/>'))  # was 187 GiB asked for; r=1e6 hung
    assert len(line) <= 2 * svg_module.MAX_CURVE_POINTS + 1  # two arcs
    np.testing.assert_allclose(np.hypot(line[:, 0], line[:, 1]), 1e9, rtol=1e-9)
    gaps = np.hypot(*np.diff(line, axis=0).T)
    assert gaps.max() < 1.01 * gaps.min()  # still about equally spaced along the curve


def test_a_huge_ellipse_arc_is_measured_in_bounded_time():
    # svg.path bisects an ellipse until its length is known to 1e-6 units: at this size that would never end
    (line,) = svg_to_lines(svg('<ellipse rx="1e15" ry="1e14"/>'))
    np.testing.assert_allclose((line[:, 0] / 1e15) ** 2 + (line[:, 1] / 1e14) ** 2, 1.0, rtol=1e-9)


@pytest.mark.parametrize(("body", "message"), [
    ("<g>" * 2000 + '<path d="M0 0 L1 1"/>' + "</g>" * 2000, "nests elements more than 100 deep"),
    ('<path d="M0 0 H 1e308"/>', "offsets do not fit in float32"),
    ('<path d="M-1e308 0 H 1e308"/>', "offsets do not fit in float32"),
    ('<path d="M0 0 L 1e400 0"/>', "not finite"),
    ('<circle r="1e308"/>', "not finite"),
    ('<polyline points="' + "0 0 1 1 " * 50_001 + '"/>', "more than 100,000 points"),
])
def test_hostile_svg_is_a_one_line_data_error(body, message):
    with pytest.raises(DataError, match=message) as err:
        svg_to_strokes(svg(body))
    assert "\n" not in str(err.value)
