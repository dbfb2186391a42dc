// The studio's shared state, its constants and the status line.

export const SIZE = 512; // the drawing canvas, in canvas pixels
export const SLOT = 44; // the A and B thumbnails
export const MIN_GAP = 2; // pixels between two captured points of a stroke
export const INK = "#1f2937";
export const INK_WIDTH = 3.2; // the pen's width on the canvas, in canvas pixels
export const PREFIX_INK = "#c2c8d1";
export const PALETTE = ["#2563eb", "#e11d48", "#059669", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#65a30d"];
export const MS_PER_POINT = 14;
export const MIN_ANIMATION_MS = 500;
export const MAX_ANIMATION_MS = 2600;
export const MAX_COORD = 1e5;

export const $ = (id) => document.getElementById(id);

export const state = {
  strokes: [], // [[[x, y], ...], ...] canvas pixels
  current: null, // the stroke being drawn
  pointerId: null,
  history: [], // snapshots of `strokes` for undo
  models: [],
  limits: { max_points: 1000, max_strokes: 100, max_n: 16, min_steps: 2, max_steps: 16, max_temperature: 2 },
  slots: { a: null, b: null },
  results: null, // { kind, items }
  busy: false,
  animation: null,
  live: null, // the model continuing the drawing on the canvas (live.js)
  settings: { live: true, pause: false, keep: false, futures: 1 }, // the "draw together" options
};

export function status(text, kind = "") {
  const el = $("status");
  el.textContent = text;
  el.title = text; // the bar shows one line
  el.className = kind;
}
