"""The studio under a flood of requests to one model (issue 18, item 1): do the other endpoints still answer?

Run: python benchmarks/serve_load.py [--flood 200] [--gave-up 100] [--models doodle,sheep]

Starts `sketchlab serve` in a subprocess on a free loopback port with two models (the zoo's doodle, flooded, and
sheep by default), then

1. idle: times `GET /api/models`, `POST /api/render` and `POST /api/sample` to the second model, in turn (the
   baseline);
2. flood: sends `--flood` concurrent `/api/complete` requests to the first model and keeps timing the same three
   probes until the flood is answered: the probes' latency during the flood against idle is the figure;
3. gave up: `--gave-up` clients ask the first model and hang up after `--give-up-after` seconds; then one more
   request to that model is timed (computing the abandoned requests would delay it);
4. prints the answers by status (200, 503 with Retry-After) and the server's resident memory before the flood,
   after it and at its peak (VmRSS / VmHWM of the server process).
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import httpx

from sketchlab.web import parse_model_spec

DRAWING = [[150, 200, 0]] + [[12, 3 * (-1) ** i, 0] for i in range(20)] + [[0, 40, 1]]
PROBES = {
    "models": ("GET", "/api/models", None),
    "render": ("POST", "/api/render", {"drawings": [DRAWING], "format": "png", "size": 256}),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(models: list[str], port: int) -> subprocess.Popen:
    code = ("import sys; from sketchlab.web import serve; "
            f"serve(sys.argv[1:], host='127.0.0.1', port={port}, log_level='error')")
    return subprocess.Popen([sys.executable, "-c", code, *models], stdout=subprocess.DEVNULL)


def memory_mib(pid: int) -> dict[str, float]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024
    return fields


async def wait_ready(client: httpx.AsyncClient, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("the server exited before it answered")
        try:
            if (await client.get("/api/models")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.2)
    raise SystemExit("the server did not answer within 120 s")


async def probe_round(client: httpx.AsyncClient, other: str) -> dict[str, float]:
    """One of each probe, in turn: seconds each took."""
    calls = {**PROBES, f"sample {other}": ("POST", "/api/sample", {"model": other, "n": 1})}
    seconds = {}
    for name, (method, path, body) in calls.items():
        started = time.perf_counter()
        response = await client.request(method, path, json=body)
        response.raise_for_status()
        seconds[name] = time.perf_counter() - started
    return seconds


async def probe_until(done: asyncio.Future, client: httpx.AsyncClient, other: str) -> list[dict[str, float]]:
    rounds = [await probe_round(client, other)]  # at least one, while the flood is being sent
    while not done.done():
        rounds.append(await probe_round(client, other))
        await asyncio.sleep(0.05)
    return rounds


async def complete(client: httpx.AsyncClient, model: str, timeout: float | None = None) -> tuple[str, float]:
    started = time.perf_counter()
    try:
        response = await client.post("/api/complete", json={"model": model, "drawing": DRAWING, "n": 4},
                                     timeout=timeout)
    except httpx.TimeoutException:
        return "gave up", time.perf_counter() - started
    status = str(response.status_code)
    if response.status_code == 503 and "retry-after" in response.headers:
        status += " (Retry-After)"
    return status, time.perf_counter() - started


def send_completions(url: str, model: str, count: int, timeout: float | None = None) -> list[tuple[str, float]]:
    """`count` concurrent completions, each (status, seconds). Run in a process of its own, so that sending the
    flood does not slow the probes' client down."""
    async def all_at_once():
        limits = httpx.Limits(max_connections=count)
        async with httpx.AsyncClient(base_url=url, limits=limits, timeout=600) as client:
            return await asyncio.gather(*(complete(client, model, timeout) for _ in range(count)))

    return asyncio.run(all_at_once())


def statuses(answers: list[tuple[str, float]]) -> str:
    return ", ".join(f"{count} x {status}" for status, count in sorted(Counter(s for s, _ in answers).items()))


