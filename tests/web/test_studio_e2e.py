"""The studio in a real browser: `serve()` in a subprocess on a free loopback port, headless Debian Chromium driven by
Playwright. Draw with the mouse, press Complete, wait for the animated candidates, take one onto the canvas, undo.

Needs /usr/bin/chromium (`apt-get install -y chromium`; Playwright's own browser download cannot work here) and the
PyPI `playwright` package. Set SKETCHLAB_STUDIO_SCREENSHOT=docs/studio.png to save a screenshot of the studio.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip("Debian chromium is not installed at /usr/bin/chromium (apt-get install -y chromium)",
                allow_module_level=True)
from playwright import sync_api  # noqa: E402  (a test dependency: only the browser itself may be missing)

from sketchlab.zoo import find as find_zoo_model  # noqa: E402

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
SCREENSHOT = os.environ.get("SKETCHLAB_STUDIO_SCREENSHOT")

# Pixels of a canvas: all painted ones, and the saturated ones (the candidates' colours; the user's ink and the
# grey of the drawing inside a candidate tile are not saturated).
COUNT_PIXELS = """canvas => {
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0, coloured = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (data[i + 3] < 40) continue;
    painted++;
    const hi = Math.max(data[i], data[i + 1], data[i + 2]), lo = Math.min(data[i], data[i + 1], data[i + 2]);
    if (hi - lo > 60) coloured++;
  }
  return {painted, coloured};
}"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory, save_tiny_model):
    root = tmp_path_factory.mktemp("e2e-models")
    if SCREENSHOT:  # the picture shows what the shipped sheep model draws; the test works the same with it
        shutil.copytree(find_zoo_model("sheep"), root / "sheep")
    else:
        save_tiny_model(root / "tiny", conditional=True, max_seq_len=60)
    first = root / ("sheep" if SCREENSHOT else "tiny")
    save_tiny_model(root / "decoder", conditional=False, seed=1)
    port = free_port()
    code = ("import sys; from sketchlab.web import serve; "
            f"serve(sys.argv[1:], host='127.0.0.1', port={port}, log_level='warning')")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen([sys.executable, "-c", code, str(first), str(root / "decoder")], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(f"the server exited: {process.stdout.read().decode(errors='replace')}")
            try:
                with urllib.request.urlopen(f"{url}/api/models", timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                pytest.fail("the server did not start within 60 s")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p, tempfile.TemporaryDirectory(prefix="sketchlab-chromium-") as profile:
        context = p.chromium.launch_persistent_context(
            profile, executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS,
            viewport={"width": 1360, "height": 860}, device_scale_factor=1,
        )
        try:
            yield context
        finally:
            context.close()


def draw(page, strokes) -> None:
    """Draw polylines given in canvas pixels (512 x 512) with the mouse."""
    box = page.locator("#pad").bounding_box()
    sx, sy = box["width"] / 512, box["height"] / 512
    for stroke in strokes:
        x, y = stroke[0]
        page.mouse.move(box["x"] + x * sx, box["y"] + y * sy)
        page.mouse.down()
        for x, y in stroke[1:]:
            page.mouse.move(box["x"] + x * sx, box["y"] + y * sy, steps=6)
        page.mouse.up()


HOUSE = [
    [(150, 250), (150, 400), (350, 400), (350, 250), (150, 250)],  # walls
    [(135, 262), (250, 150), (365, 262)],  # roof
    [(225, 400), (225, 320), (275, 320), (275, 400)],  # door
]


def test_draw_complete_take_and_undo(server, browser):
    page = browser.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.goto(server)
    page.wait_for_selector("body[data-ready='true']", timeout=15000)
    assert page.locator("#model option").count() == 2

    pad = page.locator("#pad")
    assert pad.evaluate(COUNT_PIXELS)["painted"] == 0
    draw(page, HOUSE)
    drawn = pad.evaluate(COUNT_PIXELS)["painted"]
    assert drawn > 500, "the mouse strokes should be on the canvas"

    if SCREENSHOT:  # calmer scribbles for the picture: lower the temperature with the keyboard
        for _ in range(6):
            page.keyboard.press("[")
    page.click("#btn-complete")
    page.wait_for_selector("#results[data-state='done']", timeout=30000)
    tiles = page.locator("#results .tile canvas")
    assert tiles.count() == 4
    for i in range(4):
        pixels = tiles.nth(i).evaluate(COUNT_PIXELS)
        assert pixels["coloured"] > 50, f"candidate {i} shows no new strokes: {pixels}"
        assert pixels["painted"] > pixels["coloured"], "the user's drawing is shown in each candidate too"
    assert "Complete: done" in page.locator("#status").inner_text()

    if SCREENSHOT:
        page.locator("#results .tile").first.hover()  # the preview of a candidate over the drawing
        page.wait_for_timeout(200)
        Path(SCREENSHOT).parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOT, full_page=True)

    page.mouse.move(5, 5)
    page.wait_for_timeout(100)
    assert pad.evaluate(COUNT_PIXELS)["painted"] == drawn  # no preview left behind
    page.locator("#results .tile").first.click()
    after = pad.evaluate(COUNT_PIXELS)["painted"]
    assert after > drawn + 50, "the chosen candidate's strokes should appear on the canvas"

    page.keyboard.press("z")
    assert pad.evaluate(COUNT_PIXELS)["painted"] == drawn

    # the keyboard: store A and B, interpolate
    page.keyboard.press("a")
    page.keyboard.press("x")
    assert pad.evaluate(COUNT_PIXELS)["painted"] == 0
    draw(page, [HOUSE[1]])
    page.keyboard.press("b")
    page.keyboard.press("i")
    page.wait_for_selector("#results.interpolate[data-state='done']", timeout=30000)
    assert page.locator("#results .tile").count() == 8

    assert not problems, problems
    page.close()


def test_errors_are_shown_not_thrown_and_downloads(server, browser, tmp_path):
    page = browser.new_page()
    page.goto(server)
    page.wait_for_selector("body[data-ready='true']", timeout=15000)
    page.click("#btn-complete")  # nothing drawn yet
    assert "Draw something first" in page.locator("#status").inner_text()

    draw(page, [HOUSE[1]])
    with page.expect_download() as download:
        page.click("#btn-svg")
    assert download.value.suggested_filename == "sketch.svg"
    saved = tmp_path / "sketch.svg"
    download.value.save_as(saved)
    assert saved.read_text().startswith("<svg") and "<path" in saved.read_text()

    page.select_option("#model", "decoder")
    assert page.locator("#btn-reconstruct").is_disabled()  # an unconditional model has no encoder
    page.click("#btn-sample")
    page.wait_for_selector("#results.sample[data-state='done']", timeout=30000)
    assert page.locator("#results .tile").count() == 4
    page.close()
