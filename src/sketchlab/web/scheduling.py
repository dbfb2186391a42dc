"""How a request waits for its model and runs on it: the one place the studio decides when inference happens.

A bounded queue per model, batches of compatible requests, and no work for clients that have gone.

Each model has its own queue and at most one worker thread, started when a job arrives and ended when the queue is
empty; the worker runs one batch at a time with the model's lock held. A request waits for its answer on the event
loop (an awaitable future), not in a thread, so a flood of requests to one model holds no threads and leaves other
models, and endpoints that need no model, to answer at once.

- Bounded: a model with `queue_limit` requests waiting refuses more with `QueueFull` (the app answers 503 with a
  Retry-After estimated from the model's recent batch times).
- Clients that hang up: while a request waits, the scheduler listens for its client's `http.disconnect`; a request
  whose client has gone leaves the queue at once, so it is never computed and frees its place.
- Batches: jobs with the same `key` run together. With a `split`, the group runs once for the sum of their `n` (up to
  `max_batch` drawings) and each job gets its slice of the result; without one, identical jobs share one result.
  `drawing_job` builds the key from a request body: unseeded requests with the same settings are batched (their
  drawings are independent draws either way), a seeded request only shares the result of an identical request (a
  seed promises the same drawings for the same request, and a batch would draw its random numbers differently).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import itertools
import math
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from starlette.requests import Request

R = TypeVar("R")

# Weight of the newest batch in the running mean of seconds per batch (the Retry-After estimate).
RECENT_WEIGHT = 0.3


@dataclasses.dataclass(frozen=True)
class SchedulerConfig:
    queue_limit: int = 32  # requests waiting per model (the batch running is not counted)
    max_batch: int = 64  # drawings one merged batch decodes at most


class QueueFull(Exception):
    """A model's queue is at its bound (the app answers 503 with Retry-After)."""

    def __init__(self, model: str, waiting: int, retry_after: int) -> None:
        super().__init__(f"model {model!r} is busy: {waiting} requests are waiting; retry in {retry_after} s")
        self.retry_after = retry_after


class ClientGone(Exception):
    """The client hung up before its request ran: nothing was computed for it."""


@dataclasses.dataclass(frozen=True)
class Job(Generic[R]):
    """One request's work: `work(entry, n)` with the model's entry, for `n` drawings (see the module docstring for
    `key` and `split`)."""

    work: Callable[[Any, int], R]
    n: int = 1
    key: Hashable | None = None
    split: Callable[[R, int, int], R] | None = None


@dataclasses.dataclass
class _Waiting:
    job: Job
    future: concurrent.futures.Future


def split_drawings(result: tuple, start: int, stop: int) -> tuple:
    """The slice [start, stop) of a result whose first item is the list of drawings (the rest is shared)."""
    return (result[0][start:stop], *result[1:])


def drawing_job(kind: str, body: BaseModel, work: Callable[[Any, int], tuple]) -> Job:
    """A job for a request body (see the module docstring); `work(entry, n)` returns (drawings, *shared), n being
    the body's `n` (1 for a body without one, whose work ignores it)."""
    n, seed = getattr(body, "n", 1), getattr(body, "seed", None)
    ignored = {"model"}  # the queue is the model's: `model` (a name, or None for the default) does not matter
    if seed is not None:
        return Job(work, n, (kind, body.model_dump_json(exclude=ignored)))
    if hasattr(body, "n"):
        return Job(work, n, (kind, body.model_dump_json(exclude=ignored | {"n"})), split_drawings)
    return Job(work, n)


