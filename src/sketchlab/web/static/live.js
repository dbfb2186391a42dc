// Live continuation: when the pen lifts (or, with "while I pause", when it rests), the model continues the drawing
// right where the pen stopped, on the main canvas. Its points stream from /api/continue (server-sent events: the
// first arrives a few milliseconds after the model has read the drawing, see docs/studio.md) and are drawn at a
// steady pace. Drawing again stops it; its strokes are then kept or dropped, by the setting. With several futures,
// each one continues live in its own tile at the canvas's scale and position, so they can be compared; the chosen
// one is on the canvas, a click (a second tap on a phone) keeps it.

import { requestRows } from "./api.js";
import { model, temperature } from "./controls.js";
import { copyStrokes } from "./geometry.js";
import { redrawPad, remember, save, setupCanvas, strokeLines } from "./pad.js";
import { resultsBox, showError, tileSize } from "./results.js";
import { $, INK_WIDTH, PALETTE, PREFIX_INK, SIZE, state, status } from "./state.js";

const MS_PER_POINT = 12; // the model's pen on screen: about one point a frame, as magenta's demos draw
const FINISHED = 2; // the pen value of the row that ends a future

// What the benchmark (benchmarks/studio_latency.py) reads: when the pen lifted, when the first model point was
// painted, and the time of every frame painted while the model drew.
const trace = { penUp: null, firstPoint: null, frames: [] };
window.studioTrace = trace;

// ------------------------------------------------------------------------------------------ a future's points

function newFuture(anchor, color) {
  // anchor: the user's last point when the model continues an unfinished stroke (it joins the model's first line)
  return { points: [], anchor, color, liftNext: anchor === null, finished: false };
}

function addRow(future, [dx, dy, pen]) {
  if (pen === FINISHED) {
    future.finished = true;
    return;
  }
  const from = future.points.length ? future.points[future.points.length - 1] : future.start;
  future.points.push({ x: from.x + dx, y: from.y + dy, starts: future.liftNext });
  future.liftNext = pen === 1;
}

// The future's first `shown` points as polylines in canvas pixels.
function futureLines(future, shown = future.points.length) {
  const lines = [];
  let line = future.anchor ? [future.anchor] : null;
  for (const p of future.points.slice(0, shown)) {
    if (p.starts || !line) {
      if (line && line.length) lines.push(line);
      line = [];
    }
    line.push([p.x, p.y]);
  }
  if (line && line.length) lines.push(line);
  return lines;
}

// ------------------------------------------------------------------------------------------ the request

async function readEvents(response, onEvent) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const name = (block.match(/^event: (.*)$/m) || [])[1];
      const data = (block.match(/^data: (.*)$/m) || [])[1];
      if (name && data) onEvent(name, JSON.parse(data));
    }
  }
}

// Continue the drawing `n` ways. `open`: the last stroke is still being drawn (a pause), the model carries it on.
export function startLive(n, { label = "Continuing", open = false } = {}) {
  stopLive({ keep: false });
  const strokes = copyStrokes(state.strokes);
  if (open && state.current) strokes.push(copyStrokes([state.current])[0]);
  if (!strokes.length) return;
  const { rows, dropped } = requestRows(strokes, open);
  const last = strokes[strokes.length - 1][strokes[strokes.length - 1].length - 1];
  const start = { x: last[0], y: last[1] };
  const m = model().name;
  const live = {
    n, label, open, strokes, dropped, model: m, temperature: temperature(),
    controller: new AbortController(), started: performance.now(), firstAt: null, ended: false,
    futures: Array.from({ length: n }, (_, i) => ({ ...newFuture(open ? last : null, PALETTE[i % PALETTE.length]), start })),
    chosen: 0, tiles: [],
  };
  state.live = live;
  trace.firstPoint = null;
  trace.frames = [];
  if (n > 1) showFutureTiles(live);
  document.body.dataset.live = "running";
  status(`${label}…`, "working");
  request(live, rows);
  requestAnimationFrame((now) => frame(live, now));
}

async function request(live, rows) {
  const body = { model: live.model, drawing: rows, n: live.n, temperature: live.temperature, canvas_size: SIZE };
  try {
    const response = await fetch("/api/continue", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
      signal: live.controller.signal,
    });
    if (!response.ok) throw new Error(await errorDetail(response));
    await readEvents(response, (name, data) => onEvent(live, name, data));
  } catch (error) {
    if (error.name === "AbortError" || state.live !== live) return;
    live.ended = true;
    live.failed = true;
    showError(`${live.label} failed: ${error.message}`);
  }
}

async function errorDetail(response) {
  try {
    const detail = (await response.json()).detail;
    return Array.isArray(detail) ? detail.map((e) => e.msg).join("; ") : String(detail);
  } catch (_) {
    return `${response.status} ${response.statusText}`;
  }
}

function onEvent(live, name, data) {
  if (state.live !== live) return;
  if (name === "start") {
    live.dropped += data.dropped_strokes;
    live.readFrom = data;
  } else if (name === "points") {
    if (live.firstAt === null) live.firstAt = performance.now();
    for (const [i, dx, dy, pen] of data.rows) addRow(live.futures[i], [dx, dy, pen]);
  } else if (name === "end") {
    live.ended = true;
  } else if (name === "error") {
    live.ended = true;
    live.failed = true;
    showError(`${live.label} failed: ${data.detail}`);
  }
}

// ------------------------------------------------------------------------------------------ the animation

