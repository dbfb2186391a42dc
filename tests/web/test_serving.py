"""Serving the studio (issue 18): only loopback Host names unless the server is opened to the network; under a flood
of requests to one model, a bounded queue, batches, no work for clients that hung up, other endpoints still answer."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from sketchlab import sampling
from sketchlab.web import create_app
from sketchlab.web.scheduling import SchedulerConfig

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


# ------------------------------------------------------------------------------------------------ under load

QUEUE_LIMIT = 20


class Gate:
    """Wraps sampling.complete: records each call's n and holds every call until the gate opens (the model is
    'busy' for as long as the test wants, whatever the machine's speed)."""

    def __init__(self, complete) -> None:
        self.complete, self.calls, self.opened = complete, [], threading.Event()

    def __call__(self, model, prefix, n, *args, **kwargs):
        self.calls.append(n)
        assert self.opened.wait(60), "the test never opened the gate"
        return self.complete(model, prefix, n, *args, **kwargs)


@contextlib.contextmanager
def serving(app):
    """The app under uvicorn in a thread, on a free loopback port."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(30)


async def until(condition, what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


@pytest.fixture
def flooded(models, monkeypatch):
    """A served studio whose model 'tiny' completes only when the test opens the gate."""
    gate = Gate(sampling.complete)
    monkeypatch.setattr(sampling, "complete", gate)
    app = create_app(models, scheduling=SchedulerConfig(queue_limit=QUEUE_LIMIT))
    with serving(app) as url:
        yield url, gate, app.state.scheduler.queue(app.state.registry.get("tiny"))


def complete(client: httpx.AsyncClient, **kwargs):
    kwargs.setdefault("json", {"model": "tiny", "drawing": DRAWING, "n": 2})
    return client.post("/api/complete", **kwargs)


def studio_client(url: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=url, timeout=60, limits=httpx.Limits(max_connections=200))


async def occupy_the_model(client: httpx.AsyncClient, gate: Gate) -> asyncio.Future:
    """Send a completion and wait until it holds the model (held at the gate): later requests queue up behind it."""
    busy = asyncio.ensure_future(complete(client))
    await until(lambda: gate.calls, "the first completion to reach the model")
    return busy


def test_a_flood_of_one_model_is_bounded_batched_and_leaves_other_endpoints_answering(flooded):
    url, gate, queue = flooded

    async def scenario():
        async with studio_client(url) as client:
            first = await occupy_the_model(client, gate)
            threads = threading.active_count()
            flood = [asyncio.ensure_future(complete(client)) for _ in range(59)]
            await until(lambda: queue.waiting() == QUEUE_LIMIT and sum(f.done() for f in flood) == 59 - QUEUE_LIMIT,
                        "the queue to fill and the rest to be refused")
            assert threading.active_count() <= threads + 1  # waiting requests hold no threads
            others = [await client.get("/api/models"),
                      await client.post("/api/render", json={"drawings": [DRAWING], "format": "png", "size": 64}),
                      await client.post("/api/sample", json={"model": "decoder", "n": 2, "seed": 0})]
            answered_meanwhile = sum(f.done() and f.result().status_code == 200 for f in [first, *flood])
            gate.opened.set()
            return others, answered_meanwhile, await first, await asyncio.gather(*flood)

    others, answered_meanwhile, first, flood = asyncio.run(scenario())
    assert [r.status_code for r in others] == [200, 200, 200]
    assert answered_meanwhile == 0  # the other endpoints answered while the whole flood was still waiting
    refused = [r for r in flood if r.status_code == 503]
    assert len(refused) == 59 - QUEUE_LIMIT
    assert all(int(r.headers["retry-after"]) >= 1 and "busy" in r.json()["detail"] for r in refused)
    served = [first, *(r for r in flood if r.status_code == 200)]
    assert len(served) == 1 + QUEUE_LIMIT and all(len(r.json()["drawings"]) == 2 for r in served)
    assert gate.calls == [2, 2 * QUEUE_LIMIT]  # the queued requests ran as one batch


def test_requests_whose_clients_hung_up_are_never_computed(flooded):
    url, gate, queue = flooded

    async def scenario():
        async with studio_client(url) as client:
            busy = await occupy_the_model(client, gate)
            impatient = [complete(client, timeout=0.5) for _ in range(QUEUE_LIMIT)]
            results = await asyncio.gather(*impatient, return_exceptions=True)
            assert all(isinstance(r, httpx.TimeoutException) for r in results)
            await until(lambda: queue.waiting() == 0, "the server to drop the abandoned requests")
            gate.opened.set()
            assert (await busy).status_code == 200
            return await complete(client)

    after = asyncio.run(scenario())
    assert after.status_code == 200
    assert gate.calls == [2, 2]  # the busy request and the one after: none of the abandoned ones


def test_a_seeded_request_gets_the_drawings_it_gets_alone_and_unseeded_ones_share_a_batch(flooded):
    """A seed promises the same drawings for the same request, so seeded requests are not merged with others
    (identical ones share one result); unseeded ones with the same settings are, each getting drawings of its own."""
    url, gate, queue = flooded

    async def scenario():
        async with studio_client(url) as client:
            busy = await occupy_the_model(client, gate)
            seeded = [asyncio.ensure_future(complete(client, json={"model": "tiny", "drawing": DRAWING, "n": 2,
                                                                   "seed": seed})) for seed in (5, 5, 5, 6)]
            unseeded = [asyncio.ensure_future(complete(client)) for _ in range(2)]
            await until(lambda: queue.waiting() == 6, "the requests to queue up")
            gate.opened.set()
            await busy
            answers = [(await f).json()["drawings"] for f in seeded + unseeded]
            alone = (await complete(client, json={"model": "tiny", "drawing": DRAWING, "n": 2, "seed": 5}))
            return answers, alone.json()["drawings"]

    (five, five_again, five_third, six, free_a, free_b), alone = asyncio.run(scenario())
    assert five == five_again == five_third == alone and six != five
    assert free_a != free_b
    assert gate.calls == [2, 2, 2, 4, 2]  # busy; seed 5 once for three requests; seed 6; the unseeded pair; alone