class ModelQueue:
    """The jobs waiting for one model (`entry` has `name` and `lock`) and the thread that runs them."""

    def __init__(self, entry: Any, config: SchedulerConfig) -> None:
        self.entry, self.config = entry, config
        self._waiting: deque[_Waiting] = deque()
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None
        self._seconds_per_batch = 1.0

    def waiting(self) -> int:
        with self._lock:
            return len(self._waiting)

    def submit(self, job: Job) -> concurrent.futures.Future:
        """Queue `job`; its future gets the result. QueueFull when `queue_limit` jobs are waiting."""
        with self._lock:
            if len(self._waiting) >= self.config.queue_limit:
                retry = max(1, math.ceil(self._seconds_per_batch * (1 + self._batches_ahead())))
                raise QueueFull(self.entry.name, len(self._waiting), retry)
            waiting = _Waiting(job, concurrent.futures.Future())
            self._waiting.append(waiting)
            if self._worker is None:
                self._worker = threading.Thread(target=self._run, name=f"sketchlab-{self.entry.name}", daemon=True)
                self._worker.start()
        return waiting.future

    def _batches_ahead(self) -> int:
        """How many batches the waiting jobs make (call with the queue's lock held)."""
        drawings: dict[Hashable, int] = {}
        alone = 0
        for waiting in self._waiting:
            job = waiting.job
            if job.key is None:
                alone += 1
            else:
                drawings[job.key] = drawings.get(job.key, 0) + (job.n if job.split else 0)
        return alone + sum(max(1, math.ceil(n / self.config.max_batch)) for n in drawings.values())

    def withdraw(self, future: concurrent.futures.Future) -> None:
        """Take a job out of the queue before it runs (a job already running finishes; its result is dropped)."""
        with self._lock:
            for waiting in self._waiting:
                if waiting.future is future:
                    self._waiting.remove(waiting)
                    future.cancel()
                    return

    def _run(self) -> None:
        while True:
            with self._lock:
                batch = self._take_batch()
                if not batch:
                    self._worker = None
                    return
            self._execute(batch)

    def _take_batch(self) -> list[_Waiting]:
        """The first waiting job and those that can run with it (call with the queue's lock held)."""
        while self._waiting:
            first = self._waiting.popleft()
            if first.future.set_running_or_notify_cancel():
                break
        else:
            return []
        batch, total = [first], first.job.n
        if first.job.key is None:
            return batch
        for waiting in list(self._waiting):
            job = waiting.job
            if job.key != first.job.key or (job.split and total + job.n > self.config.max_batch):
                continue
            self._waiting.remove(waiting)
            if waiting.future.set_running_or_notify_cancel():
                batch.append(waiting)
                total += job.n
        return batch

    def _execute(self, batch: Sequence[_Waiting]) -> None:
        """Run a batch and hand each job its answer, or the error to all (the worker must outlive any error)."""
        started = time.monotonic()
        try:
            with self.entry.lock:
                answers = _answers([w.job for w in batch], self.entry)
        except BaseException as error:  # noqa: BLE001 - handed to every request of the batch, raised there
            for waiting in batch:
                waiting.future.set_exception(error)
            return
        finally:
            seconds = time.monotonic() - started
            self._seconds_per_batch += RECENT_WEIGHT * (seconds - self._seconds_per_batch)
        for waiting, answer in zip(batch, answers):
            waiting.future.set_result(answer)


def _answers(jobs: Sequence[Job], entry: Any) -> list:
    """Each job's answer from one run of the first job's work: slices of it (split), or all of it (shared)."""
    first = jobs[0]
    if not first.split:
        result = first.work(entry, first.n)
        return [result] * len(jobs)
    result = first.work(entry, sum(job.n for job in jobs))
    ends = itertools.accumulate(job.n for job in jobs)
    return [first.split(result, end - job.n, end) for job, end in zip(jobs, ends)]


class Scheduler:
    """The studio's queues, one per model, created on first use."""

    def __init__(self, config: SchedulerConfig | None = None) -> None:
        self.config = config or SchedulerConfig()
        self._queues: dict[str, ModelQueue] = {}
        self._lock = threading.Lock()

    def queue(self, entry: Any) -> ModelQueue:
        with self._lock:
            if entry.name not in self._queues:
                self._queues[entry.name] = ModelQueue(entry, self.config)
            return self._queues[entry.name]

    def submit(self, entry: Any, job: Job[R]) -> Ticket[R]:
        """Queue the job on its model's queue at once (QueueFull when that queue is full)."""
        queue = self.queue(entry)
        return Ticket(queue, queue.submit(job))

    async def run(self, request: Request, entry: Any, job: Job[R]) -> R:
        """The job's result, computed by the model's worker; QueueFull when the model's queue is full, ClientGone
        when the request's client hangs up first (the job then leaves the queue without running)."""
        return await self.submit(entry, job).result(lambda: _client_gone(request))


class Ticket(Generic[R]):
    """A queued job: await `result()` for its result."""

    def __init__(self, queue: ModelQueue, future: concurrent.futures.Future) -> None:
        self._queue, self._future = queue, future

    async def result(self, client_gone: Callable[[], Awaitable[Any]] | None = None) -> R:
        """The job's result. `client_gone()`, if given, is awaited beside it: should it return first, the job
        leaves the queue and ClientGone is raised. Cancelling this coroutine also takes the job out of the queue.
        (A job that has started runs to its end; its work can watch a flag of its own to stop early.)"""
        result = asyncio.wrap_future(self._future)
        gone = asyncio.ensure_future(client_gone() if client_gone else asyncio.Event().wait())
        try:
            done, _ = await asyncio.wait({result, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            gone.cancel()
            if not self._future.done():
                self.withdraw()
        if result not in done:
            result.cancel()  # a job already running finishes in its thread; nobody reads its result
            raise ClientGone()
        return result.result()

    def withdraw(self) -> None:
        """Take the job out of the queue if it has not started."""
        self._queue.withdraw(self._future)


async def _client_gone(request: Request) -> None:
    """Returns when the client disconnects (the request's body has been read by then: nothing else can arrive)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass
