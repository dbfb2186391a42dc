"""Stroke formats, normalising, RDP and drawing checks, on hand-made drawings and the real sheep."""

import numpy as np
import pytest

from sketchlab.data import strokes
from sketchlab.errors import DataError

# Two strokes: a corner then a short line after a pen-up move.
L_SHAPE = np.array([[1, 2, 0], [3, 0, 0], [0, 4, 1], [-5, 1, 0], [2, 2, 1]], dtype=np.float32)


@pytest.fixture(scope="module")
def sheep(sheep_path) -> list[np.ndarray]:
    # The trusted reference reader, so these tests do not depend on sketchlab's own loader.
    with np.load(sheep_path, allow_pickle=True, encoding="latin1") as f:
        return list(f["train"])


def test_stroke5_rows_follow_magenta():
    expected = np.array([
        [1, 2, 1, 0, 0],
        [3, 0, 1, 0, 0],
        [0, 4, 0, 1, 0],
        [-5, 1, 1, 0, 0],
        [2, 2, 0, 1, 0],
        [0, 0, 0, 0, 1],
        [0, 0, 0, 0, 1],
    ], dtype=np.float32)
    out = strokes.to_stroke5(L_SHAPE, 7)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, expected)


def test_a_full_length_drawing_has_no_padding_row():
    out = strokes.to_stroke5(L_SHAPE, 5)
    assert out.shape == (5, 5) and not out[:, 4].any()
    np.testing.assert_array_equal(strokes.to_stroke3(out), L_SHAPE)


def test_too_long_for_stroke5_is_an_error():
    with pytest.raises(DataError, match="5 points"):
        strokes.to_stroke5(L_SHAPE, 4)


def test_stroke5_round_trip_on_real_sheep(sheep):
    for drawing in sheep:
        back = strokes.to_stroke3(strokes.to_stroke5(drawing, 250))
        assert back.dtype == np.float32
        np.testing.assert_array_equal(back, drawing)


def test_to_stroke3_stops_at_the_first_end_of_sketch():
    rows = np.array([[1, 1, 1, 0, 0], [2, 2, 0, 1, 0], [0, 0, 0, 0, 1], [9, 9, 1, 0, 0]], dtype=np.float32)
    np.testing.assert_array_equal(strokes.to_stroke3(rows), [[1, 1, 0], [2, 2, 1]])
    unfinished = rows[:2]  # no end-of-sketch row at all: every row is real
    assert len(strokes.to_stroke3(unfinished)) == 2


def test_pad_stroke5_matches_one_by_one_conversion(sheep):
    drawings = sheep[:50] + [L_SHAPE.astype(np.float64)]
    padded, lengths = strokes.pad_stroke5(drawings, 250)
    assert padded.shape == (51, 250, 5) and padded.dtype == np.float32
    assert lengths.dtype == np.int64
    np.testing.assert_array_equal(lengths, [len(d) for d in drawings])
    for row, drawing in zip(padded, drawings):
        np.testing.assert_array_equal(row, strokes.to_stroke5(drawing, 250))


def test_pad_stroke5_names_the_drawing_that_is_too_long():
    with pytest.raises(DataError, match="drawing 1 has 5 points"):
        strokes.pad_stroke5([L_SHAPE[:2], L_SHAPE], 3)
    padded, lengths = strokes.pad_stroke5([], 3)
    assert padded.shape == (0, 3, 5) and lengths.shape == (0,)


def test_lines_are_absolute_and_start_from_the_origin():
    lines = strokes.strokes_to_lines(L_SHAPE)
    assert len(lines) == 2
    np.testing.assert_array_equal(lines[0], [[1, 2], [4, 2], [4, 6]])
    np.testing.assert_array_equal(lines[1], [[-1, 7], [1, 9]])


def test_an_unfinished_last_stroke_is_kept():
    lines = strokes.strokes_to_lines(L_SHAPE[:4])
    assert [len(line) for line in lines] == [3, 1]


def test_lines_round_trip_exactly_on_real_sheep(sheep):
    for drawing in sheep:
        lines = strokes.strokes_to_lines(drawing)
        assert len(lines) == int(drawing[:, 2].sum())
        back = strokes.lines_to_strokes(lines)
        assert back.dtype == np.float32
        np.testing.assert_array_equal(back, drawing)


def test_lines_round_trip_on_float_drawings(sheep):
    factor = strokes.scale_factor(sheep)
    for drawing in strokes.normalize(sheep[:200], factor):
        np.testing.assert_allclose(strokes.lines_to_strokes(strokes.strokes_to_lines(drawing)), drawing, atol=1e-5)
    assert strokes.lines_to_strokes([]).shape == (0, 3)


def test_scale_factor_is_the_std_of_all_offsets(sheep):
    offsets = np.concatenate([np.concatenate([d[:, 0], d[:, 1]]) for d in sheep]).astype(np.float64)
    expected = np.sqrt(np.mean((offsets - offsets.mean()) ** 2))
    assert strokes.scale_factor(sheep) == pytest.approx(expected, rel=1e-9)


def test_normalize_divides_offsets_only_and_copies(sheep):
    original = sheep[0].copy()
    out = strokes.normalize(sheep[:3], 4.0)
    assert out[0].dtype == np.float32
    np.testing.assert_allclose(out[0][:, :2], original[:, :2] / 4.0)
    np.testing.assert_array_equal(out[0][:, 2], original[:, 2])
    np.testing.assert_array_equal(sheep[0], original)


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan")])
def test_normalize_needs_a_positive_factor(bad):
    with pytest.raises(DataError, match="scale factor"):
        strokes.normalize([L_SHAPE], bad)


