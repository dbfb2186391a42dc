"""The studio's live continuation as a user sees it (issue 17): from pen-up to the first model point on screen, and
the frame rate of the model's drawing, measured in headless Chromium driving the page.

Run: python benchmarks/studio_latency.py [--models sheep,doodle,kanji] [--repeats 10]

Starts `sketchlab serve` (the zoo's models by default) on a free loopback port and opens the page in Debian's
Chromium (/usr/bin/chromium, `make browser`). For each model, `--repeats` times, alternating:

- stream (what the page does): draw a stroke with the mouse, lift the pen; the page records when the pointerup
  was handled and when the first model point was painted (`window.studioTrace`, set by static/live.js), and the
  time of every frame painted while the model draws;
- whole answer (the baseline: one batched answer animated by the page): the same drawing sent by the page to
  `/api/complete` (n = 1); the time until the answer has arrived is the earliest its first point could be painted.

Prints, per model, the median and range of both latencies, their ratio, and the frames per second of the
animation (median frame interval, and the slowest 5 %). Then the share of 16 doodle candidates of a house that
leave the 512 px canvas with stay_on_paper off (the old behaviour) and on. Budget: first point <= 150 ms,
>= 30 frames per second on the 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
HOUSE = [[150, 250, 0], [0, 150, 0], [200, 0, 0], [0, -150, 0], [-200, 0, 1], [-15, 12, 0], [115, -112, 0],
         [115, 112, 1]]

# The whole answer's latency, timed in the page (the same fetch path as the stream's).
WHOLE_ANSWER = """async ([model, drawing]) => {
  const started = performance.now();
  const response = await fetch('/api/complete', {method: 'POST', headers: {'Content-Type': 'application/json'},
    body: JSON.stringify({model, drawing, n: 1, temperature: 0.5, canvas_size: 512})});
  await response.json();
  return performance.now() - started;
}"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(models: list[str], port: int) -> subprocess.Popen:
    code = ("import sys; from sketchlab.web import serve; "
            f"serve(sys.argv[1:], host='127.0.0.1', port={port}, log_level='warning')")
    process = subprocess.Popen([sys.executable, "-c", code, *models], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/models", timeout=2):
                return process
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise SystemExit("the studio did not start within 180 s")


def wait_until(page, expression: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise SystemExit(f"still false after {timeout} s: {expression}")
        page.wait_for_timeout(5)


def stroke_on_page(page, k: int) -> list[list[float]]:
    """Draw stroke k (a different wave each time) with the mouse and lift the pen; its rows in canvas pixels."""
    box = page.locator("#pad").bounding_box()
    points = [(120 + 20 * i, 260 + (25 + 3 * (k % 5)) * (-1) ** i) for i in range(10)]
    page.mouse.move(box["x"] + points[0][0] * box["width"] / 512, box["y"] + points[0][1] * box["height"] / 512)
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(box["x"] + x * box["width"] / 512, box["y"] + y * box["height"] / 512, steps=2)
    page.mouse.up()
    rows = [[*points[0], 0]] + [[b[0] - a[0], b[1] - a[1], 0] for a, b in zip(points, points[1:])]
    rows[-1][2] = 1
    return rows


def stream_once(page, k: int) -> tuple[float, list[float], list[float]]:
    """(ms from pen-up to the first model point painted, frame intervals in ms while drawing, the stroke's rows)."""
    page.keyboard.press("x")  # a clean canvas (the cleared drawing is undoable; it stays out of the way)
    rows = stroke_on_page(page, k)
    wait_until(page, "document.body.dataset.live === 'done' && studioTrace.firstPoint !== null")
    trace = page.evaluate("({penUp: studioTrace.penUp, first: studioTrace.firstPoint, frames: studioTrace.frames})")
    frames = trace["frames"]
    return trace["first"] - trace["penUp"], [b - a for a, b in zip(frames, frames[1:])], rows


def off_paper_share(url: str, model: str, stay: bool, n: int = 16, seeds: int = 4) -> float:
    off = total = 0
    for seed in range(seeds):
        body = json.dumps({"model": model, "drawing": HOUSE, "n": n, "temperature": 0.5, "seed": seed,
                           "stay_on_paper": stay}).encode()
        request = urllib.request.Request(f"{url}/api/complete", body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(request) as response:
            drawings = json.load(response)["drawings"]
        for d in drawings:
            xy = [0.0, 0.0]
            inside = True
            for dx, dy, _ in d:
                xy = [xy[0] + dx, xy[1] + dy]
                inside &= -0.01 <= min(xy) and max(xy) <= 512.01
            off += not inside
            total += 1
    return off / total


def spread(values: list[float]) -> str:
    return f"median {statistics.median(values):6.1f} ms [{min(values):.1f}-{max(values):.1f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="sheep,doodle,kanji", help="zoo names or model folders, comma-separated")
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    from playwright import sync_api

    models = [m for m in args.models.split(",") if m]
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start_server(models, port)
    try:
        with sync_api.sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
            context = p.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, headless=True,
                                                           args=FLAGS, viewport={"width": 1280, "height": 900})
            page = context.new_page()
            page.goto(url)
            page.wait_for_selector("body[data-ready='true']", timeout=30000)
            print(f"studio latency, {args.repeats} pen-ups per model, stream and whole answer alternated "
                  f"(server and Chromium on this machine)")
            for model in models:
                page.select_option("#model", Path(model).name)
                firsts, intervals, wholes = [], [], []
                for k in range(args.repeats):
                    first, gaps, rows = stream_once(page, k)
                    firsts.append(first)
                    intervals += gaps
                    wholes.append(page.evaluate(WHOLE_ANSWER, [Path(model).name, rows]))
                fps = 1000 / statistics.median(intervals)
                slow = sorted(intervals)[int(0.95 * (len(intervals) - 1))]
                print(f"{model:>8}: first point {spread(firsts)}; whole answer {spread(wholes)}; "
                      f"whole/stream {statistics.median(wholes) / statistics.median(firsts):.1f}x; "
                      f"animation {fps:.0f} frames/s (slowest 5 %: {1000 / slow:.0f} frames/s, "
                      f"{len(intervals)} frames)")
            context.close()
        if "doodle" in models:
            before, after = off_paper_share(url, "doodle", False), off_paper_share(url, "doodle", True)
            print(f"doodle candidates of a house off the 512 px canvas: {before:.0%} unconstrained, "
                  f"{after:.0%} with stay_on_paper")
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
