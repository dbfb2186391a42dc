"""The studio's inference scheduler on its own: bounds, batches, withdrawn jobs, errors (no server, no model)."""

from __future__ import annotations

import dataclasses
import math
import threading

import pytest
from pydantic import BaseModel

from sketchlab.web.scheduling import Job, ModelQueue, QueueFull, SchedulerConfig, drawing_job

WAIT = 30  # seconds a test waits for a result at most (a worker that never answers fails the test, not hangs it)


@dataclasses.dataclass
class FakeEntry:
    name: str = "m"
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)


class Counted:
    """work(entry, n) that records each call's n and returns n numbered drawings, numbered across calls."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def __call__(self, entry, n: int) -> tuple[list[int], str]:
        first = sum(self.calls)
        self.calls.append(n)
        return list(range(first, first + n)), "shared"


class Body(BaseModel):
    model: str | None = None
    n: int = 1
    temperature: float = 0.5
    seed: int | None = None


def drained(queue: ModelQueue) -> None:
    while queue.waiting():
        threading.Event().wait(0.01)


def held_queue(limit: int = 8, max_batch: int = 64) -> tuple[ModelQueue, FakeEntry]:
    """A queue whose worker is busy with a first job (the model's lock is held by the test), so that jobs pile up
    behind it; releasing `entry.lock` lets them run."""
    entry = FakeEntry()
    entry.lock.acquire()
    queue = ModelQueue(entry, SchedulerConfig(queue_limit=limit, max_batch=max_batch))
    queue.submit(Job(lambda entry, n: None))
    drained(queue)  # the worker has taken that job and waits for the lock
    return queue, entry


def test_unseeded_jobs_with_the_same_settings_run_as_one_batch_and_each_gets_its_slice():
    queue, entry = held_queue()
    work = Counted()
    others = [queue.submit(drawing_job("sample", Body(n=n, model=model), work))
              for n, model in ((2, None), (3, "m"), (1, None))]  # the model's name or the default: the same model
    odd = queue.submit(drawing_job("sample", Body(n=2, temperature=0.9), work))  # other settings: a batch of its own
    entry.lock.release()
    assert [f.result(WAIT) for f in others] == [([0, 1], "shared"), ([2, 3, 4], "shared"), ([5], "shared")]
    assert odd.result(WAIT) == ([6, 7], "shared")
    assert work.calls == [6, 2]


def test_a_batch_stops_at_max_batch_drawings():
    queue, entry = held_queue(max_batch=5)
    work = Counted()
    futures = [queue.submit(drawing_job("sample", Body(n=2), work)) for _ in range(5)]
    entry.lock.release()
    for f in futures:
        f.result(WAIT)
    assert work.calls == [4, 4, 2]  # batches of at most 5 drawings


def test_seeded_jobs_share_only_identical_requests():
    queue, entry = held_queue()
    work = Counted()
    same = [queue.submit(drawing_job("sample", Body(n=2, seed=7), work)) for _ in range(3)]
    other_n = queue.submit(drawing_job("sample", Body(n=3, seed=7), work))
    entry.lock.release()
    results = [f.result(WAIT) for f in same]
    assert results[0] == results[1] == results[2] and len(results[0][0]) == 2
    assert len(other_n.result(WAIT)[0]) == 3
    assert work.calls == [2, 3]  # the three identical requests were computed once


def test_jobs_without_a_key_run_one_by_one():
    queue, entry = held_queue()
    work = Counted()
    futures = [queue.submit(Job(work, n)) for n in (1, 2, 3)]
    entry.lock.release()
    assert [len(f.result(WAIT)[0]) for f in futures] == [1, 2, 3]
    assert work.calls == [1, 2, 3]


def test_a_full_queue_refuses_with_a_retry_time():
    queue, entry = held_queue(limit=3)
    work = Counted()
    waiting = [queue.submit(Job(work)) for _ in range(3)]
    with pytest.raises(QueueFull, match="3 requests are waiting") as refused:
        queue.submit(Job(work))
    assert refused.value.retry_after == 4  # the running batch and three more, at the first guess of 1 s each
    entry.lock.release()
    for f in waiting:
        f.result(WAIT)
    queue.submit(Job(work)).result(WAIT)  # room again once the queue drains
    assert work.calls == [1] * 4


def test_retry_after_counts_the_batches_ahead_from_the_recent_batch_time():
    queue, entry = held_queue(limit=6, max_batch=4)
    queue._seconds_per_batch = 2.5
    for _ in range(3):  # 6 drawings of one batch key: two batches of at most 4
        queue.submit(drawing_job("sample", Body(n=2), Counted()))
    for _ in range(2):  # identical seeded requests: one shared batch
        queue.submit(drawing_job("sample", Body(n=3, seed=1), Counted()))
    queue.submit(Job(Counted()))  # a batch of its own
    with pytest.raises(QueueFull) as refused:
        queue.submit(Job(Counted()))
    assert refused.value.retry_after == math.ceil(2.5 * (1 + 2 + 1 + 1))
    entry.lock.release()


def test_a_withdrawn_job_never_runs_and_frees_its_place():
    queue, entry = held_queue(limit=2)
    work = Counted()
    gone = queue.submit(Job(work, 5))
    kept = queue.submit(Job(work, 2))
    queue.withdraw(gone)
    assert gone.cancelled() and queue.waiting() == 1
    last = queue.submit(Job(work, 3))  # the freed place
    entry.lock.release()
    assert len(kept.result(WAIT)[0]) == 2 and len(last.result(WAIT)[0]) == 3
    assert work.calls == [2, 3]


def test_an_error_reaches_every_request_of_the_batch_and_the_queue_goes_on():
    queue, entry = held_queue()

    def broken(entry, n):
        raise ValueError("no drawing today")

    futures = [queue.submit(drawing_job("sample", Body(n=1), broken)) for _ in range(3)]
    entry.lock.release()
    for f in futures:
        with pytest.raises(ValueError, match="no drawing today"):
            f.result(WAIT)
    assert queue.submit(Job(Counted(), 2)).result(WAIT) == ([0, 1], "shared")


def test_a_failing_split_reaches_the_requests_and_the_worker_lives_on():
    queue, entry = held_queue()

    def bad_split(result, start, stop):
        raise IndexError("no such slice")

    futures = [queue.submit(Job(Counted(), 1, "k", bad_split)) for _ in range(2)]
    entry.lock.release()
    for f in futures:
        with pytest.raises(IndexError):
            f.result(WAIT)
    assert queue.submit(Job(Counted(), 1)).result(WAIT) == ([0], "shared")