def summary(rounds: list[dict[str, float]]) -> dict[str, tuple[float, float]]:
    return {name: (statistics.median(r[name] for r in rounds), max(r[name] for r in rounds)) for name in rounds[0]}


async def run(args, url: str, pid: int) -> None:
    with ProcessPoolExecutor(1) as flooder:
        async with httpx.AsyncClient(base_url=url, timeout=600) as client:
            return await measure(args, url, pid, client, flooder)


async def measure(args, url: str, pid: int, client: httpx.AsyncClient, flooder: ProcessPoolExecutor) -> None:
    loop = asyncio.get_running_loop()
    flooded, other = (parse_model_spec(spec)[0] for spec in args.models)
    for model in (flooded, other):  # first use measures each model's typical drawing: not part of the figures
        await complete(client, model)
    await loop.run_in_executor(flooder, send_completions, url, other, 1)  # the flooder process is ready
    idle = summary([await probe_round(client, other) for _ in range(args.idle_rounds)])
    before = memory_mib(pid)

    started = time.perf_counter()
    sent = loop.run_in_executor(flooder, send_completions, url, flooded, args.flood)
    rounds = await probe_until(sent, client, other)
    flood = await sent
    flood_seconds = time.perf_counter() - started
    busy = summary(rounds)
    after = memory_mib(pid)

    gave_up = await loop.run_in_executor(flooder, send_completions, url, flooded, args.gave_up,
                                         args.give_up_after)
    _, next_seconds = await complete(client, flooded)
    idle_complete = statistics.median([(await complete(client, flooded))[1] for _ in range(3)])

    print(f"server: {flooded}, {other}; flood: {args.flood} concurrent /api/complete (n 4) to {flooded}")
    print(f"flood answered in {flood_seconds:.1f} s: {statuses(flood)}")
    print(f"flood latency of answered requests: median {statistics.median(t for s, t in flood if s == '200'):.2f} s, "
          f"max {max(t for s, t in flood if s == '200'):.2f} s")
    print(f"{'probe (rounds)':<20} {'idle median':>12} {'flood median':>13} {'flood max':>10} {'max / idle':>11}")
    for name, (median, worst) in busy.items():
        print(f"{name + f' ({len(rounds)})':<20} {idle[name][0]:>11.3f}s {median:>12.3f}s {worst:>9.3f}s "
              f"{worst / idle[name][0]:>10.1f}x")
    print(f"{args.gave_up} clients that hang up after {args.give_up_after} s: {statuses(gave_up)}; "
          f"the next /api/complete to {flooded} took {next_seconds:.2f} s "
          f"(idle median {idle_complete:.2f} s, ratio {next_seconds / idle_complete:.1f}x)")
    print(f"server memory: before the flood {before['VmRSS']:.0f} MiB, after {after['VmRSS']:.0f} MiB, "
          f"peak {after['VmHWM']:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--flood", type=int, default=200, help="concurrent /api/complete requests to one model")
    parser.add_argument("--gave-up", type=int, default=100, help="clients that hang up before their answer")
    parser.add_argument("--give-up-after", type=float, default=1.0, help="seconds those clients wait")
    parser.add_argument("--idle-rounds", type=int, default=5)
    parser.add_argument("--models", type=lambda text: text.split(","), default=["doodle", "sheep"],
                        help="the flooded model and the other one: zoo names or folders")
    args = parser.parse_args()
    port = free_port()
    server = start_server(args.models, port)
    try:
        asyncio.run(wait_ready_then_run(args, f"http://127.0.0.1:{port}", server))
    finally:
        server.terminate()
        server.wait(30)


async def wait_ready_then_run(args, url: str, server: subprocess.Popen) -> None:
    async with httpx.AsyncClient(base_url=url) as client:
        await wait_ready(client, server)
    await run(args, url, server.pid)


if __name__ == "__main__":
    main()
