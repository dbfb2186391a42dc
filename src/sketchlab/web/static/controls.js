// The controls and the keyboard: the model picker, temperature, candidates, steps, the "draw together" options,
// buttons and their keys.

import { complete, downloadDrawing, downloadResults, interpolate, load, reconstruct, sample, store } from "./actions.js";
import { api } from "./api.js";
import { clamp } from "./geometry.js";
import { keepFuture, stopLive } from "./live.js";
import { clearPad, save, undo } from "./pad.js";
import { $, state, status } from "./state.js";

const GROUPS = { shipped: "Shipped with sketchlab", cache: "Downloaded (in the cache)", yours: "Your models" };

export const model = () => state.models.find((m) => m.name === $("model").value);
export const temperature = () => Number($("temperature").value);
export const interpolationTemperature = () => Number($("interp-temperature").value);
export const steps = () => clamp(Math.round(Number($("steps").value) || 8), state.limits.min_steps, state.limits.max_steps);

// The number of candidates, or null when the field holds something out of range (marked, never silently changed).
export function count() {
  const field = $("count");
  const n = Number(field.value);
  const ok = field.value.trim() !== "" && Number.isInteger(n) && n >= 1 && n <= state.limits.max_n;
  field.setAttribute("aria-invalid", String(!ok));
  return ok ? n : null;
}

// Why a button is off, or "" when it is on.
function whyNot(id) {
  const m = model();
  if (!m) return "no model loaded";
  if (state.busy) return "a request is running";
  if ((id === "btn-reconstruct" || id === "btn-interpolate") && !m.conditional) {
    return `${m.name} has no encoder (an unconditional model): choose a model that can redraw, such as sheep`;
  }
  if (id === "btn-interpolate" && (!state.slots.a || !state.slots.b)) return "store two drawings first (keys A and B)";
  return "";
}

const BUTTONS = { // id: [name, what it does]
  "btn-complete": ["Complete", "the model continues your drawing (C)"],
  "btn-sample": ["Sample", "new drawings from the model alone (S)"],
  "btn-reconstruct": ["Reconstruct", "encode and decode your drawing (R)"],
  "btn-interpolate": ["Interpolate", "drawings between A and B (I)"],
};

export function updateButtons() {
  for (const [id, [, title]] of Object.entries(BUTTONS)) {
    const why = whyNot(id);
    $(id).disabled = Boolean(why);
    $(id).title = why ? `${title}: off, ${why}` : title;
  }
}

// A key whose button is off says why instead of doing nothing.
const pressed = (id, action) => () => {
  const why = whyNot(id);
  if (why) return status(`${BUTTONS[id][0]} is off: ${why}.`, "error");
  return action();
};

function showModel() {
  const m = model();
  updateButtons();
  if (!m) return;
  chosen = m.name;
  const kind = m.conditional ? `conditional · z ${m.z_size}` : "unconditional";
  $("model-info").textContent = `${kind} · ${m.cell} · ≤ ${m.max_seq_len} pts`;
  $("model").title = m.description || m.name;
}

export function setTemperature(value) {
  const t = clamp(Math.round(value * 20) / 20, 0, state.limits.max_temperature);
  $("temperature").value = String(t);
  $("temperature-value").textContent = t.toFixed(2);
}

// The models the server offers into the picker, grouped, with what each draws, then the published models it can
// fetch; `remembered` is chosen if offered.
export async function loadModels(remembered) {
  const data = await (await api("/api/models")).json();
  state.models = data.models;
  Object.assign(state.limits, data.limits);
  const select = $("model");
  select.replaceChildren();
  for (const [group, label] of Object.entries(GROUPS)) {
    const members = data.models.filter((m) => m.group === group);
    if (!members.length) continue;
    const box = document.createElement("optgroup");
    box.label = label;
    for (const m of members) {
      const option = document.createElement("option");
      option.value = m.name;
      option.textContent = m.description || m.name;
      box.append(option);
    }
    select.append(box);
  }
  await addPublished(select);
  select.value = data.models.some((m) => m.name === remembered) ? remembered : data.default;
  showModel();
  return data.models.length;
}

async function addPublished(select) {
  let published = [];
  try { published = (await (await api("/api/catalog")).json()).models.filter((m) => !m.loaded); } catch (_) { return; }
  if (!published.length) return;
  const box = document.createElement("optgroup");
  box.label = "Published by Magenta (fetched when chosen)";
  for (const m of published) {
    const option = document.createElement("option");
    option.value = m.name;
    option.textContent = `${m.draws}${m.cached ? " (in the cache)" : " (download)"}`;
    box.append(option);
  }
  select.append(box);
}

