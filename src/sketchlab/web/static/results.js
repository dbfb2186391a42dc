// The results panel: tiles drawn stroke by stroke, a completion previewed on hover, a result taken onto the canvas.

import { temperature } from "./controls.js";
import { bounds, clamp, copyStrokes, fitter } from "./geometry.js";
import { redrawPad, remember, setupCanvas, strokeLines } from "./pad.js";
import { $, MAX_ANIMATION_MS, MIN_ANIMATION_MS, MS_PER_POINT, PREFIX_INK, SIZE, state, status } from "./state.js";

export const resultsBox = $("results");

export function showResults(kind, title, items, data) {
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
