"""Serving the studio safely (issue 18): only loopback Host names unless the server is opened to the network."""

from __future__ import annotations

import asyncio

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from sketchlab.web import create_app

DRAWING = [[100, 100, 0], [40, 0, 0], [0, 40, 1]]


@pytest.fixture(scope="module")
def app(models):
    return create_app(models)


@pytest.mark.parametrize("host", ["localhost", "localhost:8765", "127.0.0.1", "127.0.0.1:8765", "[::1]:8765"])
def test_loopback_host_names_are_served(app, host):
    with TestClient(app, base_url=f"http://{host}") as client:
        assert client.get("/api/models").status_code == 200
        assert client.post("/api/sample", json={"n": 1, "seed": 0}).status_code == 200


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8765", "localhost.evil.example", "127.0.0.1.nip.io",
                                  "192.168.1.20:8765", "0.0.0.0:8765", "testserver"])
def test_other_host_names_get_400(app, host):
    """A page whose domain was re-pointed at 127.0.0.1 (DNS rebinding) sends its own name as the Host."""
    with TestClient(app, base_url=f"http://{host}") as client:
        for response in (client.get("/"), client.get("/api/models"), client.get("/static/studio.css"),
                         client.post("/api/complete", json={"drawing": DRAWING})):
            assert response.status_code == 400, response.text
            assert host in response.json()["detail"] and "--host" in response.json()["detail"]


def test_a_missing_host_header_gets_400(app):
    """An HTTP/1.0 request may leave Host out (TestClient always sends one: the app is called directly)."""
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.0", "method": "GET", "scheme": "http",
             "path": "/api/models", "raw_path": b"/api/models", "query_string": b"", "headers": [], "root_path": "",
             "server": ("127.0.0.1", 8765), "client": ("127.0.0.1", 50000)}
    asyncio.run(app(scope, receive, send))
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 400


def test_a_websocket_from_another_host_is_closed(app):
    with TestClient(app, base_url="http://evil.example") as client:
        with pytest.raises(WebSocketDisconnect) as closed:
            with client.websocket_connect("/api/anything"):
                pass
    assert closed.value.code == 1008  # policy violation


def test_a_server_opened_to_the_network_answers_any_host(models):
    with TestClient(create_app(models, any_host=True), base_url="http://studio.example:8765") as client:
        assert client.get("/api/models").status_code == 200


def test_serve_opens_the_host_check_only_with_a_non_loopback_host(model_dirs, monkeypatch):
    import uvicorn

    from sketchlab.web import serve

    served = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, host, port, **kw: served.update({host: app}))
    for host in ("127.0.0.1", "0.0.0.0"):
        serve([str(model_dirs["decoder"])], host=host, port=8765, log_level="warning")
    for host, status in (("127.0.0.1", 400), ("0.0.0.0", 200)):
        with TestClient(served[host], base_url="http://studio.example") as client:
            assert client.get("/api/models").status_code == status
