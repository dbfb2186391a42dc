"""A loopback HTTP server for download tests: serves a folder like the upstream hosts do (Range requests too)."""

import functools
import http.server
import threading
from pathlib import Path

import pytest


class RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files with Range support (206 with its Content-Range, 416 with `bytes */N`) and logs requests.

    Misbehaviours a test can switch on: `truncate_to` cuts bodies short (a dropped connection), `whole_on_resume`
    answers a Range request with the whole file and a Content-Range that says so, `endless` streams zeros for ever
    without a length, `md5` sends that base64 MD5 as Google Cloud Storage's `X-Goog-Hash`.
    Each server gets its own subclass, so these settings and `requests` belong to that server alone.
    """

    truncate_to: int | None = None
    whole_on_resume = False
    endless = False
    md5: str | None = None
    requests: list[dict] = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        path = Path(self.translate_path(self.path))
        type(self).requests.append({"path": self.path, "range": self.headers.get("Range")})
        if self.endless:
            self._send_endless()
            return
        if not path.is_file():
            self.send_error(404, "not found")
            return
        data = path.read_bytes()
        start = int(self.headers["Range"].split("=")[1].split("-")[0]) if self.headers.get("Range") else 0
        if start >= len(data) and start:
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{len(data)}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.whole_on_resume:
            start = 0
        body = data[start:]
        self.send_response(206 if self.headers.get("Range") else 200)
        if self.headers.get("Range"):
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        if self.md5 is not None:
            self.send_header("X-Goog-Hash", f"crc32c=AAAAAA==,md5={self.md5}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        limit = self.truncate_to if self.truncate_to is not None else len(body)
        self.wfile.write(body[:limit])

    def _send_endless(self):
        self.send_response(200)
        self.send_header("Connection", "close")
        self.end_headers()
        try:
            while True:
                self.wfile.write(bytes(1 << 16))
        except OSError:  # the client hung up
            pass


@pytest.fixture()
def serve_dir():
    """`serve_dir(root) -> (url, handler)`: serve `root` on 127.0.0.1 until the test ends.

    `handler.requests` lists the requests the server answered (`path`, `range`); set `handler.truncate_to`,
    `whole_on_resume`, `endless` or `md5` to misbehave (see RangeHandler).
    """
    servers = []

    def start(root: Path):
        handler = type("Handler", (RangeHandler,), {"requests": []})
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(root)))
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}", handler

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()
