"""What the studio does around every request: the body size limit, error bodies without echoed input, the
security headers of the page and its files."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

from sketchlab.web.schemas import MAX_BODY_BYTES

MAX_ERRORS_SHOWN = 20


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
