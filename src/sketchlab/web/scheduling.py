"""How a request waits for its model and runs on it: the one place the studio decides when inference happens.

Inference runs in a worker thread (never on the event loop, so other requests are answered meanwhile), one request
per model at a time (the model entry's lock).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from starlette.concurrency import run_in_threadpool

from sketchlab.web.registry import ModelEntry

T = TypeVar("T")


async def run_on_model(entry: ModelEntry, work: Callable[[ModelEntry], T]) -> T:
    """Run `work(entry)` in a worker thread, one request at a time per model."""

    def locked() -> T:
        with entry.lock:
            return work(entry)

    return await run_in_threadpool(locked)
