// The drawing canvas and the A/B thumbnails: painting, pointer input, undo.

import { copyStrokes, fitter } from "./geometry.js";
import { $, INK, MIN_GAP, SIZE, SLOT, state, status } from "./state.js";

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
  strokeLines(ctx, state.strokes, INK, 3.2);
  if (state.current) strokeLines(ctx, [state.current], INK, 3.2);
  if (state.preview) {
    ctx.globalAlpha = 0.55;
    strokeLines(ctx, state.preview.lines, state.preview.color, 3);
    ctx.globalAlpha = 1;
  }
  $("hint").hidden = state.strokes.length > 0 || state.current !== null;
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

// ------------------------------------------------------------------------------------------ undo

export function remember() {
  state.history.push(copyStrokes(state.strokes));
  if (state.history.length > 200) state.history.shift();
}

export function undo() {
  if (!state.history.length) return status("Nothing to undo.");
  state.strokes = state.history.pop();
  state.preview = null;
  redrawPad();
}

export function clearPad() {
  if (!state.strokes.length) return;
  remember();
  state.strokes = [];
  state.preview = null;
  redrawPad();
  status("Cleared (Z brings it back).");
}
