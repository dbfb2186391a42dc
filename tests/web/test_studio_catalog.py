"""Published Magenta models fetched from the studio's picker: listed, downloaded with progress, then served."""

from __future__ import annotations

import functools
import http.server
import os
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sketchlab.web import create_app

SHARED = Path(os.environ.get("SKETCHLAB_DATA", "")) / "magenta"


@pytest.fixture()
def published(monkeypatch, tmp_path):
    """The shared Magenta files served on loopback as the published bucket, with an empty cache."""
    if not (SHARED / "bird.gen.json").is_file():
        pytest.skip("the shared Magenta files are not here (SKETCHLAB_DATA/magenta)")
    quiet = type("Quiet", (http.server.SimpleHTTPRequestHandler,), {"log_message": lambda *args: None})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(quiet, directory=str(SHARED)))
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    monkeypatch.setenv("SKETCHLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("SKETCHLAB_MAGENTA_MODELS_URL", f"http://127.0.0.1:{server.server_address[1]}/")
    yield
    server.shutdown()
    server.server_close()


def test_a_published_model_is_fetched_with_progress_then_served(published, models):
    with TestClient(create_app(models), base_url="http://localhost") as client:
        listed = {m["name"]: m for m in client.get("/api/catalog").json()["models"]}
        assert listed["magenta:bird"] == {"name": "magenta:bird", "draws": "bird", "cached": False, "loaded": False}
        assert client.get("/api/catalog/magenta:bird").status_code == 404  # not being fetched yet
        assert client.post("/api/catalog/magenta:nope").status_code == 422
        assert client.post("/api/catalog/magenta:bird").status_code == 202
        deadline = time.monotonic() + 60
        while (progress := client.get("/api/catalog/magenta:bird").json())["state"] not in ("ready", "failed"):
            assert time.monotonic() < deadline, progress
            time.sleep(0.05)
        assert progress["state"] == "ready", progress
        assert progress["bytes"] == progress["total"] == (SHARED / "bird.gen.json").stat().st_size
        served = {m["name"]: m for m in client.get("/api/models").json()["models"]}
        assert served["magenta:bird"]["group"] == "cache"
        assert served["magenta:bird"]["description"] == "magenta:bird - draws bird; continues your drawing"
        assert {m["name"]: m for m in client.get("/api/catalog").json()["models"]}["magenta:bird"]["loaded"]
        house = [[150, 250, 0], [0, 150, 0], [200, 0, 0], [0, -150, 0], [-200, 0, 1]]
        answer = client.post("/api/complete", json={"model": "magenta:bird", "drawing": house, "n": 2, "seed": 0})
        assert answer.status_code == 200 and len(answer.json()["drawings"]) == 2
