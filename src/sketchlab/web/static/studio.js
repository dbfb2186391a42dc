// sketchlab studio: draw on a canvas, ask a Sketch-RNN (through /api) to complete, reconstruct, interpolate or sample.
// Drawings are kept as strokes of points in canvas pixels (512 x 512, y down) and sent as stroke-3 rows
// [dx, dy, pen_lifted]; the server maps them to the model's units and back (see sketchlab/web/placement.py).
//
// The page's modules: state (shared state, constants, status line), geometry (strokes <-> rows, fitting, RDP),
// pad (the canvas: painting, pointer input, undo), api (the JSON API client), actions (what each button asks the
// server for), results (the results panel), controls (side panel and keyboard) and this one, which starts them.

import { loadModels, setTemperature, temperature, wireControls } from "./controls.js";
import { drawSlot, setupPad } from "./pad.js";
import { status } from "./state.js";

async function start() {
  setupPad();
  drawSlot("a");
  drawSlot("b");
  setTemperature(temperature());
  wireControls();
  try {
    const n = await loadModels();
    document.body.dataset.ready = "true";
    status(`Ready: ${n} model${n === 1 ? "" : "s"} loaded.`);
  } catch (error) {
    status(`Could not load the models: ${error.message}`, "error");
  }
}

start();
