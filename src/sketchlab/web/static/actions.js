// What the buttons and keys ask for: complete (live, live.js), reconstruct, sample, interpolate, the A/B slots,
// downloads of the user's drawing (made in the page: no model and no API limit in the way).

import { api, requestRows } from "./api.js";
import { count, interpolationTemperature, model, steps, temperature, updateButtons } from "./controls.js";
import { clampRows, copyStrokes, toLines } from "./geometry.js";
import { startLive } from "./live.js";
import { drawSlot, redrawPad, remember, save } from "./pad.js";
import { clearError, resultsBox, showError, showResults } from "./results.js";
import { INK, INK_WIDTH, PALETTE, SIZE, state, status } from "./state.js";

// Run one request at a time, with the page marked busy and the time taken shown.
async function run(label, work) {
  if (state.busy) return;
  state.busy = true;
  document.body.classList.add("busy");
  updateButtons();
  status(`${label}…`, "working");
  resultsBox.dataset.state = "loading";
  const started = performance.now();
  try {
    const note = await work(); // what the page should know beside the time taken, if anything
    clearError();
    status(`${label}: done in ${((performance.now() - started) / 1000).toFixed(1)} s.${note || ""}`);
  } catch (error) {
    showError(`${label} failed: ${error.message}`);
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

// A valid number of candidates, or null with the field marked and the reason said.
function candidates() {
  const n = count();
  if (n === null) status(`Candidates must be a whole number from 1 to ${state.limits.max_n}.`, "error");
  return n;
}

export function complete() {
  const n = candidates();
  if (n === null || !needDrawing()) return;
  clearError();
  startLive(n, { label: "Complete" });
}

// A drawing longer than the model reads: it read the most recent part (nothing is refused for its length).
function readNote(dropped, drawn) {
  return dropped ? ` The model read your last ${drawn - dropped} of ${drawn} strokes.` : "";
}

export function reconstruct() {
  const n = candidates();
  if (n === null || !needDrawing()) return;
  const original = copyStrokes(state.strokes);
  const request = { model: model().name, temperature: temperature() };
  run("Reconstruct", async () => {
    const { rows, dropped } = requestRows(original);
    const data = await (await api("/api/reconstruct", {
      ...request, drawing: rows, n, canvas_size: SIZE,
    })).json();
    const items = data.drawings.map((r, i) => ({
      rows: r, lines: toLines(r), color: PALETTE[i % PALETTE.length], label: `#${i + 1}`, keepPlace: true,
    }));
    showResults("reconstruct", "Reconstructions", items, request);
    return readNote(data.dropped_strokes + dropped, original.length);
  });
}

export function sample() {
  const n = candidates();
  if (n === null) return;
  const request = { model: model().name, temperature: temperature() };
  run("Sample", async () => {
    const data = await (await api("/api/sample", { ...request, n })).json();
    const items = data.drawings.map((rows, i) => ({
      rows, lines: toLines(rows), color: PALETTE[i % PALETTE.length], label: `#${i + 1}`,
    }));
    showResults("sample", "Samples", items, request);
  });
}

// The drawings between A and B, shown between the two originals (so each decode can be told from its drawing).
export function interpolate() {
  const { a, b } = state.slots;
  if (!a || !b) {
    status(`Store two drawings first: ${a ? "" : "A"}${!a && !b ? " and " : ""}${b ? "" : "B"} missing (keys A, B).`, "error");
    return;
  }
  const request = { model: model().name, temperature: interpolationTemperature() };
  run("Interpolate", async () => {
    const n = steps();
    const data = await (await api("/api/interpolate", {
      ...request, a: requestRows(a).rows, b: requestRows(b).rows, steps: n, canvas_size: SIZE,
    })).json();
    const decoded = data.drawings.map((rows, i) => ({
      rows, lines: toLines(rows), color: i === 0 ? PALETTE[0] : i === n - 1 ? PALETTE[1] : "#475569",
      label: i === 0 ? "A decoded" : i === n - 1 ? "B decoded" : `${i}/${n - 1}`, keepPlace: true,
    }));
    const original = (strokes, label) => ({
      rows: requestRows(strokes).rows, lines: copyStrokes(strokes), label, keepPlace: true, original: true,
    });
    showResults("interpolate", "Interpolation A → B", [original(a, "A yours"), ...decoded, original(b, "B yours")],
      request);
  });
}

export function store(key) {
  if (!needDrawing()) return;
  state.slots[key] = copyStrokes(state.strokes);
  drawSlot(key);
  updateButtons();
  save();
  status(`Stored the drawing as ${key.toUpperCase()}.`);
}

export function load(key) {
  if (!state.slots[key]) return;
  remember();
  state.strokes = copyStrokes(state.slots[key]);
  save();
  redrawPad();
}

// ------------------------------------------------------------------------------------------ downloads

function drawingSvg(lines, size) {
  const paths = lines.filter((l) => l.length).map((line) => {
    const d = line.map(([x, y], i) => `${i ? "L" : "M"}${x.toFixed(1)} ${y.toFixed(1)}`).join(" ");
    return `<path d="${line.length === 1 ? `${d} l0 0` : d}"/>`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}" viewBox="0 0 ${SIZE} ${SIZE}">` +
    `<rect width="${SIZE}" height="${SIZE}" fill="#fff"/><g fill="none" stroke="${INK}" stroke-width="${INK_WIDTH}" ` +
    `stroke-linecap="round" stroke-linejoin="round">${paths.join("")}</g></svg>\n`;
}

function drawingPng(lines, size) {
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = size;
  const c = canvas.getContext("2d");
  c.fillStyle = "#fff";
  c.fillRect(0, 0, size, size);
  c.scale(size / SIZE, size / SIZE);
  c.strokeStyle = c.fillStyle = INK;
  c.lineWidth = INK_WIDTH;
  c.lineCap = c.lineJoin = "round";
  for (const line of lines.filter((l) => l.length)) {
    c.beginPath();
    c.moveTo(line[0][0], line[0][1]);
    for (const [x, y] of line.slice(1)) c.lineTo(x, y);
    if (line.length === 1) c.lineTo(line[0][0] + 0.01, line[0][1]);
    c.stroke();
  }
  return new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
}

function saveBlob(blob, name) {
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 5000);
  status(`Saved ${name}.`);
}

// The user's drawing as it is on the canvas, every stroke, drawn here in the page.
export async function downloadDrawing(format) {
  if (!state.strokes.length) return status("Nothing to download yet.", "error");
  const blob = format === "svg"
    ? new Blob([drawingSvg(state.strokes, SIZE)], { type: "image/svg+xml" })
    : await drawingPng(state.strokes, SIZE * 2);
  saveBlob(blob, `sketch.${format}`);
}

// Every result as one SVG grid, drawn by the server (results are few and within the API's limits).
export async function downloadResults() {
  if (!state.results) return;
  const kept = state.results.items.map((it) => clampRows(it.rows)).filter((rows) => rows.length);
  try {
    const res = await api("/api/render", { drawings: kept, format: "svg", size: 512 });
    saveBlob(await res.blob(), `${state.results.kind}.svg`);
  } catch (error) {
    showError(`Download failed: ${error.message}`);
  }
}
