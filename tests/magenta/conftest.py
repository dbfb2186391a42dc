import functools
import http.server
import threading

import pytest


class CountingHandler(http.server.SimpleHTTPRequestHandler):
    """Serves a folder as the published bucket does, counting the requests it answers."""

    requests: list[str] = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        type(self).requests.append(self.path)
        super().do_GET()


@pytest.fixture()
def mirror(monkeypatch, tmp_path):
    """`mirror(folder) -> handler`: serve `folder` on loopback as $SKETCHLAB_MAGENTA_MODELS_URL, with an empty
    $SKETCHLAB_CACHE, until the test ends; `handler.requests` lists the paths asked for."""
    servers = []
    monkeypatch.setenv("SKETCHLAB_CACHE", str(tmp_path / "cache"))

    def start(folder):
        handler = type("Handler", (CountingHandler,), {"requests": []})
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(folder)))
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        monkeypatch.setenv("SKETCHLAB_MAGENTA_MODELS_URL", f"http://127.0.0.1:{server.server_address[1]}/")
        return handler

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()
