"""The studio's JSON API through FastAPI's TestClient: good requests, bad requests (always 4xx JSON), concurrency."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from fastapi.testclient import TestClient

from sketchlab.errors import DataError
from sketchlab.models.sketch_rnn import SketchRNN, SketchRNNConfig
from sketchlab.web import create_app, parse_model_spec
from sketchlab.web.placement import CANVAS_FILL, Placement, measure_extent, to_model_units
from sketchlab.web.schemas import MAX_BODY_BYTES, MAX_POINTS
from sketchlab.web.server import load_models


def square(x0: float = 100, y0: float = 120, side: float = 200, points_per_side: int = 20) -> list[list[float]]:
    """A closed square in canvas pixels as stroke-3 rows, densely sampled like pointer input."""
    step = side / points_per_side
    rows = [[x0, y0, 0]]
    for dx, dy in ((step, 0), (0, step), (-step, 0), (0, -step)):
        rows += [[dx, dy, 0] for _ in range(points_per_side)]
    rows[-1][2] = 1
    return rows


def zigzag(x0: float = 300, y0: float = 300, n: int = 12) -> list[list[float]]:
    rows = [[x0, y0, 0]] + [[8, 10 if i % 2 else -10, 0] for i in range(n)]
    rows[-1][2] = 1
    return rows


DRAWING = square() + zigzag(-150, 60)


@pytest.fixture(scope="module")
def client(models):
    with TestClient(create_app(models), base_url="http://localhost") as test_client:
        yield test_client


def check_drawings(drawings, count: int) -> None:
    assert len(drawings) == count
    for d in drawings:
        a = np.asarray(d, dtype=np.float64).reshape(-1, 3)
        assert np.isfinite(a).all()
        assert set(np.unique(a[:, 2])) <= {0.0, 1.0}


def refused(response, status: int = 422) -> object:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    detail = response.json()["detail"]
    assert detail
    return detail


# ------------------------------------------------------------------------------------------------ good requests


def test_models_lists_both_models(client):
    data = client.get("/api/models").json()
    by_name = {m["name"]: m for m in data["models"]}
    assert set(by_name) == {"tiny", "decoder"}
    assert data["default"] == "tiny"
    assert by_name["tiny"]["conditional"] is True and by_name["decoder"]["conditional"] is False
    assert by_name["tiny"]["max_seq_len"] == 60 and by_name["tiny"]["cell"] == "lstm"
    assert data["limits"]["max_points"] == MAX_POINTS


@pytest.mark.parametrize("name", ["tiny", "decoder"])
def test_sample(client, name):
    response = client.post("/api/sample", json={"model": name, "n": 3, "temperature": 0.8, "seed": 1})
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["model"] == name and data["units"] == "data"
    check_drawings(data["drawings"], 3)
    again = client.post("/api/sample", json={"model": name, "n": 3, "temperature": 0.8, "seed": 1}).json()
    assert again["drawings"] == data["drawings"]  # a seed makes drawings repeatable


@pytest.mark.parametrize("name", ["tiny", "decoder"])
def test_complete_continues_where_the_drawing_ends(client, name):
    response = client.post("/api/complete", json={"model": name, "drawing": DRAWING, "n": 4, "temperature": 0.5,
                                                  "seed": 3})
    assert response.status_code == 200, response.text
    data = response.json()
    check_drawings(data["drawings"], 4)
    assert data["units"] == "canvas"
    prefix = data["prefix_rows"]
    assert 2 <= prefix < len(DRAWING)  # the dense pointer samples were simplified
    end = np.asarray(DRAWING)[:, :2].sum(axis=0)
    for d in data["drawings"]:
        a = np.asarray(d)
        assert len(a) > prefix, "the tiny model should add points"
        np.testing.assert_allclose(a[0, :2], DRAWING[0][:2], atol=0.01)  # starts where the user started
        np.testing.assert_allclose(a[:prefix, :2].sum(axis=0), end, atol=0.05)  # continues from the last point
        assert a[prefix - 1, 2] == 1


def test_reconstruct_and_interpolate(client):
    response = client.post("/api/reconstruct", json={"drawing": DRAWING, "n": 2, "temperature": 0.2, "seed": 0})
    assert response.status_code == 200, response.text
    check_drawings(response.json()["drawings"], 2)
    response = client.post("/api/interpolate", json={"a": square(), "b": zigzag(), "steps": 5, "method": "lerp"})
    assert response.status_code == 200, response.text
    check_drawings(response.json()["drawings"], 5)


def test_defaults_and_the_default_model(client):
    response = client.post("/api/complete", json={"drawing": square()})
    assert response.status_code == 200, response.text
    assert response.json()["model"] == "tiny" and len(response.json()["drawings"]) == 4


def test_a_single_point_and_an_unfinished_stroke_are_completed(client):
    for drawing in ([[250, 250, 1]], [[250, 250, 0], [10, 0, 0], [10, 5, 0]]):
        response = client.post("/api/complete", json={"drawing": drawing, "n": 1})
        assert response.status_code == 200, response.text


def test_render_svg_and_png(client):
    svg = client.post("/api/render", json={"drawings": [DRAWING], "format": "svg"})
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert svg.text.startswith("<svg") and svg.text.count("<path") == 2
    png = client.post("/api/render", json={"drawings": [DRAWING, square()], "format": "png", "size": 128})
    assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"


def test_page_static_files_and_openapi(client):
    page = client.get("/")
    assert page.status_code == 200 and 'id="pad"' in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for name in ("studio.js", "studio.css"):
        assert client.get(f"/static/{name}").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/models", "/api/sample", "/api/complete", "/api/reconstruct", "/api/interpolate"} <= set(paths)


# ------------------------------------------------------------------------------------------------ bad requests


def post_raw(client, path: str, text: str):
    return client.post(path, content=text.encode(), headers={"content-type": "application/json"})


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_non_finite_numbers_are_refused(client, literal):
    body = f'{{"drawing": [[{literal}, 1, 0], [1, 1, 1]]}}'
    detail = refused(post_raw(client, "/api/complete", body))
    assert detail[0]["loc"] == ["body", "drawing", "0", "0"]
    refused(post_raw(client, "/api/sample", f'{{"temperature": {literal}}}'))


@pytest.mark.parametrize("body, where", [
    ({"drawing": [[1, 1, 0]] * (MAX_POINTS + 1)}, "drawing"),  # too many points
    ({"drawing": [[1, 1, 1]] * 101}, "drawing"),  # too many strokes
    ({"drawing": []}, "drawing"),  # empty drawing
    ({"drawing": [[1, 1]]}, "drawing"),  # rows of two numbers
    ({"drawing": [[1, 1, 0, 4]]}, "drawing"),  # rows of four
    ({"drawing": [1, 2, 3]}, "drawing"),  # not rows at all
    ({"drawing": "a circle"}, "drawing"),
    ({"drawing": [[1, 1, 2]]}, "drawing"),  # pen 2
    ({"drawing": [[1, 1, 0.5]]}, "drawing"),  # pen neither 0 nor 1
    ({"drawing": [[1e9, 1, 1]]}, "drawing"),  # absurd coordinate
    ({"drawing": [["x", 1, 1]]}, "drawing"),
    ({"drawing": DRAWING, "temperature": 5}, "temperature"),
    ({"drawing": DRAWING, "temperature": -0.1}, "temperature"),
    ({"drawing": DRAWING, "n": 0}, "n"),
    ({"drawing": DRAWING, "n": 17}, "n"),
    ({"drawing": DRAWING, "seed": -1}, "seed"),
    ({"drawing": DRAWING, "colour": "red"}, "colour"),  # unknown field
    ({}, "drawing"),  # missing drawing
])
def test_bad_complete_requests(client, body, where):
    detail = refused(client.post("/api/complete", json=body))
    assert any(where in e["loc"] for e in detail), detail
    assert all(set(e) == {"loc", "msg", "type"} for e in detail)  # the input is never echoed back


@pytest.mark.parametrize("path, body, where", [
    ("/api/interpolate", {"a": DRAWING, "b": DRAWING, "steps": 1}, "steps"),
    ("/api/interpolate", {"a": DRAWING, "b": DRAWING, "steps": 17}, "steps"),
    ("/api/interpolate", {"a": DRAWING, "b": DRAWING, "method": "cubic"}, "method"),
    ("/api/interpolate", {"a": DRAWING}, "b"),
    ("/api/sample", {"n": 100}, "n"),
    ("/api/sample", {"temperature": "hot"}, "temperature"),
    ("/api/reconstruct", {"drawing": [[0, 0, 3]]}, "drawing"),
    ("/api/render", {"drawings": [], "format": "svg"}, "drawings"),
    ("/api/render", {"drawings": [DRAWING], "format": "gif"}, "format"),
])
def test_bad_requests_elsewhere(client, path, body, where):
    detail = refused(client.post(path, json=body))
    assert any(where in e["loc"] for e in detail), detail


@pytest.mark.parametrize("text", ["", "{", "[1, 2]", "null", '"drawing"', "{\"drawing\": [[1, 1, 0]],}"])
def test_malformed_json(client, text):
    refused(post_raw(client, "/api/complete", text))


def test_unknown_model_is_404(client):
    for path, body in (("/api/sample", {}), ("/api/complete", {"drawing": DRAWING}),
                       ("/api/reconstruct", {"drawing": DRAWING}), ("/api/interpolate", {"a": DRAWING, "b": DRAWING})):
        detail = refused(client.post(path, json={**body, "model": "giraffe"}), 404)
        assert "giraffe" in detail and "tiny" in detail


def test_an_unconditional_model_cannot_encode(client):
    for path, body in (("/api/reconstruct", {"drawing": DRAWING}), ("/api/interpolate", {"a": DRAWING, "b": DRAWING})):
        detail = refused(client.post(path, json={**body, "model": "decoder"}), 400)
        assert "unconditional" in detail


def test_a_drawing_too_long_for_the_model_is_read_from_its_most_recent_part(client):
    # 90 separate dots: no simplification brings them under the tiny model's 45 readable points, so the model
    # reads the last 45 (nothing is refused for its length) and the answer says how many strokes it left out
    dots = [[5, 3, 1]] * 90
    data = client.post("/api/complete", json={"drawing": dots, "n": 1}).json()
    assert data["prefix_rows"] == 45 and data["dropped_strokes"] == 45
    read = np.cumsum(np.asarray(data["drawings"][0])[:45, :2], axis=0)
    np.testing.assert_allclose(read, np.cumsum(np.asarray(dots)[:, :2], axis=0)[45:])  # in place on the canvas


def test_a_long_smooth_drawing_is_simplified_to_fit(client):
    t = np.linspace(0, 4 * np.pi, 900)
    points = np.stack([250 + 150 * np.cos(t) * t / 12, 250 + 150 * np.sin(t) * t / 12], axis=1)
    rows = np.concatenate([points[:1], np.diff(points, axis=0)])
    drawing = [[float(x), float(y), 0] for x, y in rows]
    drawing[-1][2] = 1
    response = client.post("/api/complete", json={"drawing": drawing, "n": 1})
    assert response.status_code == 200, response.text
    assert response.json()["prefix_rows"] <= 45


def test_body_size_limit(client):
    padding = " " * (MAX_BODY_BYTES + 10)
    refused(post_raw(client, "/api/complete", '{"drawing": [[1, 1, 1]]}' + padding), 413)


def test_wrong_method_and_unknown_path_are_json(client):
    assert client.get("/api/complete").status_code == 405
    response = client.get("/api/nothing-here")
    assert response.status_code == 404 and response.json()["detail"]


# ------------------------------------------------------------------------------------------------ concurrency


def test_concurrent_requests_all_succeed(client):
    def call(i: int):
        if i % 3 == 0:
            return client.post("/api/complete", json={"drawing": DRAWING, "n": 2, "seed": i})
        if i % 3 == 1:
            return client.post("/api/sample", json={"model": "decoder", "n": 2, "seed": i})
        return client.post("/api/reconstruct", json={"drawing": square(), "seed": i})

    with ThreadPoolExecutor(max_workers=6) as pool:
        responses = list(pool.map(call, range(12)))
    assert [r.status_code for r in responses] == [200] * 12


def test_inference_runs_off_the_event_loop(client):
    """While a model is busy (its lock held), the server still answers other requests."""
    entry = client.app.state.registry.get("tiny")
    entry.lock.acquire()
    try:
        with ThreadPoolExecutor(max_workers=1) as pool:
            waiting = pool.submit(client.post, "/api/sample", json={"model": "tiny", "n": 1})
            time.sleep(0.2)
            assert not waiting.done()
            started = time.monotonic()
            assert client.get("/api/models").status_code == 200
            assert client.post("/api/sample", json={"model": "decoder", "n": 1}).status_code == 200
            assert time.monotonic() - started < 10
            entry.lock.release()
            assert waiting.result(timeout=30).status_code == 200
    finally:
        if entry.lock.locked():
            entry.lock.release()


# ------------------------------------------------------------------------------------------------ helpers


def test_to_model_units_and_back():
    drawing = square(50, 60, 300)
    rows, placement = to_model_units(drawing, units_per_pixel=0.5, max_rows=100)
    assert rows[0, 0] == 0 and rows[0, 1] == 0  # starts at the origin
    assert len(rows) == 5  # the square's corners: the dense pointer samples are simplified
    np.testing.assert_allclose(np.cumsum(rows[:, :2], axis=0)[2], [150, 150])  # one scale for every drawing
    back = placement.to_canvas(rows)
    np.testing.assert_allclose(np.cumsum(back[:, :2], axis=0)[[0, 1, 2]], [[50, 60], [350, 60], [350, 360]],
                               atol=1e-3)
    assert Placement((1.0, 2.0), 2.0).to_canvas(np.zeros((0, 3))).shape == (0, 3)


def test_the_scale_follows_the_models_typical_drawing(client, models):
    entry = client.app.state.registry.get("tiny")
    with entry.lock:
        extent = entry.typical_extent()
        factor = models["tiny"].config.scale_factor
        assert 3 * factor <= extent <= 30 * factor
        assert entry.units_per_pixel(512) == pytest.approx(extent / (CANVAS_FILL * 512))
        assert entry.units_per_pixel(1024) == pytest.approx(entry.units_per_pixel(512) / 2)
    response = client.post("/api/complete", json={"drawing": square(), "n": 1, "canvas_size": 1024})
    assert response.json()["scale"] == pytest.approx(extent / (CANVAS_FILL * 1024))


def test_a_typical_extent_in_the_config_is_used():
    model = SketchRNN(SketchRNNConfig(dec_hidden=8, num_mixture=2, max_seq_len=10, conditional=False))
    model.config.typical_extent = 123.0
    assert measure_extent(model) == 123.0


def test_model_specs_and_loading(model_dirs, tmp_path, monkeypatch):
    assert parse_model_spec("sheep=/some/where") == ("sheep", "/some/where")
    run = tmp_path / "my-run" / "best"
    run.mkdir(parents=True)
    assert parse_model_spec(str(run)) == ("my-run", str(run))
    assert parse_model_spec(str(model_dirs["tiny"]))[0] == "tiny"
    models = load_models([str(model_dirs["tiny"]), f"other={model_dirs['decoder']}"])
    assert list(models) == ["tiny", "other"]
    with pytest.raises(DataError, match="two models"):
        load_models([str(model_dirs["tiny"]), str(model_dirs["tiny"])])
    # no model given: the zoo's Sketch-RNN models, sheep first (it draws recognisable things: the first-run default),
    # and a clear error when there are none
    from sketchlab import zoo

    shipped = [m.name for m in zoo.zoo_models() if m.card["kind"] == "sketch-rnn"]
    loaded = list(load_models([]))
    assert loaded[0] == "sheep" and sorted(loaded) == sorted(shipped)
    monkeypatch.setattr(zoo, "zoo_models", lambda: [])
    with pytest.raises(DataError, match="at least one"):
        load_models([])


def test_create_app_checks_names(models):
    with pytest.raises(DataError):
        create_app({})
    with pytest.raises(DataError):
        create_app({"a/b": models["tiny"]})


def test_errors_never_echo_nan(client):
    """The default FastAPI handler would echo the NaN input and fail to serialise it (a 500)."""
    response = post_raw(client, "/api/interpolate", json.dumps({"a": [[float("nan"), 0, 1]], "b": DRAWING}))
    refused(response)


def test_a_concurrent_burst_with_threads_and_no_pool(client):
    results: list[int] = []

    def worker():
        results.append(client.post("/api/sample", json={"n": 1}).status_code)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == [200] * 8
