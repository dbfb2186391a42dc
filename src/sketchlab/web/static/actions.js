// What the buttons and keys ask the server for: complete, reconstruct, sample, interpolate, the A/B slots, downloads.

import { api, drawingRows } from "./api.js";
import { count, model, steps, temperature, updateButtons } from "./controls.js";
import { clampRows, copyStrokes, toLines } from "./geometry.js";
import { drawSlot, redrawPad, remember } from "./pad.js";
import { resultsBox, showResults } from "./results.js";
import { PALETTE, SIZE, state, status } from "./state.js";

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

export function complete() {
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

export function reconstruct() {
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

export function sample() {
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

export function interpolate() {
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

export function store(key) {
  if (!needDrawing()) return;
  state.slots[key] = copyStrokes(state.strokes);
  drawSlot(key);
  updateButtons();
  status(`Stored the drawing as ${key.toUpperCase()}.`);
}

export function load(key) {
  if (!state.slots[key]) return;
  remember();
  state.strokes = copyStrokes(state.slots[key]);
  redrawPad();
}

export async function download(format, drawings, name) {
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
