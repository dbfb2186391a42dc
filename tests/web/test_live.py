"""Live continuation (/api/continue, server-sent events) and candidates that stay on the paper."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from fastapi.testclient import TestClient

from sketchlab.web import create_app

HOUSE = [[150, 250, 0], [0, 150, 0], [200, 0, 0], [0, -150, 0], [-200, 0, 1], [-15, 12, 0], [115, -112, 0],
         [115, 112, 1]]
HOUSE_END = np.asarray(HOUSE)[:, :2].sum(axis=0)


@pytest.fixture(scope="module")
def client(models):
    with TestClient(create_app(models), base_url="http://localhost") as test_client:
        yield test_client


def events(client, body) -> list[tuple[str, dict]]:
    with client.stream("POST", "/api/continue", json=body) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        text = "".join(response.iter_text())
    out = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.split("\n"))
        out.append((lines["event"], json.loads(lines["data"])))
    return out


def test_the_stream_carries_the_completions_points_in_order(client):
    body = {"drawing": HOUSE, "n": 3, "temperature": 0.8, "seed": 7}
    streamed = events(client, body)
    names = [name for name, _ in streamed]
    assert names[0] == "start" and names[-1] == "end" and set(names[1:-1]) == {"points"}
    assert streamed[0][1]["prefix_rows"] == len(HOUSE) and streamed[0][1]["dropped_strokes"] == 0
    rows = {i: [] for i in range(3)}
    for name, data in streamed[1:-1]:
        for i, dx, dy, pen in data["rows"]:
            if pen != 2:
                rows[i].append([dx, dy, pen])
    # the same request answered at once: the same points (a seed gives the same drawings), at 0.01 px
    answered = client.post("/api/complete", json=body).json()
    for i, drawing in enumerate(answered["drawings"]):
        tail = np.asarray(drawing)[answered["prefix_rows"]:]
        assert len(tail) == len(rows[i]) > 0
        np.testing.assert_allclose(np.asarray(rows[i]), tail, atol=0.006)


def test_points_continue_from_where_the_pen_stopped_and_stay_on_the_paper(client):
    streamed = events(client, {"drawing": HOUSE, "n": 4, "temperature": 1.5, "seed": 1})
    position = {i: HOUSE_END.astype(float) for i in range(4)}
    for name, data in streamed:
        for i, dx, dy, pen in data.get("rows", []):
            position[i] = position[i] + [dx, dy]
            assert -0.01 <= position[i].min() and position[i].max() <= 512.01, f"future {i} left the paper"


def test_off_paper_without_the_constraint_and_on_it_with(client):
    def leaves(stay: bool) -> int:
        body = {"drawing": HOUSE, "n": 16, "temperature": 1.5, "seed": 3, "stay_on_paper": stay}
        drawings = client.post("/api/complete", json=body).json()["drawings"]
        return sum(bool(((np.cumsum(np.asarray(d)[:, :2], axis=0) < -0.01) |
                         (np.cumsum(np.asarray(d)[:, :2], axis=0) > 512.01)).any()) for d in drawings)

    assert leaves(False) > 0, "the tiny random model should wander off the canvas unaided"
    assert leaves(True) == 0


def test_bad_continue_requests_are_refused_before_the_stream(client):
    assert client.post("/api/continue", json={"drawing": HOUSE, "model": "nope"}).status_code == 404
    assert client.post("/api/continue", json={"drawing": HOUSE, "n": 99}).status_code == 422
    assert client.post("/api/continue", json={"drawing": []}).status_code == 422


def test_the_picker_knows_where_each_model_comes_from_and_what_it_draws(model_dirs):
    from sketchlab.web.server import load_registry

    registry = load_registry([str(model_dirs["tiny"]), "sheep"])
    info = {entry.name: entry.info() for entry in registry.entries()}
    assert info["sheep"].group == "shipped"
    assert info["sheep"].description == "sheep - draws sheep; can redraw and morph your drawing"
    assert info["tiny"].group == "yours" and info["tiny"].description == "tiny - can redraw and morph your drawing"
    assert all(entry.extent is not None for entry in registry.entries())  # measured before the first request


def test_the_model_stops_when_the_client_goes(client, monkeypatch):
    from sketchlab.web import live

    heard = []
    hear = live.Relay.hear

    def slow_hear(self, step, active, rows):  # 20 ms a step: 45 steps would take 0.9 s
        heard.append(step)
        time.sleep(0.02)
        hear(self, step, active, rows)

    monkeypatch.setattr(live.Relay, "hear", slow_hear)
    with client.stream("POST", "/api/continue", json={"drawing": HOUSE, "n": 1, "seed": 0}) as response:
        for line in response.iter_lines():
            if line.startswith("event: points"):
                break  # the page aborts: the user draws again
    time.sleep(1.5)
    assert 0 < len(heard) < 15, f"the model went on for {len(heard)} steps after the client left"
