// Strokes, stroke-3 rows and polylines: pure functions, no DOM.

import { MAX_COORD } from "./state.js";

export const copyStrokes = (strokes) => strokes.map((s) => s.map((p) => [p[0], p[1]]));

export function toStroke3(strokes) {
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
export function toLines(rows, from = 0) {
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

export function bounds(lines) {
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (const line of lines) {
    for (const [x, y] of line) {
      x0 = Math.min(x0, x); y0 = Math.min(y0, y); x1 = Math.max(x1, x); y1 = Math.max(y1, y);
    }
  }
  return x0 === Infinity ? null : { x0, y0, x1, y1 };
}

// A function mapping points of `lines` into a `w` x `h` box with a margin, keeping the aspect ratio.
export function fitter(lines, w, h, margin) {
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
export function rdp(points, eps) {
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

export const clampRows = (rows) => rows.map(([x, y, p]) => [clamp(x, -MAX_COORD, MAX_COORD), clamp(y, -MAX_COORD, MAX_COORD), p]);
export const clamp = (v, lo, hi) => Math.max(lo, Math.min(hi, v));
