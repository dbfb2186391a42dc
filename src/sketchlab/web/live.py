"""Live continuation: the model continues the user's drawing and its points reach the page as they are drawn.

`POST /api/continue` takes what `/api/complete` takes (n defaults to 1) and answers with server-sent events
(`text/event-stream`, read by the page with fetch: EventSource cannot POST):

- `start`  {"model", "n", "temperature", "scale", "prefix_rows", "dropped_strokes"}: the drawing as the model reads it;
- `points` {"rows": [[candidate, dx, dy, pen], ...]}: new points in drawing order, offsets in canvas pixels from the
  candidate's previous point (its first from the drawing's last point), pen 1 lifting the pen after the point; the
  row `[candidate, 0, 0, 2]` says that candidate has finished;
- `end`    {"steps"}: every candidate has finished (or reached the model's length);
- `error`  {"detail"}: the continuation failed after it started.

Why a stream rather than one answer (measured on the 2-core machine with the zoo models, docs/studio.md): a whole
4-candidate completion takes 0.05-0.6 s under load, but the first step comes a few milliseconds after the model has
read the drawing, and the page's budget is 150 ms from pen-up to the first model point on screen. Points are sent
at once for the first step, then in chunks every `FLUSH_S`; the page paces the drawing itself. When the client goes
away (the page aborts the request as soon as the user draws again), decoding stops at the model's next step.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time

import numpy as np
import torch
from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse

from sketchlab import sampling
from sketchlab.errors import SketchlabError
from sketchlab.web.placement import MAX_OUTPUT_COORD, completion_prefix
from sketchlab.web.registry import ModelEntry, ModelRegistry
from sketchlab.web.scheduling import Job, Scheduler
from sketchlab.web.schemas import ContinueRequest

log = logging.getLogger("sketchlab")

FLUSH_S = 0.02  # new points wait at most this long before they are sent
FINISHED = 2  # the pen value of the row that says a candidate has finished


class _Gone(Exception):
    """The client went away: stop decoding."""


def event(name: str, data: dict) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


class Relay:
    """Carries one continuation's events from the decoding thread to the response's event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.gone = threading.Event()
        self.pending: list[list[float]] = []
        self.flushed_at = 0.0
        self.pixels_per_unit = 1.0  # normalised model units -> canvas pixels

    def send(self, item: bytes | None) -> None:
        self.loop.call_soon_threadsafe(self.queue.put_nowait, item)

    def continue_drawing(self, entry: ModelEntry, body: ContinueRequest) -> None:
        """Read the drawing, then decode, sending the points as they come (runs in the model's worker thread)."""
        units_per_pixel = entry.units_per_pixel(body.canvas_size)
        prefix, placement = completion_prefix(body.drawing, units_per_pixel, entry.model.config.max_seq_len,
                                              body.canvas_size)
        self.pixels_per_unit = float(entry.model.config.scale_factor) / units_per_pixel
        self.send(event("start", {"model": entry.name, "n": body.n, "temperature": body.temperature,
                                  "scale": placement.scale, "prefix_rows": len(prefix),
                                  "dropped_strokes": placement.dropped_strokes}))
        paper = placement.paper(body.canvas_size) if body.stay_on_paper else None
        tails = sampling.complete(entry.model, prefix, body.n, body.temperature, body.seed, paper=paper,
                                  on_step=self.hear)
        self.flush()
        self.send(event("end", {"steps": max(len(d) for d in tails) - len(prefix)}))

    def hear(self, step: int, active: torch.Tensor, rows: torch.Tensor) -> None:
        if self.gone.is_set():
            raise _Gone
        rows = rows.cpu().numpy().astype(np.float64)
        xy = np.clip(np.nan_to_num(rows[:, :2] * self.pixels_per_unit), -MAX_OUTPUT_COORD, MAX_OUTPUT_COORD)
        pen = np.where(rows[:, 4] > 0.5, FINISHED, rows[:, 3] > 0.5)
        xy[pen == FINISHED] = 0.0
        self.pending += [[i, round(x, 2), round(y, 2), int(p)]
                         for i, (x, y), p in zip(active.tolist(), xy.tolist(), pen.tolist())]
        if step == 0 or time.perf_counter() - self.flushed_at >= FLUSH_S:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self.send(event("points", {"rows": self.pending}))
            self.pending = []
        self.flushed_at = time.perf_counter()


def continuation_job(relay: Relay, body: ContinueRequest) -> Job:
    """The continuation as a scheduler job (never batched: its points stream to one client)."""

    def work(entry: ModelEntry, n: int) -> None:
        try:
            relay.continue_drawing(entry, body)
        except _Gone:
            pass
        except SketchlabError as error:
            relay.send(event("error", {"detail": str(error)}))
        except Exception:  # noqa: BLE001 - the stream has started: say it failed instead of cutting it
            log.exception("live continuation failed")
            relay.send(event("error", {"detail": "the model failed to continue the drawing (see the server log)"}))
        finally:
            relay.send(None)

    return Job(work, body.n)


async def stream(ticket: Ticket, relay: Relay):
    """The continuation's events as the model draws. When the consumer stops reading, a job still queued leaves
    the queue and a running one stops at its next step."""
    task = asyncio.ensure_future(ticket.result())
    try:
        while (chunk := await relay.queue.get()) is not None:
            yield chunk
    finally:
        relay.gone.set()
        task.cancel()


def add_live_routes(app: FastAPI, registry: ModelRegistry, errors: dict) -> None:
    @app.post("/api/continue", tags=["api"], response_class=StreamingResponse, responses={
        **errors, 200: {"content": {"text/event-stream": {}}, "description": "server-sent events (module docs)"},
        503: {"description": "the model is busy: retry after the Retry-After header's seconds"}})
    async def continue_drawing(body: ContinueRequest, request: Request) -> StreamingResponse:
        """Continue the drawing `n` ways, streaming the model's points as they are drawn (server-sent events:
        `start`, `points` [[candidate, dx, dy, pen], ...] in canvas pixels, `end`, or `error`)."""
        entry = registry.get(body.model)
        relay = Relay(asyncio.get_running_loop())
        ticket = request.app.state.scheduler.submit(entry, continuation_job(relay, body))  # QueueFull: 503
        return StreamingResponse(stream(ticket, relay), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
