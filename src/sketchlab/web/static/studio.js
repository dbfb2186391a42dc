// sketchlab studio: draw on a canvas, ask a Sketch-RNN (through /api) to complete, reconstruct, interpolate or sample.
// Drawings are kept as strokes of points in canvas pixels (512 x 512, y down) and sent as stroke-3 rows
// [dx, dy, pen_lifted]; the server maps them to the model's units and back (see sketchlab/web/app.py).
"use strict";

(() => {
  const SIZE = 512; // the drawing canvas, in canvas pixels
  const SLOT = 44; // the A and B thumbnails
  const MIN_GAP = 2; // pixels between two captured points of a stroke
  const INK = "#1f2937";
  const PREFIX_INK = "#c2c8d1";
  const PALETTE = ["#2563eb", "#e11d48", "#059669", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#65a30d"];
  const MS_PER_POINT = 14;
  const MIN_ANIMATION_MS = 500;
  const MAX_ANIMATION_MS = 2600;
  const MAX_COORD = 1e5;

  const $ = (id) => document.getElementById(id);
  const pad = $("pad");
  const ctx = pad.getContext("2d");
  const resultsBox = $("results");

  const state = {
    strokes: [], // [[[x, y], ...], ...] canvas pixels
    current: null, // the stroke being drawn
    pointerId: null,
    history: [], // snapshots of `strokes` for undo
    models: [],
    limits: { max_points: 1000, max_strokes: 100, max_n: 16, min_steps: 2, max_steps: 16, max_temperature: 2 },
    slots: { a: null, b: null },
    results: null, // { kind, items }
    busy: false,
    preview: null, // lines shown faintly over the drawing (hovered completion)
    animation: null,
  };

  // ------------------------------------------------------------------------------------------ geometry helpers

  const copyStrokes = (strokes) => strokes.map((s) => s.map((p) => [p[0], p[1]]));

  function toStroke3(strokes) {
    const rows = [];
    let px = 0;
    let py = 0;
    for (const stroke of strokes) {
      stroke.forEach((p, i) => {
        rows.push([round1(p[0] - px), round1(p[1] - py), i === stroke.length - 1 ? 1 : 0]);
        px += rows[rows.length - 1][0];
        py += rows[rows.length - 1][1];
      });
    }
    return rows;
  }

  const round1 = (v) => Math.round(v * 10) / 10;

  // Stroke-3 rows -> absolute polylines; `from` starts a new line at that row index (completions: the new part).
  function toLines(rows, from = 0) {
    const lines = [];
    let x = 0;
    let y = 0;
    let cur = [];
    rows.forEach((row, i) => {
      x += row[0];
      y += row[1];
      if (i >= from) cur.push([x, y]);
      if (row[2] === 1 || i === from - 1) {
        if (cur.length) lines.push(cur);
        cur = i === from - 1 && row[2] !== 1 ? [[x, y]] : [];
      }
    });
    if (cur.length) lines.push(cur);
    return lines;
  }

  function bounds(lines) {
    let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    for (const line of lines) {
      for (const [x, y] of line) {
        x0 = Math.min(x0, x); y0 = Math.min(y0, y); x1 = Math.max(x1, x); y1 = Math.max(y1, y);
      }
    }
    return x0 === Infinity ? null : { x0, y0, x1, y1 };
  }

  // A function mapping points of `lines` into a `w` x `h` box with a margin, keeping the aspect ratio.
  function fitter(lines, w, h, margin) {
    const b = bounds(lines);
    if (!b) return (p) => p;
    const span = Math.max(b.x1 - b.x0, b.y1 - b.y0);
    const room = Math.min(w, h) * (1 - 2 * margin);
    const s = span > 1e-9 ? room / span : 1;
    const cx = (b.x0 + b.x1) / 2;
    const cy = (b.y0 + b.y1) / 2;
    return (p) => [w / 2 + (p[0] - cx) * s, h / 2 + (p[1] - cy) * s];
  }

  // Ramer-Douglas-Peucker on one polyline (used only when a drawing has more points than the server accepts).
  function rdp(points, eps) {
    if (points.length < 3) return points.slice();
    const keep = new Array(points.length).fill(false);
    keep[0] = keep[points.length - 1] = true;
    const stack = [[0, points.length - 1]];
    while (stack.length) {
      const [a, b] = stack.pop();
      let best = -1, far = 0;
      for (let i = a + 1; i < b; i++) {
        const d = segmentDistance(points[i], points[a], points[b]);
        if (d > far) { far = d; best = i; }
      }
      if (best >= 0 && far > eps) {
        keep[best] = true;
        stack.push([a, best], [best, b]);
      }
    }
    return points.filter((_, i) => keep[i]);
  }

  function segmentDistance(p, a, b) {
    const dx = b[0] - a[0], dy = b[1] - a[1];
    const len2 = dx * dx + dy * dy;
    let t = len2 ? ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len2 : 0;
    t = Math.max(0, Math.min(1, t));
    return Math.hypot(p[0] - (a[0] + t * dx), p[1] - (a[1] + t * dy));
  }

  // The drawing as stroke-3 rows within the server's point limit.
  function drawingRows(strokes) {
    let current = strokes;
    const limit = state.limits.max_points;
    for (let eps = 0.5; countPoints(current) > limit && eps < SIZE; eps *= 1.6) {
      current = strokes.map((s) => rdp(s, eps));
    }
    return toStroke3(current);
  }

  const countPoints = (strokes) => strokes.reduce((n, s) => n + s.length, 0);
  const clampRows = (rows) => rows.map(([x, y, p]) => [clamp(x, -MAX_COORD, MAX_COORD), clamp(y, -MAX_COORD, MAX_COORD), p]);
  const clamp = (v, lo, hi) => Math.max(lo, Math.min(hi, v));

  // ------------------------------------------------------------------------------------------ painting

  function setupCanvas(canvas, w, h) {
    const dpr = window.devicePixelRatio || 1;
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
    canvas.style.width = `${w}px`;
    canvas.style.height = `${h}px`;
    const c = canvas.getContext("2d");
    c.setTransform(dpr, 0, 0, dpr, 0, 0);
    return c;
  }

  function strokeLines(c, lines, color, width, map = (p) => p) {
    c.strokeStyle = color;
    c.fillStyle = color;
    c.lineWidth = width;
    c.lineCap = "round";
    c.lineJoin = "round";
    for (const line of lines) {
      if (!line.length) continue;
      const pts = line.map(map);
      if (pts.length === 1) {
        c.beginPath();
        c.arc(pts[0][0], pts[0][1], width / 2, 0, Math.PI * 2);
        c.fill();
        continue;
      }
      c.beginPath();
      c.moveTo(pts[0][0], pts[0][1]);
      for (let i = 1; i < pts.length; i++) c.lineTo(pts[i][0], pts[i][1]);
      c.stroke();
    }
  }

  function redrawPad() {
    ctx.clearRect(0, 0, SIZE, SIZE);
    strokeLines(ctx, state.strokes, INK, 3.2);
    if (state.current) strokeLines(ctx, [state.current], INK, 3.2);
    if (state.preview) {
      ctx.globalAlpha = 0.55;
      strokeLines(ctx, state.preview.lines, state.preview.color, 3);
      ctx.globalAlpha = 1;
    }
    $("hint").hidden = state.strokes.length > 0 || state.current !== null;
  }

  function drawSlot(key) {
    const box = $(`slot-${key}`);
    const canvas = box.querySelector("canvas");
    const c = setupCanvas(canvas, SLOT, SLOT);
    c.clearRect(0, 0, SLOT, SLOT);
    const strokes = state.slots[key];
    box.classList.toggle("filled", Boolean(strokes));
    if (strokes) strokeLines(c, strokes, INK, 1.4, fitter(strokes, SLOT, SLOT, 0.12));
  }

  // ------------------------------------------------------------------------------------------ pointer input

  function canvasPoint(event) {
    const r = pad.getBoundingClientRect();
    return [(event.clientX - r.left) * (SIZE / r.width), (event.clientY - r.top) * (SIZE / r.height)];
  }

  function addPoint(p) {
    const last = state.current[state.current.length - 1];
    if (Math.hypot(p[0] - last[0], p[1] - last[1]) >= MIN_GAP) state.current.push(p);
  }

  pad.addEventListener("pointerdown", (event) => {
    if (event.pointerType === "mouse" && event.button !== 0) return;
    if (state.current) return; // a second finger while drawing
    event.preventDefault();
    pad.setPointerCapture(event.pointerId);
    state.pointerId = event.pointerId;
    state.current = [canvasPoint(event)];
    state.preview = null;
    redrawPad();
  });

  pad.addEventListener("pointermove", (event) => {
    if (!state.current || event.pointerId !== state.pointerId) return;
    const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
    for (const e of events.length ? events : [event]) addPoint(canvasPoint(e));
    redrawPad();
  });

  function endStroke(event) {
    if (!state.current || event.pointerId !== state.pointerId) return;
    addPoint(canvasPoint(event));
    remember();
    state.strokes.push(state.current);
    state.current = null;
    state.pointerId = null;
    redrawPad();
  }

  pad.addEventListener("pointerup", endStroke);
  pad.addEventListener("pointercancel", endStroke);

  function remember() {
    state.history.push(copyStrokes(state.strokes));
    if (state.history.length > 200) state.history.shift();
  }

  function undo() {
    if (!state.history.length) return status("Nothing to undo.");
    state.strokes = state.history.pop();
    state.preview = null;
    redrawPad();
  }

  function clearPad() {
    if (!state.strokes.length) return;
    remember();
    state.strokes = [];
    state.preview = null;
    redrawPad();
    status("Cleared (Z brings it back).");
  }

  // ------------------------------------------------------------------------------------------ server

  function formatDetail(detail) {
    if (Array.isArray(detail)) {
      return detail.map((e) => `${(e.loc || []).filter((p) => p !== "body").join(".") || "request"}: ${e.msg}`).join("; ");
    }
    return String(detail);
  }

  async function api(path, body) {
    const init = body === undefined ? {} : {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    };
    const res = await fetch(path, init);
    if (!res.ok) {
      let detail = `${res.status} ${res.statusText}`;
      try { detail = formatDetail((await res.json()).detail); } catch (_) { /* not JSON */ }
      throw new Error(detail);
    }
    return res;
  }

  function status(text, kind = "") {
    const el = $("status");
    el.textContent = text;
    el.className = kind;
  }

  const model = () => state.models.find((m) => m.name === $("model").value);
  const temperature = () => Number($("temperature").value);
  const count = () => clamp(Math.round(Number($("count").value) || 4), 1, state.limits.max_n);
  const steps = () => clamp(Math.round(Number($("steps").value) || 8), state.limits.min_steps, state.limits.max_steps);

  async function run(label, work) {
    if (state.busy) return;
    state.busy = true;
    document.body.classList.add("busy");
    updateButtons();
    status(`${label}…`, "working");
    resultsBox.dataset.state = "loading";
    const started = performance.now();
    try {
      await work();
      status(`${label}: done in ${((performance.now() - started) / 1000).toFixed(1)} s.`);
    } catch (error) {
      resultsBox.dataset.state = state.results ? "done" : "empty";
      status(`${label} failed: ${error.message}`, "error");
    } finally {
      state.busy = false;
      document.body.classList.remove("busy");
      updateButtons();
    }
  }

  function needDrawing() {
    if (state.strokes.length) return true;
    status("Draw something first.", "error");
    return false;
  }

  function complete() {
    if (!needDrawing()) return;
    const prefix = copyStrokes(state.strokes);
    run("Complete", async () => {
      const data = await (await api("/api/complete", {
        model: model().name, drawing: drawingRows(prefix), n: count(), temperature: temperature(), canvas_size: SIZE,
      })).json();
      const items = data.drawings.map((rows, i) => ({
        rows, prefix, tail: toLines(rows, data.prefix_rows), color: PALETTE[i % PALETTE.length],
        label: `#${i + 1}`,
      }));
      showResults("complete", "Completions", items, data);
    });
  }

  function reconstruct() {
    if (!needDrawing()) return;
    const original = copyStrokes(state.strokes);
    run("Reconstruct", async () => {
      const data = await (await api("/api/reconstruct", {
        model: model().name, drawing: drawingRows(original), n: count(), temperature: temperature(), canvas_size: SIZE,
      })).json();
      const items = data.drawings.map((rows, i) => ({
        rows, lines: toLines(rows), color: PALETTE[i % PALETTE.length], label: `#${i + 1}`, keepPlace: true,
      }));
      showResults("reconstruct", "Reconstructions", items, data);
    });
  }

  function sample() {
    run("Sample", async () => {
      const data = await (await api("/api/sample", {
        model: model().name, n: count(), temperature: temperature(),
      })).json();
      const items = data.drawings.map((rows, i) => ({
        rows, lines: toLines(rows), color: PALETTE[i % PALETTE.length], label: `#${i + 1}`,
      }));
      showResults("sample", "Samples", items, data);
    });
  }

  function interpolate() {
    const { a, b } = state.slots;
    if (!a || !b) {
      status(`Store two drawings first: ${a ? "" : "A"}${!a && !b ? " and " : ""}${b ? "" : "B"} missing (keys A, B).`, "error");
      return;
    }
    run("Interpolate", async () => {
      const n = steps();
      const data = await (await api("/api/interpolate", {
        model: model().name, a: drawingRows(a), b: drawingRows(b), steps: n, temperature: temperature(),
        canvas_size: SIZE,
      })).json();
      const items = data.drawings.map((rows, i) => ({
        rows, lines: toLines(rows), color: i === 0 ? PALETTE[0] : i === n - 1 ? PALETTE[1] : "#475569",
        label: i === 0 ? "A" : i === n - 1 ? "B" : `${i}/${n - 1}`, keepPlace: true,
      }));
      showResults("interpolate", "Interpolation A → B", items, data);
    });
  }

  function store(key) {
    if (!needDrawing()) return;
    state.slots[key] = copyStrokes(state.strokes);
    drawSlot(key);
    updateButtons();
    status(`Stored the drawing as ${key.toUpperCase()}.`);
  }

  function load(key) {
    if (!state.slots[key]) return;
    remember();
    state.strokes = copyStrokes(state.slots[key]);
    redrawPad();
  }

  async function download(format, drawings, name) {
    const kept = drawings.filter((rows) => rows.length).map(clampRows);
    if (!kept.length) return status("Nothing to download yet.", "error");
    try {
      const res = await api("/api/render", { drawings: kept, format, size: 512 });
      const url = URL.createObjectURL(await res.blob());
      const link = document.createElement("a");
      link.href = url;
      link.download = name;
      document.body.appendChild(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 5000);
      status(`Saved ${name}.`);
    } catch (error) {
      status(`Download failed: ${error.message}`, "error");
    }
  }

  // ------------------------------------------------------------------------------------------ results

  function showResults(kind, title, items, data) {
    cancelAnimation();
    state.results = { kind, items };
    state.preview = null;
    redrawPad();
    $("results-title").textContent = title;
    $("results-meta").textContent = `${data.model} · T ${temperature().toFixed(2)}`;
    $("btn-results-svg").disabled = !items.length;
    resultsBox.replaceChildren();
    resultsBox.className = `results ${kind}`;
    const size = tileSize(items.length, kind);
    const tiles = items.map((item, i) => makeTile(item, i, size, kind));
    resultsBox.dataset.state = "animating";
    animate(tiles);
  }

  // Tiles in a balanced grid (a wrapping strip of at most 6 a row for interpolations) that fills the panel's width.
  function tileSize(n, kind) {
    const width = resultsBox.clientWidth || 640;
    const gap = kind === "interpolate" ? 8 : 14;
    const chrome = kind === "interpolate" ? 14 : 18; // a tile's padding and border
    const cols = kind === "interpolate" ? (n <= 6 ? n : Math.ceil(n / Math.ceil(n / 6))) : Math.ceil(Math.sqrt(n));
    const size = Math.floor((width - (cols - 1) * gap) / cols) - chrome - 1;
    return clamp(size, 64, kind === "interpolate" ? 180 : 300);
  }

  function makeTile(item, index, size, kind) {
    const figure = document.createElement("figure");
    figure.className = "tile";
    figure.tabIndex = 0;
    figure.dataset.index = String(index);
    figure.title = kind === "complete" ? "click to add these strokes to your drawing" : "click to put this drawing on the canvas";
    const canvas = document.createElement("canvas");
    const caption = document.createElement("figcaption");
    caption.textContent = item.label;
    figure.append(canvas, caption);
    resultsBox.append(figure);
    const c = setupCanvas(canvas, size, size);

    let still = []; // drawn at once (the user's own strokes)
    let moving = []; // drawn point by point
    if (kind === "complete") {
      still = item.prefix;
      moving = item.tail;
    } else {
      moving = item.lines;
    }
    const map = fitter(still.concat(moving), size, size, 0.08);
    const total = moving.reduce((n, l) => n + l.length, 0);
    if (!total && !still.length) {
      caption.textContent = `${item.label} (empty)`;
    } else if (kind === "complete" && !total) {
      caption.textContent = `${item.label} (nothing added)`;
    }
    const width = size < 150 ? 1.8 : 2.4;
    const tile = {
      total,
      paint(shown) {
        c.clearRect(0, 0, size, size);
        strokeLines(c, still, PREFIX_INK, width, map);
        let left = shown;
        const part = [];
        for (const line of moving) {
          if (left <= 0) break;
          part.push(line.slice(0, left));
          left -= line.length;
        }
        strokeLines(c, part, item.color, width, map);
      },
    };
    figure.addEventListener("click", () => accept(item, kind));
    figure.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") { event.preventDefault(); event.stopPropagation(); accept(item, kind); }
    });
    if (kind === "complete") {
      const show = () => { state.preview = { lines: item.tail, color: item.color }; redrawPad(); };
      const hide = () => { state.preview = null; redrawPad(); };
      figure.addEventListener("pointerenter", show);
      figure.addEventListener("pointerleave", hide);
      figure.addEventListener("focus", show);
      figure.addEventListener("blur", hide);
    }
    tile.paint(0);
    return tile;
  }

  function animate(tiles) {
    const longest = Math.max(0, ...tiles.map((t) => t.total));
    const duration = clamp(longest * MS_PER_POINT, MIN_ANIMATION_MS, MAX_ANIMATION_MS);
    const start = performance.now();
    const token = {};
    state.animation = token;
    const frame = (now) => {
      if (state.animation !== token) return;
      const progress = Math.min(1, (now - start) / duration);
      for (const t of tiles) t.paint(Math.ceil(t.total * progress));
      if (progress < 1) {
        requestAnimationFrame(frame);
      } else {
        state.animation = null;
        resultsBox.dataset.state = "done";
      }
    };
    requestAnimationFrame(frame);
  }

  function cancelAnimation() {
    state.animation = null;
  }

  function accept(item, kind) {
    remember();
    state.preview = null;
    if (kind === "complete") {
      state.strokes = state.strokes.concat(copyStrokes(item.tail));
      status(`Added ${item.label}'s strokes (Z to undo).`);
    } else {
      const lines = item.lines.filter((l) => l.length);
      const b = bounds(lines);
      const inside = b && b.x0 >= 0 && b.y0 >= 0 && b.x1 <= SIZE && b.y1 <= SIZE;
      const map = item.keepPlace && inside ? (p) => p : fitter(lines, SIZE, SIZE, 0.2);
      state.strokes = lines.map((l) => l.map(map));
      status(`Put ${item.label} on the canvas (Z to undo).`);
    }
    redrawPad();
  }

  // ------------------------------------------------------------------------------------------ controls

  function updateButtons() {
    const m = model();
    const conditional = Boolean(m && m.conditional);
    const busy = state.busy || !m;
    for (const id of ["btn-complete", "btn-sample"]) $(id).disabled = busy;
    $("btn-reconstruct").disabled = busy || !conditional;
    $("btn-interpolate").disabled = busy || !conditional || !state.slots.a || !state.slots.b;
    const why = conditional ? "" : " (needs a conditional model)";
    $("btn-reconstruct").title = `encode and decode your drawing (R)${why}`;
    $("btn-interpolate").title = `drawings between A and B (I)${why}`;
  }

  function showModel() {
    const m = model();
    if (!m) return;
    const kind = m.conditional ? `conditional · z ${m.z_size}` : "unconditional";
    $("model-info").textContent = `${kind} · ${m.cell} · ≤ ${m.max_seq_len} pts`;
    updateButtons();
  }

  function setTemperature(value) {
    const t = clamp(Math.round(value * 20) / 20, 0, state.limits.max_temperature);
    $("temperature").value = String(t);
    $("temperature-value").textContent = t.toFixed(2);
  }

  $("temperature").addEventListener("input", () => setTemperature(temperature()));
  $("model").addEventListener("change", showModel);
  $("btn-complete").addEventListener("click", complete);
  $("btn-reconstruct").addEventListener("click", reconstruct);
  $("btn-sample").addEventListener("click", sample);
  $("btn-interpolate").addEventListener("click", interpolate);
  $("btn-use-a").addEventListener("click", () => store("a"));
  $("btn-use-b").addEventListener("click", () => store("b"));
  $("slot-a").addEventListener("click", () => load("a"));
  $("slot-b").addEventListener("click", () => load("b"));
  $("btn-undo").addEventListener("click", undo);
  $("btn-clear").addEventListener("click", clearPad);
  $("btn-svg").addEventListener("click", () => download("svg", [drawingRows(state.strokes)], "sketch.svg"));
  $("btn-png").addEventListener("click", () => download("png", [drawingRows(state.strokes)], "sketch.png"));
  $("btn-results-svg").addEventListener("click", () => {
    if (state.results) download("svg", state.results.items.map((it) => it.rows), `${state.results.kind}.svg`);
  });

  document.addEventListener("keydown", (event) => {
    const target = event.target;
    if (target instanceof HTMLInputElement || target instanceof HTMLSelectElement || target instanceof HTMLTextAreaElement) return;
    const key = event.key.toLowerCase();
    if ((event.ctrlKey || event.metaKey) && key === "z") {
      event.preventDefault();
      return undo();
    }
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const actions = {
      c: complete, r: () => !$("btn-reconstruct").disabled && reconstruct(), s: sample,
      i: interpolate, a: () => store("a"), b: () => store("b"), z: undo, u: undo,
      x: clearPad, delete: clearPad,
      "[": () => setTemperature(temperature() - 0.05), "]": () => setTemperature(temperature() + 0.05),
      escape: () => { state.preview = null; redrawPad(); },
    };
    if (actions[key]) {
      event.preventDefault();
      actions[key]();
    }
  });

  // ------------------------------------------------------------------------------------------ start

  async function start() {
    setupCanvas(pad, SIZE, SIZE);
    pad.style.width = "";
    pad.style.height = "";
    redrawPad();
    drawSlot("a");
    drawSlot("b");
    setTemperature(temperature());
    try {
      const data = await (await api("/api/models")).json();
      state.models = data.models;
      Object.assign(state.limits, data.limits);
      const select = $("model");
      for (const m of data.models) {
        const option = document.createElement("option");
        option.value = m.name;
        option.textContent = m.name;
        select.append(option);
      }
      select.value = data.default;
      showModel();
      document.body.dataset.ready = "true";
      status(`Ready: ${data.models.length} model${data.models.length === 1 ? "" : "s"} loaded.`);
    } catch (error) {
      status(`Could not load the models: ${error.message}`, "error");
    }
  }

  start();
})();
