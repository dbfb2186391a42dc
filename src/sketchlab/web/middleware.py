"""What the studio does around every request: the loopback Host check, the body size limit, error bodies without
echoed input, the security headers of the page and its files."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from fastapi.responses import JSONResponse
from starlette.websockets import WebSocketClose

from sketchlab.web.schemas import MAX_BODY_BYTES

MAX_ERRORS_SHOWN = 20


MAX_HOST_SHOWN = 100  # characters of a refused Host header quoted back


def is_loopback(host: str) -> bool:
    """Whether a host name or address is this machine's loopback: localhost, 127.x.x.x or ::1."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


HOST_HEADER = re.compile(r"(?:\[(?P<ipv6>[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*)\]|(?P<name>[^:\[\]]+))(?::\d{1,5})?")


def loopback_host_header(value: str) -> bool:
    """Whether a Host header names the loopback interface: `localhost`, `127.0.0.1` or `[::1]`, with any port."""
    match = HOST_HEADER.fullmatch(value)
    return bool(match) and is_loopback(match["ipv6"] or match["name"])


class LoopbackHostOnly:
    """ASGI middleware: a request whose Host header is not a loopback name gets 400 (a WebSocket is closed).

    Against DNS rebinding: a web page whose domain is pointed at 127.0.0.1 after it has loaded could otherwise drive
    the studio's API from the user's own browser, as the same origin. A server opened to the network
    (`serve --host`) does not use it.
    """

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        host = dict(scope.get("headers") or []).get(b"host", b"").decode("latin-1")
        if loopback_host_header(host):
            return await self.app(scope, receive, send)
        if scope["type"] == "websocket":
            return await WebSocketClose(code=1008)(scope, receive, send)
        shown = host if len(host) <= MAX_HOST_SHOWN else host[:MAX_HOST_SHOWN] + "..."
        detail = (f"Host {shown!r} is not this machine: the studio answers to localhost, 127.0.0.1 and [::1] only "
                  "(sketchlab serve --host opens it to other names)")
        await JSONResponse({"detail": detail}, status_code=400)(scope, receive, send)


class BodyLimit:
    """ASGI middleware: a request body over `limit` bytes is answered 413 before anything parses it.

    The body (small by then) is read here and handed on whole, so the limit holds without a Content-Length too.
    """

    def __init__(self, app, limit: int = MAX_BODY_BYTES) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            return await self._refuse(scope, receive, send)
        chunks, seen = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return None
            chunks.append(message.get("body", b""))
            seen += len(chunks[-1])
            if seen > self.limit:
                return await self._refuse(scope, receive, send)
            if not message.get("more_body", False):
                break
        body, delivered = b"".join(chunks), False

        async def replay():
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope, receive, send):
        response = JSONResponse({"detail": f"request body too large: at most {self.limit} bytes"}, status_code=413)
        await response(scope, receive, send)


def error_list(errors) -> list[dict[str, Any]]:
    """Pydantic's errors without their `input` (it can be huge, or hold NaN, which JSON cannot carry)."""
    shown = []
    for e in list(errors)[:MAX_ERRORS_SHOWN]:
        shown.append({"loc": [str(part) for part in e.get("loc", ())], "msg": str(e.get("msg", "")),
                      "type": str(e.get("type", ""))})
    return shown


SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; "
                               "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
