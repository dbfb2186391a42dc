"""The studio in a real browser: `serve()` in a subprocess on a free loopback port, headless Debian Chromium driven by
Playwright, at a desktop size with a mouse and at a phone size with touch. Draw, lift the pen and watch the model
draw on (pixels of the canvas), stop it by drawing again, several futures at the canvas's scale, a 150-stroke
drawing completed and downloaded, a reload that keeps the drawing, /docs with the network blocked.

Needs /usr/bin/chromium (`make browser`; Playwright's own browser download cannot work here) and the PyPI
`playwright` package. SKETCHLAB_STUDIO_SCREENSHOTS=docs saves docs/studio.png and docs/studio-phone.png, drawn by
the shipped sheep model (the tests then run against it instead of the tiny random models).
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
SCREENSHOTS = os.environ.get("SKETCHLAB_STUDIO_SCREENSHOTS")
RESULTS_DONE = "document.querySelector('#results').dataset.state === 'done'"
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}

# Pixels of a canvas: painted ones, and saturated ones (the model's colours; the user's ink and the grey of the
# drawing inside a future's tile are not saturated).
COUNT_PIXELS = """(canvas, box) => {
  const c = canvas.getContext('2d');
  const [x0, y0, w, h] = box || [0, 0, canvas.width, canvas.height];
  const data = c.getImageData(x0, y0, w, h).data;
  let painted = 0, coloured = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (data[i + 3] < 40) continue;
    painted++;
    const hi = Math.max(data[i], data[i + 1], data[i + 2]), lo = Math.min(data[i], data[i + 1], data[i + 2]);
    if (hi - lo > 60) coloured++;
  }
  return {painted, coloured};
}"""

# The bounding box of a canvas's grey (unsaturated, light) pixels, in CSS pixels: the user's drawing in a tile.
GREY_LINES = """canvas => {
  const w = canvas.width, h = canvas.height, data = canvas.getContext('2d').getImageData(0, 0, w, h).data;
  const scale = w / canvas.clientWidth, cols = new Array(w).fill(0), rows = new Array(h).fill(0);
  for (let i = 0; i < data.length; i += 4) {
    const hi = Math.max(data[i], data[i + 1], data[i + 2]), lo = Math.min(data[i], data[i + 1], data[i + 2]);
    if (data[i + 3] < 200 || hi - lo > 40 || hi < 150) continue;
    cols[(i / 4) % w]++; rows[Math.floor(i / 4 / w)]++;
  }
  const long = 20 * scale, first = a => a.findIndex(n => n >= long);
  const last = a => a.length - 1 - [...a].reverse().findIndex(n => n >= long);
  return [first(cols) / scale, last(cols) / scale, first(rows) / scale, last(rows) / scale, canvas.clientWidth];
}"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory, save_tiny_model):
    root = tmp_path_factory.mktemp("e2e-models")
    if SCREENSHOTS:  # the pictures show what the shipped sheep model draws; the tests work the same with it
        shutil.copytree(find_zoo_model("sheep"), root / "sheep")
    else:
        save_tiny_model(root / "tiny", conditional=True, max_seq_len=60)
    first = root / ("sheep" if SCREENSHOTS else "tiny")
    save_tiny_model(root / "decoder", conditional=False, seed=1)
    port = free_port()
    code = ("import sys; from sketchlab.web import serve; "
            f"serve(sys.argv[1:], host='127.0.0.1', port={port}, log_level='warning')")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen([sys.executable, "-c", code, str(first), str(root / "decoder")], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
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
                pytest.fail("the server did not start within 90 s")
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
def playwright():
    with sync_api.sync_playwright() as p:
        yield p


def launch(playwright, profile: str, **device):
    return playwright.chromium.launch_persistent_context(
        profile, executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS,
        **(device or {"viewport": {"width": 1280, "height": 900}, "device_scale_factor": 1}))


@pytest.fixture(scope="module")
def desktop(playwright):
    with tempfile.TemporaryDirectory(prefix="sketchlab-chromium-") as profile:
        context = launch(playwright, profile)
        try:
            yield context
        finally:
            context.close()


@pytest.fixture(scope="module")
def phone(playwright):
    with tempfile.TemporaryDirectory(prefix="sketchlab-chromium-") as profile:
        context = launch(playwright, profile, **PHONE)
        try:
            yield context
        finally:
            context.close()


def open_studio(context, url: str, problems: list[str] | None = None):
    page = context.new_page()
    if problems is not None:
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        page.on("console", lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None)
    page.goto(url)
    page.wait_for_selector("body[data-ready='true']", timeout=20000)
    page.evaluate("localStorage.clear()")  # each test starts from a fresh page
    page.reload()
    page.wait_for_selector("body[data-ready='true']", timeout=20000)
    return page


def to_screen(page, x: float, y: float) -> tuple[float, float]:
    box = page.locator("#pad").bounding_box()
    return box["x"] + x * box["width"] / 512, box["y"] + y * box["height"] / 512


def draw(page, strokes, lift: bool = True, steps: int = 4) -> None:
    """Draw polylines given in canvas pixels (512 x 512) with the mouse; the last one's pen stays down if not lift."""
    for k, stroke in enumerate(strokes):
        page.mouse.move(*to_screen(page, *stroke[0]))
        page.mouse.down()
        for x, y in stroke[1:]:
            page.mouse.move(*to_screen(page, x, y), steps=steps)
        if lift or k < len(strokes) - 1:
            page.mouse.up()


def touch_draw(page, stroke, points=None) -> None:
    """One stroke with a finger (touch events: the page sees pointerType 'touch'), or `points` in the viewport."""
    cdp = page.context.new_cdp_session(page)
    points = points or [to_screen(page, x, y) for x, y in stroke]
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": points[0][0], "y": points[0][1]}]})
    for x, y in points[1:]:
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    cdp.detach()


def wait_until(page, expression: str, timeout: float = 10.0) -> None:
    """Poll a JS expression until it is true (wait_for_function evaluates strings, which the page's CSP forbids)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            state = page.evaluate("[document.body.dataset.live, document.querySelector('#results').dataset.state, "
                                  "document.querySelector('#status').textContent]")
            pytest.fail(f"still false after {timeout} s: {expression} (live, results, status: {state})")
        page.wait_for_timeout(20)


def touch_tap(page, locator) -> None:
    """A finger's tap at the middle of an element (scrolled into view)."""
    locator.scroll_into_view_if_needed()
    box = locator.bounding_box()
    touch_draw(page, None, [(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)])


def pixels(page, box=None) -> dict:
    return page.locator("#pad").evaluate(COUNT_PIXELS, box)


HOUSE = [
    [(150, 250), (150, 400), (350, 400), (350, 250), (150, 250)],  # walls
    [(135, 262), (250, 150), (365, 262)],  # roof
    [(225, 400), (225, 320), (275, 320), (275, 400)],  # door
]


def test_lifting_the_pen_lets_the_model_draw_on_and_drawing_again_stops_it(server, desktop):
    problems: list[str] = []
    page = open_studio(desktop, server, problems)
    assert pixels(page)["painted"] == 0
    page.evaluate("document.querySelector('#live-keep').value = 'drop'")
    draw(page, [HOUSE[0]])
    wait_until(page, "studioTrace.firstPoint !== null")
    page.wait_for_timeout(150)
    assert pixels(page)["coloured"] > 20, "the model's strokes should appear on the canvas after pen-up"

    # drawing again stops the model at once; with 'go', its strokes leave the canvas
    page.mouse.move(*to_screen(page, 60, 60))
    page.mouse.down()
    assert page.evaluate("document.body.dataset.live") == "stopped"
    page.wait_for_timeout(100)
    assert pixels(page)["coloured"] == 0
    page.mouse.move(*to_screen(page, 90, 70), steps=3)
    page.mouse.up()

    # with 'stay' the strokes shown when the user draws again are kept as part of the drawing
    wait_until(page, "studioTrace.firstPoint !== null")
    page.select_option("#live-keep", "keep")
    wait_until(page, "document.body.dataset.live === 'done'")
    shown = pixels(page)["painted"]
    page.mouse.move(*to_screen(page, 480, 480))
    page.mouse.down()
    page.mouse.up()
    assert page.evaluate("document.body.dataset.live") in ("running", "done")  # the next continuation started
    page.keyboard.press("Escape")  # and Escape drops it
    assert pixels(page)["painted"] >= shown  # the kept strokes stayed (drawn in ink now)
    assert not problems, problems
    page.close()


def test_a_pause_carries_the_stroke_on_from_the_pens_last_point(server, desktop):
    page = open_studio(desktop, server)
    page.check("#live-pause")
    draw(page, [[(100, 300), (200, 300), (300, 300)]], lift=False)  # the pen rests at (300, 300)
    wait_until(page, "studioTrace.firstPoint !== null")
    page.wait_for_timeout(100)
    near = [294, 294, 12, 12]  # 12 x 12 canvas pixels around the pen (the desktop's device pixel ratio is 1)
    assert pixels(page, near)["coloured"] > 0, "the model's line should start at the pen's last point"
    page.mouse.up()
    page.close()


def test_several_futures_at_the_canvas_scale_and_one_kept(server, desktop):
    page = open_studio(desktop, server)
    page.uncheck("#live")
    draw(page, HOUSE)
    drawn = pixels(page)["painted"]
    page.click("#btn-complete")
    wait_until(page, RESULTS_DONE, 30)
    tiles = page.locator("#results .tile canvas")
    assert tiles.count() == 4
    assert "Complete: done" in page.locator("#status").inner_text()
    for i in range(4):
        left, right, top, bottom, size = tiles.nth(i).evaluate(GREY_LINES)
        scale = size / 512  # the house's walls stand at x 150 and 350, its wall top and floor at y 250 and 400 on the
        # canvas: so in every tile, scaled. Long grey lines are found, not the grey box's ends, which a future's
        # coloured strokes may cover (the box's ends then moved by more than 5 px in one run of 30)
        assert abs(left - 150 * scale) < 3 and abs(right - 350 * scale) < 3, (i, left, right, size)
        assert abs(top - 250 * scale) < 3 and abs(bottom - 400 * scale) < 3, (i, top, bottom, size)
        assert tiles.nth(i).evaluate(COUNT_PIXELS)["coloured"] > 20, f"future {i} shows no strokes"
    page.locator("#results .tile").nth(2).hover()  # hovering a future shows it on the canvas
    assert page.locator("#results .tile").nth(2).get_attribute("class").split() == ["tile", "chosen"]
    page.locator("#results .tile").nth(2).click()  # a click keeps it
    assert page.evaluate("document.body.dataset.live") == "kept"
    after = pixels(page)["painted"]
    assert after > drawn + 50
    page.keyboard.press("z")
    assert pixels(page)["painted"] == drawn
    page.close()


def test_a_150_stroke_drawing_completes_and_downloads(server, desktop, tmp_path):
    page = open_studio(desktop, server)
    page.uncheck("#live")
    strokes = [[(20 + 32 * (i % 15), 30 + 45 * (i // 15)), (34 + 32 * (i % 15), 48 + 45 * (i // 15))]
               for i in range(150)]
    draw(page, strokes, steps=1)
    page.click("#btn-complete")
    wait_until(page, RESULTS_DONE, 30)
    status = page.locator("#status").inner_text()
    assert "Complete: done" in status and "read your last" in status, status
    with page.expect_download() as download:
        page.click("#btn-svg")
    saved = tmp_path / "sketch.svg"
    download.value.save_as(saved)
    assert saved.read_text().count("<path") == 150  # every stroke, made in the page
    with page.expect_download() as download:
        page.click("#btn-png")
    assert download.value.suggested_filename == "sketch.png"
    page.close()


def test_keys_say_why_when_off_and_bad_candidates_are_refused_visibly(server, desktop):
    page = open_studio(desktop, server)
    page.uncheck("#live")
    page.keyboard.press("i")
    assert "Interpolate is off: store two drawings first" in page.locator("#status").inner_text()
    page.select_option("#model", "decoder")
    page.keyboard.press("r")
    assert "Reconstruct is off" in page.locator("#status").inner_text()
    page.fill("#count", "40")
    assert page.get_attribute("#count", "aria-invalid") == "true"
    draw(page, [HOUSE[1]])
    page.click("#btn-sample")
    assert "Candidates must be a whole number from 1 to 16" in page.locator("#status").inner_text()
    page.fill("#count", "3")
    page.click("#btn-sample")
    wait_until(page, RESULTS_DONE + " && document.querySelector('#results.sample') !== null", 30)
    assert page.locator("#results .tile").count() == 3
    assert page.locator("#results-meta").inner_text().startswith("decoder · T 0.50")
    page.close()


def test_interpolation_shows_the_originals_and_a_reload_keeps_the_drawing(server, desktop):
    page = open_studio(desktop, server)
    page.uncheck("#live")
    draw(page, HOUSE)
    page.keyboard.press("a")
    page.keyboard.press("x")
    draw(page, [HOUSE[1]])
    page.keyboard.press("b")
    page.keyboard.press("i")
    wait_until(page, RESULTS_DONE + " && document.querySelector('#results.interpolate') !== null", 30)
    captions = page.locator("#results figcaption").all_inner_texts()
    assert captions[0] == "A yours" and captions[-1] == "B yours" and len(captions) == 8 + 2
    assert page.locator("#results-meta").inner_text().endswith("T 0.00")  # its own temperature, smooth

    drawn = pixels(page)["painted"]
    page.reload()
    page.wait_for_selector("body[data-ready='true']", timeout=20000)
    assert pixels(page)["painted"] == drawn
    assert page.locator("#slot-a.filled").count() == 1 and page.locator("#slot-b.filled").count() == 1
    assert not page.is_checked("#live")  # the settings too
    page.close()


def test_docs_render_with_the_network_blocked(server, desktop):
    page = desktop.new_page()
    outside: list[str] = []

    def only_loopback(route):
        if route.request.url.startswith(server):
            return route.continue_()
        outside.append(route.request.url)
        return route.abort()

    page.route("**/*", only_loopback)
    page.goto(f"{server}/docs")
    page.wait_for_selector(".swagger-ui .opblock", timeout=20000)
    assert "/api/continue" in page.locator(".swagger-ui").inner_text()
    assert not outside, outside
    page.close()


def test_phone_touch_complete_scrolls_the_results_into_view(server, phone):
    problems: list[str] = []
    page = open_studio(phone, server, problems)
    height = PHONE["viewport"]["height"]
    assert page.locator(".topbar").bounding_box()["height"] <= 0.12 * height
    pad = page.locator("#pad").bounding_box()
    for button in page.locator("button:visible").all():
        box = button.bounding_box()
        assert box["height"] >= 44 and box["width"] >= 44, button.inner_text()
        overlaps = box["x"] < pad["x"] + pad["width"] and pad["x"] < box["x"] + box["width"] and \
            box["y"] < pad["y"] + pad["height"] and pad["y"] < box["y"] + box["height"]
        assert not overlaps, f"{button.inner_text()} lies on the drawing surface"

    touch_draw(page, HOUSE[1])
    wait_until(page, "studioTrace.firstPoint !== null")
    assert page.evaluate("document.body.dataset.live") in ("running", "done")
    wait_until(page, "document.body.dataset.live === 'done'")
    touch_tap(page, page.locator("#btn-complete"))
    wait_until(page, RESULTS_DONE, 30)
    first = page.locator("#results .tile").first.bounding_box()
    assert 0 <= first["y"] and first["y"] + first["height"] / 2 <= height, first  # in the viewport

    second = page.locator("#results .tile").nth(1)
    touch_tap(page, second)  # a tap previews
    assert "chosen" in second.get_attribute("class") and page.evaluate("document.body.dataset.live") == "done"
    touch_tap(page, second)  # a second tap keeps
    assert page.evaluate("document.body.dataset.live") == "kept"
    if SCREENSHOTS:
        page.keyboard.press("z")
        touch_tap(page, page.locator("#btn-complete"))
        wait_until(page, RESULTS_DONE, 30)
        touch_tap(page, page.locator("#results .tile").nth(1))
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(Path(SCREENSHOTS) / "studio-phone.png"))
    assert not problems, problems
    page.close()


@pytest.mark.skipif(not SCREENSHOTS, reason="SKETCHLAB_STUDIO_SCREENSHOTS=docs makes the README's pictures")
def test_desktop_screenshot(server, desktop):
    page = open_studio(desktop, server)
    page.uncheck("#live")
    draw(page, [[(120, 260), (140, 200), (200, 180), (260, 190), (300, 230)], [(300, 230), (330, 200), (350, 215)]])
    page.select_option("#futures", "4")
    page.click("#btn-complete")
    wait_until(page, RESULTS_DONE, 30)
    page.locator("#results .tile").first.hover()  # the first future, shown on the canvas too
    page.wait_for_timeout(200)
    page.screenshot(path=str(Path(SCREENSHOTS) / "studio.png"))
    page.close()


def test_the_latency_benchmark_runs():
    """benchmarks/studio_latency.py at a toy size (its figures are not checked: a benchmark, not a timed test)."""
    script = Path(__file__).resolve().parents[2] / "benchmarks" / "studio_latency.py"
    result = subprocess.run([sys.executable, str(script), "--models", "kanji", "--repeats", "2"], capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    last = result.stdout.strip().splitlines()[-1]
    assert last.strip().startswith("kanji: first point median") and "frames/s" in last, last
