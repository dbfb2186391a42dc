// The side panel's controls and the keyboard: model, temperature, count, steps, buttons and their keys.

import { complete, download, interpolate, load, reconstruct, sample, store } from "./actions.js";
import { api, drawingRows } from "./api.js";
import { clamp } from "./geometry.js";
import { clearPad, redrawPad, undo } from "./pad.js";
import { $, state } from "./state.js";

export const model = () => state.models.find((m) => m.name === $("model").value);
export const temperature = () => Number($("temperature").value);
export const count = () => clamp(Math.round(Number($("count").value) || 4), 1, state.limits.max_n);
export const steps = () => clamp(Math.round(Number($("steps").value) || 8), state.limits.min_steps, state.limits.max_steps);

export function updateButtons() {
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

export function setTemperature(value) {
  const t = clamp(Math.round(value * 20) / 20, 0, state.limits.max_temperature);
  $("temperature").value = String(t);
  $("temperature-value").textContent = t.toFixed(2);
}

// The models the server offers, into the model menu; the number of models loaded.
export async function loadModels() {
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
  return data.models.length;
}

export function wireControls() {
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
  document.addEventListener("keydown", onKey);
}

function onKey(event) {
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
}