// A published model chosen in the picker: fetched by the server (download, conversion, loading), with progress.
async function fetchPublished(name, previous) {
  const bar = $("fetch-progress");
  bar.hidden = false;
  bar.removeAttribute("value");
  try {
    await api(`/api/catalog/${encodeURIComponent(name)}`, {});
    for (;;) {
      const p = await (await api(`/api/catalog/${encodeURIComponent(name)}`)).json();
      if (p.state === "failed") throw new Error(p.detail);
      if (p.state === "ready") break;
      if (p.total) { bar.max = p.total; bar.value = p.bytes; }
      const mb = (p.bytes / 1e6).toFixed(1);
      status(p.state === "downloading" ? `Downloading ${name}: ${mb}${p.total ? ` of ${(p.total / 1e6).toFixed(1)}` : ""} MB…`
        : `Loading ${name}…`, "working");
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    await loadModels(name);
    status(`${name} is ready.`);
  } catch (error) {
    $("model").value = previous;
    showModel();
    status(`Could not fetch ${name}: ${error.message}`, "error");
  } finally {
    bar.hidden = true;
  }
}

let chosen = null; // the model chosen before, to go back to when a fetch fails

function onModelChosen() {
  stopLive({ keep: false });
  const name = $("model").value;
  if (!state.models.some((m) => m.name === name)) return fetchPublished(name, chosen);
  chosen = name;
  showModel();
  save();
}

function showSettings() {
  $("live").checked = state.settings.live;
  $("live-pause").checked = state.settings.pause;
  $("live-keep").value = state.settings.keep ? "keep" : "drop";
  $("futures").value = String(state.settings.futures);
}

function readSettings() {
  state.settings.live = $("live").checked;
  state.settings.pause = $("live-pause").checked;
  state.settings.keep = $("live-keep").value === "keep";
  state.settings.futures = clamp(Number($("futures").value) || 1, 1, 8);
  if (!state.settings.live) stopLive({ keep: false });
  save();
}

export function wireControls() {
  showSettings();
  for (const id of ["live", "live-pause", "live-keep", "futures"]) $(id).addEventListener("change", readSettings);
  $("temperature").addEventListener("input", () => setTemperature(temperature()));
  $("interp-temperature").addEventListener("input", () => {
    $("interp-temperature-value").textContent = interpolationTemperature().toFixed(2);
  });
  $("count").addEventListener("input", count);
  $("model").addEventListener("change", onModelChosen);
  $("btn-complete").addEventListener("click", complete);
  $("btn-reconstruct").addEventListener("click", reconstruct);
  $("btn-sample").addEventListener("click", sample);
  $("btn-interpolate").addEventListener("click", interpolate);
  $("btn-keep").addEventListener("click", () => keepFuture());
  $("btn-use-a").addEventListener("click", () => store("a"));
  $("btn-use-b").addEventListener("click", () => store("b"));
  $("slot-a").addEventListener("click", () => load("a"));
  $("slot-b").addEventListener("click", () => load("b"));
  $("btn-undo").addEventListener("click", undo);
  $("btn-clear").addEventListener("click", clearPad);
  $("btn-svg").addEventListener("click", () => downloadDrawing("svg"));
  $("btn-png").addEventListener("click", () => downloadDrawing("png"));
  $("btn-results-svg").addEventListener("click", downloadResults);
  document.addEventListener("keydown", onKey);
}

function onKey(event) {
  // keys typed into a field are the field's (checkboxes and sliders leave letters to the shortcuts)
  if (event.target.matches && event.target.matches("input[type=number], input[type=text], select, textarea")) return;
  const key = event.key.toLowerCase();
  if ((event.ctrlKey || event.metaKey) && key === "z") {
    event.preventDefault();
    return undo();
  }
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  const actions = {
    c: pressed("btn-complete", complete), r: pressed("btn-reconstruct", reconstruct), s: pressed("btn-sample", sample),
    i: pressed("btn-interpolate", interpolate), a: () => store("a"), b: () => store("b"), z: undo, u: undo,
    k: () => keepFuture(), x: clearPad, delete: clearPad,
    "[": () => setTemperature(temperature() - 0.05), "]": () => setTemperature(temperature() + 0.05),
    escape: () => stopLive({ keep: false }),
  };
  if (actions[key]) {
    event.preventDefault();
    actions[key]();
  }
}
