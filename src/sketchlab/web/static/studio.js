// sketchlab studio: draw on a canvas with a Sketch-RNN (through /api): it continues the drawing live, reconstructs,
// interpolates or samples. Drawings are kept as strokes of points in canvas pixels (512 x 512, y down) and sent as
// stroke-3 rows [dx, dy, pen_lifted]; the server maps them to the model's units and back (sketchlab/web/placement.py).
//
// The page's modules: state (shared state, constants, status line), geometry (strokes <-> rows, fitting, RDP),
// pad (the canvas: painting, pointer input, undo, what survives a reload), api (the JSON API client), live (the
// model continuing the drawing as it streams), actions (what each button asks for), results (the results panel),
// controls (the controls and keyboard) and this one, which starts them.

import { loadModels, setTemperature, temperature, wireControls } from "./controls.js";
import { drawSlot, redrawPad, restore, setupPad } from "./pad.js";
import { status } from "./state.js";

async function start() {
  const remembered = restore();
  setupPad();
  drawSlot("a");
  drawSlot("b");
  setTemperature(temperature());
  wireControls();
  try {
    const n = await loadModels(remembered);
    redrawPad();
    document.body.dataset.ready = "true";
    status(`Ready: ${n} model${n === 1 ? "" : "s"} loaded. Draw: when you lift the pen, the model draws on.`);
  } catch (error) {
    status(`Could not load the models: ${error.message}`, "error");
  }
}

start();
