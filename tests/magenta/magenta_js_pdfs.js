// Runs @magenta/sketch's SketchRNN over a fixed stroke sequence and prints, as the last line of stdout, the JSON list
// of its per-step distributions (getPDF at temperature 1: the raw pi, mu, sigma, corr and pen).
// Usage: node magenta_js_pdfs.js MODEL.gen.json STROKES.json PIXEL_FACTOR  (STROKES: [[dx, dy, p1, p2, p3], ...])
const fs = require('fs');
const sketch = require('@magenta/sketch');

const [modelPath, strokesPath, pixelFactor] = process.argv.slice(2);
const [info, shapes, weights] = JSON.parse(fs.readFileSync(modelPath, 'utf8'));
const strokes = JSON.parse(fs.readFileSync(strokesPath, 'utf8'));
const model = new sketch.SketchRNN(modelPath);
// initialize() fetches a URL; the model file is local, so hand its parsed parts to the same loader.
model.instantiateFromJSON(info, shapes, weights);
model.setPixelFactor(Number(pixelFactor));

const M = 20;
const pdfs = [];
let state = model.update(model.zeroInput(), model.zeroState());
for (const stroke of [null, ...strokes]) {
  if (stroke !== null) state = model.update(stroke, state);
  const pdf = model.getPDF(state, 1.0);
  // getPDF's sigmaY slice runs past its 20 values (slice(4M, 15M)): keep the first M.
  pdfs.push({pi: Array.from(pdf.pi), muX: Array.from(pdf.muX), muY: Array.from(pdf.muY),
             sigmaX: Array.from(pdf.sigmaX), sigmaY: Array.from(pdf.sigmaY.slice(0, M)),
             corr: Array.from(pdf.corr), pen: Array.from(pdf.pen)});
}
process.stdout.write('\n' + JSON.stringify(pdfs) + '\n');
