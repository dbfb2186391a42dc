// The results panel: tiles drawn stroke by stroke, a result taken onto the canvas, errors shown beside the results.
// (Completions continue live on the canvas and in tiles of their own: live.js.)

import { bounds, clamp, fitter } from "./geometry.js";
import { redrawPad, remember, save, setupCanvas, strokeLines } from "./pad.js";
import { $, INK, MAX_ANIMATION_MS, MIN_ANIMATION_MS, MS_PER_POINT, SIZE, state, status } from "./state.js";

export const resultsBox = $("results");

// `request`: the model and temperature the request used (the label says these, not the controls' current values).
export function showResults(kind, title, items, request) {
  cancelAnimation();
  clearError();
  state.results = { kind, items };
  redrawPad();
  $("results-title").textContent = title;
  $("results-meta").textContent = `${request.model} · T ${request.temperature.toFixed(2)}`;
  $("btn-results-svg").disabled = !items.length;
  resultsBox.replaceChildren();
  resultsBox.className = `results ${kind}`;
  resultsBox.dataset.stale = "false";
  const size = tileSize(items.length, kind);
  // One mapping for every tile (the union of all drawings fitted), so the results compare at one scale.
  const map = fitter(items.flatMap((item) => item.lines), size, size, 0.08);
  const tiles = items.map((item, i) => makeTile(item, i, size, map));
  resultsBox.dataset.state = "animating";
  animate(tiles);
}

// An error next to the results; the results shown are marked stale (they answer an earlier request).
export function showError(text) {
  const box = $("results-error");
  box.textContent = text;
  box.hidden = false;
  if (resultsBox.children.length && !resultsBox.querySelector(".empty")) resultsBox.dataset.stale = "true";
  if (resultsBox.dataset.state === "loading" || resultsBox.dataset.state === "animating") {
    resultsBox.dataset.state = state.results ? "done" : "empty";
  }
  status(text, "error");
}

export function clearError() {
  $("results-error").hidden = true;
  $("results-error").textContent = "";
}

// Tiles in a balanced grid (a wrapping strip of at most 6 a row for interpolations) that fills the panel's width.
export function tileSize(n, kind) {
  const width = resultsBox.clientWidth || 640;
  const gap = kind === "interpolate" ? 8 : 14;
  const chrome = kind === "interpolate" ? 14 : 18; // a tile's padding and border
  const cols = kind === "interpolate" ? (n <= 6 ? n : Math.ceil(n / Math.ceil(n / 6))) : Math.ceil(Math.sqrt(n));
  const size = Math.floor((width - (cols - 1) * gap) / cols) - chrome - 1;
  return clamp(size, 64, kind === "interpolate" ? 180 : 300);
}

function makeTile(item, index, size, map) {
  const figure = document.createElement("figure");
  figure.className = item.original ? "tile original" : "tile";
  figure.tabIndex = 0;
  figure.dataset.index = String(index);
  figure.title = "click to put this drawing on the canvas";
  const canvas = document.createElement("canvas");
  const caption = document.createElement("figcaption");
  caption.textContent = item.label;
  figure.append(canvas, caption);
  resultsBox.append(figure);
  const c = setupCanvas(canvas, size, size);
  const total = item.lines.reduce((n, l) => n + l.length, 0);
  if (!total) caption.textContent = `${item.label} (empty)`;
  const width = size < 150 ? 1.8 : 2.4;
  const tile = {
    total: item.original ? 0 : total,
    paint(shown) {
      c.clearRect(0, 0, size, size);
      let left = item.original ? Infinity : shown;
      const part = [];
      for (const line of item.lines) {
        if (left <= 0) break;
        part.push(line.slice(0, left));
        left -= line.length;
      }
      strokeLines(c, part, item.color || INK, width, map);
    },
  };
  figure.addEventListener("click", () => accept(item));
  figure.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") { event.preventDefault(); event.stopPropagation(); accept(item); }
  });
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

function accept(item) {
  remember();
  const lines = item.lines.filter((l) => l.length);
  const b = bounds(lines);
  const inside = b && b.x0 >= 0 && b.y0 >= 0 && b.x1 <= SIZE && b.y1 <= SIZE;
  const map = item.keepPlace && inside ? (p) => p : fitter(lines, SIZE, SIZE, 0.2);
  state.strokes = lines.map((l) => l.map(map));
  save();
  status(`Put ${item.label} on the canvas (Z to undo).`);
  redrawPad();
}
