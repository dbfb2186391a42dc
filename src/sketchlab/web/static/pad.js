// The drawing canvas and the A/B thumbnails: painting, pointer input, undo.

import { copyStrokes, fitter } from "./geometry.js";
import { paintLive, startLive, stopLive } from "./live.js";
import { $, INK, INK_WIDTH, MIN_GAP, SIZE, SLOT, state, status } from "./state.js";

const PAUSE_MS = 450; // a pen resting this long, with "while I pause" on, lets the model carry the stroke on
const STORE = "sketchlab-studio"; // localStorage key: the drawing, the A/B slots and the settings survive a reload

const pad = $("pad");
const ctx = pad.getContext("2d");

export function setupCanvas(canvas, w, h) {
  const dpr = window.devicePixelRatio || 1;
  canvas.width = Math.round(w * dpr);
  canvas.height = Math.round(h * dpr);
  canvas.style.width = `${w}px`;
  canvas.style.height = `${h}px`;
  const c = canvas.getContext("2d");
  c.setTransform(dpr, 0, 0, dpr, 0, 0);
  return c;
}

export function strokeLines(c, lines, color, width, map = (p) => p) {
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

export function redrawPad() {
  ctx.clearRect(0, 0, SIZE, SIZE);
  strokeLines(ctx, state.strokes, INK, INK_WIDTH);
  if (state.current) strokeLines(ctx, [state.current], INK, INK_WIDTH);
  paintLive(ctx);
  $("hint").hidden = state.strokes.length > 0 || state.current !== null || state.live !== null;
}

export function drawSlot(key) {
  const box = $(`slot-${key}`);
  const canvas = box.querySelector("canvas");
  const c = setupCanvas(canvas, SLOT, SLOT);
  c.clearRect(0, 0, SLOT, SLOT);
  const strokes = state.slots[key];
  box.classList.toggle("filled", Boolean(strokes));
  if (strokes) strokeLines(c, strokes, INK, 1.4, fitter(strokes, SLOT, SLOT, 0.12));
}

export function setupPad() {
  setupCanvas(pad, SIZE, SIZE);
  pad.style.width = "";
  pad.style.height = "";
  redrawPad();
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
  stopLive(); // the user draws again: the model's unfinished strokes stop
  pad.setPointerCapture(event.pointerId);
  state.pointerId = event.pointerId;
  state.current = [canvasPoint(event)];
  redrawPad();
});

let pauseTimer = null;

pad.addEventListener("pointermove", (event) => {
  if (!state.current || event.pointerId !== state.pointerId) return;
  const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
  const before = state.current.length;
  for (const e of events.length ? events : [event]) addPoint(canvasPoint(e));
  if (state.current.length === before) return; // resting: not a move
  if (state.live) stopLive({ keep: false }); // the pen moves on after a pause: the user's stroke goes on
  clearTimeout(pauseTimer);
  if (state.settings.live && state.settings.pause) {
    pauseTimer = setTimeout(() => state.current && startLive(state.settings.futures, { open: true }), PAUSE_MS);
  }
  redrawPad();
});

function endStroke(event) {
  if (!state.current || event.pointerId !== state.pointerId) return;
  clearTimeout(pauseTimer);
  if (state.live) stopLive({ keep: false }); // a pause's continuation gives way to the pen-up one
  addPoint(canvasPoint(event));
  remember();
  state.strokes.push(state.current);
  state.current = null;
  state.pointerId = null;
  save();
  window.studioTrace.penUp = performance.now();
  if (state.settings.live) startLive(state.settings.futures);
  redrawPad();
}

pad.addEventListener("pointerup", endStroke);
pad.addEventListener("pointercancel", endStroke);

// ------------------------------------------------------------------------------------------ undo

export function remember() {
  state.history.push(copyStrokes(state.strokes));
  if (state.history.length > 200) state.history.shift();
}

export function undo() {
  if (state.live) return stopLive({ keep: false }); // first, the model's strokes on screen go
  if (!state.history.length) return status("Nothing to undo.");
  state.strokes = state.history.pop();
  save();
  redrawPad();
}

export function clearPad() {
  stopLive({ keep: false });
  if (!state.strokes.length) return;
  remember();
  state.strokes = [];
  save();
  redrawPad();
  status("Cleared (Z brings it back).");
}

// ------------------------------------------------------------------------------------------ across reloads

export function save() {
  try {
    localStorage.setItem(STORE, JSON.stringify({
      strokes: state.strokes, slots: state.slots, settings: state.settings, model: $("model").value || null,
    }));
  } catch (_) { /* storage full or refused: the page works without it */ }
}

// The drawing, slots and settings saved by an earlier visit; the model name it used (or null).
export function restore() {
  let saved = null;
  try { saved = JSON.parse(localStorage.getItem(STORE) || "null"); } catch (_) { return null; }
  if (!saved || typeof saved !== "object") return null;
  const valid = (strokes) => Array.isArray(strokes) && strokes.every((s) => Array.isArray(s) && s.every(
    (p) => Array.isArray(p) && p.length === 2 && p.every(Number.isFinite)));
  if (valid(saved.strokes)) state.strokes = saved.strokes;
  for (const key of ["a", "b"]) if (saved.slots && valid(saved.slots[key])) state.slots[key] = saved.slots[key];
  if (saved.settings && typeof saved.settings === "object") {
    for (const key of Object.keys(state.settings)) {
      if (typeof saved.settings[key] === typeof state.settings[key]) state.settings[key] = saved.settings[key];
    }
  }
  return typeof saved.model === "string" ? saved.model : null;
}