// How many points of each future are on screen: one every MS_PER_POINT from the first arrival, never more than came.
function allowed(live, now) {
  return live.firstAt === null ? 0 : 1 + Math.floor((now - live.firstAt) / MS_PER_POINT);
}

function frame(live, now) {
  if (state.live !== live) return;
  live.shown = allowed(live, now);
  const showing = live.futures.some((f) => Math.min(live.shown, f.points.length) > 0);
  if (showing) {
    if (trace.firstPoint === null) trace.firstPoint = now;
    trace.frames.push(now);
  }
  redrawPad();
  for (const tile of live.tiles) tile.paint();
  const behind = live.futures.some((f) => f.points.length > live.shown);
  if (!live.ended || behind) {
    requestAnimationFrame((t) => frame(live, t));
  } else {
    finish(live);
  }
}

function finish(live) {
  live.done = true;
  document.body.dataset.live = "done";
  resultsBox.dataset.state = live.n > 1 ? "done" : resultsBox.dataset.state;
  if (live.failed) return;
  const seconds = ((performance.now() - live.started) / 1000).toFixed(1);
  const added = live.futures[live.chosen].points.length;
  const read = live.dropped ? ` (the model read your last ${live.strokes.length - live.dropped} of ` +
    `${live.strokes.length} strokes)` : "";
  status(`${live.label}: done in ${seconds} s, ${added} points${read}. ` +
    (state.settings.keep ? "Keep drawing: they stay." : "K keeps them; drawing again drops them."));
}

// The chosen future's strokes on the main canvas (called by redrawPad).
export function paintLive(ctx) {
  const live = state.live;
  if (!live) return;
  const future = live.futures[live.chosen];
  strokeLines(ctx, futureLines(future, live.shown || 0), future.color, INK_WIDTH);
}

// ------------------------------------------------------------------------------------------ stop, keep

// Stop the model (the user draws again, or asked): its strokes on screen are kept or dropped.
export function stopLive({ keep = state.settings.keep } = {}) {
  const live = state.live;
  if (!live) return;
  live.controller.abort();
  state.live = null;
  document.body.dataset.live = "stopped";
  if (keep) addToDrawing(futureLines(live.futures[live.chosen], live.shown || 0));
  redrawPad();
}

// Keep future `i` whole (a click on its tile, or K for the one on the canvas), even the points not drawn yet.
export function keepFuture(i = state.live ? state.live.chosen : 0) {
  const live = state.live;
  if (!live) return status("Nothing to keep: lift the pen and the model draws on.", "error");
  live.controller.abort();
  state.live = null;
  document.body.dataset.live = "kept";
  addToDrawing(futureLines(live.futures[i]));
  status(`Kept ${live.n > 1 ? `future #${i + 1}` : "the model's strokes"} (Z to undo).`);
  redrawPad();
}

function addToDrawing(lines) {
  const kept = lines.filter((l) => l.length);
  if (!kept.length) return;
  remember();
  state.strokes = state.strokes.concat(kept);
  save();
}

export function choose(i) {
  if (!state.live || i >= state.live.futures.length) return;
  state.live.chosen = i;
  redrawPad();
  for (const tile of state.live.tiles) tile.paint();
}

// ------------------------------------------------------------------------------------------ several futures

function showFutureTiles(live) {
  resultsBox.replaceChildren();
  resultsBox.className = "results complete";
  resultsBox.dataset.state = "animating";
  resultsBox.dataset.stale = "false";
  $("results-title").textContent = "Futures";
  $("results-meta").textContent = `${live.model} · T ${live.temperature.toFixed(2)} · at the canvas's scale`;
  $("btn-results-svg").disabled = true;
  state.results = null;
  const size = tileSize(live.n, "complete");
  live.tiles = live.futures.map((future, i) => futureTile(live, future, i, size));
  if (window.matchMedia("(max-width: 980px)").matches) {
    resultsBox.closest(".results-card").scrollIntoView({ block: "start", behavior: "instant" });
  }
}

function futureTile(live, future, i, size) {
  const figure = document.createElement("figure");
  figure.className = "tile";
  figure.tabIndex = 0;
  figure.dataset.index = String(i);
  figure.title = "hover (or tap) to see it on the canvas, click (or tap again) to keep it";
  const canvas = document.createElement("canvas");
  const caption = document.createElement("figcaption");
  caption.textContent = `#${i + 1}`;
  figure.append(canvas, caption);
  resultsBox.append(figure);
  const c = setupCanvas(canvas, size, size);
  const scale = size / SIZE; // the canvas's scale and position: futures are comparable with each other
  const map = (p) => [p[0] * scale, p[1] * scale];
  const width = Math.max(1.2, INK_WIDTH * scale);
  let tapped = false;
  figure.addEventListener("pointerup", (event) => {
    if (event.pointerType !== "touch") return keepFuture(i);
    if (tapped && state.live && state.live.chosen === i) return keepFuture(i); // a second tap keeps
    tapped = true;
    choose(i);
  });
  figure.addEventListener("pointerenter", (event) => { if (event.pointerType === "mouse") choose(i); });
  figure.addEventListener("focus", () => choose(i));
  figure.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") { event.preventDefault(); event.stopPropagation(); keepFuture(i); }
  });
  return {
    paint() {
      c.clearRect(0, 0, size, size);
      strokeLines(c, live.strokes, PREFIX_INK, width, map);
      strokeLines(c, futureLines(future, live.shown || 0), future.color, width, map);
      figure.classList.toggle("chosen", live.chosen === i);
    },
  };
}