def test_scale_factor_of_nothing_is_an_error():
    with pytest.raises(DataError):
        strokes.scale_factor([])
    with pytest.raises(DataError):
        strokes.scale_factor([np.zeros((3, 3))])


def test_rdp_removes_collinear_points_and_keeps_the_corner():
    line = np.array([[0, 0], [1, 0], [2, 0], [3, 0], [3, 1], [3, 2], [3, 3]], dtype=float)
    np.testing.assert_array_equal(strokes.rdp(line, 0.1), [[0, 0], [3, 0], [3, 3]])


def test_rdp_tolerance_decides_what_stays():
    wiggle = np.array([[0, 0], [1, 0.05], [2, -0.05], [3, 0], [3, 2]], dtype=float)
    np.testing.assert_array_equal(strokes.rdp(wiggle, 5.0), [[0, 0], [3, 2]])
    np.testing.assert_array_equal(strokes.rdp(wiggle, 0.2), [[0, 0], [3, 0], [3, 2]])
    np.testing.assert_array_equal(strokes.rdp(wiggle, 0.01), wiggle)


def test_rdp_keeps_a_turn_back_beyond_the_end():
    there_and_back = np.array([[0, 0], [5, 0], [3, 0]], dtype=float)
    np.testing.assert_array_equal(strokes.rdp(there_and_back, 0.5), there_and_back)


def test_rdp_keeps_short_lines_whole():
    for k in range(3):
        points = np.arange(2 * k, dtype=float).reshape(k, 2)
        np.testing.assert_array_equal(strokes.rdp(points, 10.0), points)


def test_simplify_keeps_stroke_ends_in_place(sheep):
    for drawing in sheep[:100]:
        simple = strokes.simplify(drawing, 2.0)
        before, after = strokes.strokes_to_lines(drawing), strokes.strokes_to_lines(simple)
        assert len(after) == len(before)
        for old, new in zip(before, after):
            np.testing.assert_allclose(new[[0, -1]], old[[0, -1]])
            assert len(new) <= len(old)
    assert sum(len(strokes.simplify(d, 2.0)) for d in sheep[:100]) < 0.8 * sum(len(d) for d in sheep[:100])


def test_check_drawing_returns_float32():
    out = strokes.check_drawing(L_SHAPE.astype(np.int16))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, L_SHAPE)


@pytest.mark.parametrize(("drawing", "message"), [
    (np.zeros((0, 3)), "at least one point"),
    (np.zeros((4, 2)), r"\(n, 3\).*shape \(4, 2\)"),
    (np.zeros(6), r"\(n, 3\).*shape \(6,\)"),
    (np.array([["a", "b", "c"]]), r"\(n, 3\)"),
    ([[1, 2, 0], [1, 2]], "ragged"),
    (np.array([[1, np.nan, 0], [1, 1, 1]]), "NaN or infinite values in 1 of its 2 rows"),
    (np.array([[np.inf, 1, 1]]), "NaN or infinite"),
    (np.array([[1e300, 1, 1]]), r"NaN or infinite values in 1 of its 1 rows \(as float32\)"),  # training reads inf
    (np.array([[1, 1, 2]]), "pen column must hold 0 or 1, found 2"),
])
def test_check_drawing_says_what_is_wrong_in_one_line(drawing, message):
    with pytest.raises(DataError, match=message) as err:
        strokes.check_drawing(drawing)
    assert "\n" not in str(err.value)


def test_clean_drawings_counts_every_skipped_drawing():
    good = [L_SHAPE[: k + 1] for k in range(5)]
    too_long = [np.tile(L_SHAPE, (3, 1))] * 2
    drawings = good + too_long + [
        np.array([[np.nan, 0, 1]]), np.array([[0, np.inf, 1]]), np.zeros((0, 3)), np.zeros((3, 4)), np.ones((2, 3)) * 3,
    ]
    kept, report = strokes.clean_drawings(drawings, max_len=10)
    assert len(kept) == 5 and all(k.dtype == np.float32 for k in kept)
    for k, g in zip(kept, good):
        np.testing.assert_array_equal(k, g)
    assert (report.total, report.skipped) == (12, 7)
    assert (report.too_long, report.non_finite, report.empty, report.bad_shape, report.bad_pen) == (2, 2, 1, 1, 1)
    assert str(report) == (
        "skipped 7 of 12 drawings: 2 too long (> 10 points), 1 empty, 2 non-finite, "
        "1 not (n, 3) numeric arrays, 1 with pen values other than 0 and 1"
    )


def test_clean_drawings_without_a_length_limit(sheep):
    kept, report = strokes.clean_drawings(sheep, max_len=None)
    assert len(kept) == len(sheep) and report.skipped == 0
    assert str(report) == f"skipped 0 of {len(sheep)} drawings"
    kept, report = strokes.clean_drawings(sheep, max_len=100)
    assert report.too_long == sum(len(d) > 100 for d in sheep) > 0
    assert len(kept) + report.too_long == len(sheep)


def test_skip_reports_add_up():
    a = strokes.SkipReport(total=10, max_len=5, too_long=2)
    b = strokes.SkipReport(total=3, max_len=5, empty=1, too_long=1)
    total = a + b
    assert (total.total, total.too_long, total.empty, total.skipped, total.max_len) == (13, 3, 1, 4, 5)
