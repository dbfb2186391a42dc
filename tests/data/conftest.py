"""A loopback HTTP server for download tests: serves a folder like the upstream hosts do (Range requests too)."""

import functools
import http.server
import threading
from pathlib import Path

import pytest


class RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files with Range support and logs requests; `truncate_to` cuts bodies short (a dropped connection).

    Each server gets its own subclass, so `requests` and `truncate_to` belong to that server alone.
    """

    truncate_to: int | None = None
    requests: list[dict] = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        path = Path(self.translate_path(self.path))
        type(self).requests.append({"path": self.path, "range": self.headers.get("Range")})
        if not path.is_file():
            self.send_error(404, "not found")
            return
        data = path.read_bytes()
        start = int(self.headers["Range"].split("=")[1].split("-")[0]) if self.headers.get("Range") else 0
        if start >= len(data) and start:
            self.send_error(416, "range not satisfiable")
            return
        body = data[start:]
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        limit = self.truncate_to if self.truncate_to is not None else len(body)
        self.wfile.write(body[:limit])


@pytest.fixture()
def serve_dir():
    """`serve_dir(root) -> (url, handler)`: serve `root` on 127.0.0.1 until the test ends.

    `handler.requests` lists the requests the server answered (`path`, `range`); set `handler.truncate_to` to cut
    response bodies short.
    """
    servers = []

    def start(root: Path):
        handler = type("Handler", (RangeHandler,), {"requests": [], "truncate_to": None})
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(root)))
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}", handler

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()
