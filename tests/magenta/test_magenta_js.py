"""The same maths as magenta.js: `@magenta/sketch` from the npm registry, run by the machine's node, decodes a shared
published model over a fixed real stroke sequence; its per-step distribution must equal sketchlab's to 1e-4. A model
sketchlab writes must load there and give the distributions sketchlab gives, to int16 precision."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from sketchlab.data.quickdraw import read_ndjson, simplified_to_stroke3
from sketchlab.data.sources import cache_dir
from sketchlab.data.strokes import to_stroke5
from sketchlab.magenta.format import PIXEL_FACTOR, read_file, to_model, write_file
from sketchlab.models.sketch_rnn import SketchRNN, SketchRNNConfig

PACKAGE = "@magenta/sketch@0.2.0"
SCRIPT = Path(__file__).with_name("magenta_js_pdfs.js")


@pytest.fixture(scope="session")
def magenta_js():
    """A folder with @magenta/sketch installed (the cache's, reused when present); skipped without node and npm."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are needed to run magenta.js (not installed on this machine)")
    folder = cache_dir() / "test-npm" / "magenta-sketch-0.2.0"
    if not (folder / "node_modules" / "@magenta" / "sketch" / "package.json").is_file():
        folder.mkdir(parents=True, exist_ok=True)
        result = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--loglevel=error", "--prefix",
                                 str(folder), PACKAGE], capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, f"npm install {PACKAGE} failed: {result.stderr[-2000:]}"
    return node, folder


def run_magenta_js(magenta_js, model_path, strokes, tmp_path):
    """magenta.js's distributions after the start token and after each stroke-5 row of `strokes`."""
    node, folder = magenta_js
    strokes_path = tmp_path / "strokes.json"
    strokes_path.write_text(json.dumps(np.asarray(strokes, dtype=np.float64).tolist()))
    result = subprocess.run([node, str(SCRIPT), str(model_path), str(strokes_path), str(PIXEL_FACTOR)],
                            capture_output=True, text=True, timeout=300, cwd=folder,
                            env={**os.environ, "NODE_PATH": str(folder / "node_modules")})
    assert result.returncode == 0, result.stderr[-2000:]
    pdfs = json.loads(result.stdout.strip().splitlines()[-1])
    return {key: np.array([pdf[key] for pdf in pdfs]) for key in pdfs[0]}


def sketchlab_pdfs(model: SketchRNN, strokes: np.ndarray) -> dict[str, np.ndarray]:
    """sketchlab's distributions over the same rows (given in the model's data units), named as magenta.js's."""
    rows = np.asarray(strokes, dtype=np.float64).copy()
    rows[:, :2] /= model.config.scale_factor
    inputs = torch.tensor(np.concatenate([[[0, 0, 1, 0, 0]], rows]), dtype=torch.float32)[None]
    with torch.no_grad():
        params = model.split_params(model.decode(inputs, None, model.initial_state(None, 1))[0][0])
    return {"pi": torch.softmax(params.logit_pi, -1), "muX": params.mu_x, "muY": params.mu_y,
            "sigmaX": params.sigma_x, "sigmaY": params.sigma_y, "corr": params.rho,
            "pen": torch.softmax(params.pen_logits, -1)}


def as_numpy(pdfs):
    return {key: value.numpy() for key, value in pdfs.items()}


@pytest.fixture(scope="module")
def bird_strokes(data_dir):
    """A real bird (the first shared simplified one), its first 40 points as stroke-5 rows in 0-255 units."""
    drawing = simplified_to_stroke3(next(read_ndjson(data_dir / "quickdraw" / "simplified" / "bird.ndjson"))["drawing"])
    return to_stroke5(drawing[:40], 40)


def assert_same(ours, theirs, atol):
    """Equal to `atol`; the sigmas (up to ~100, float32 on both sides) as their logarithms, i.e. relatively."""
    for key in ("pi", "muX", "muY", "corr", "pen"):
        np.testing.assert_allclose(ours[key], theirs[key], atol=atol, rtol=0, err_msg=key)
    for key in ("sigmaX", "sigmaY"):
        np.testing.assert_allclose(np.log(ours[key]), np.log(theirs[key]), atol=atol, rtol=0, err_msg=key)


@pytest.mark.parametrize("name", ["bird", "bear"])  # a version-6 file and the version-2 one
def test_decoding_a_published_model_equals_magenta_js(magenta_js, data_dir, bird_strokes, tmp_path, name):
    path = data_dir / "magenta" / f"{name}.gen.json"
    theirs = run_magenta_js(magenta_js, path, bird_strokes, tmp_path)
    ours = as_numpy(sketchlab_pdfs(to_model(read_file(path)), bird_strokes))
    assert theirs["pi"].shape == (41, 20) and theirs["pen"].shape == (41, 3)
    assert_same(ours, theirs, atol=1e-4)
    assert np.abs(ours["muX"]).max() > 0.1  # a real distribution, not zeros on both sides


def test_an_exported_model_runs_in_magenta_js_as_in_sketchlab(magenta_js, bird_strokes, tmp_path):
    torch.manual_seed(3)
    model = SketchRNN(SketchRNNConfig(dec_hidden=48, conditional=False, max_seq_len=60, scale_factor=25.0)).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.2 * torch.randn_like(p))  # trained-looking weights, biases away from their initial values
    path = write_file(model, tmp_path / "mine.gen.json")
    theirs = run_magenta_js(magenta_js, path, bird_strokes, tmp_path)
    assert_same(as_numpy(sketchlab_pdfs(to_model(read_file(path)), bird_strokes)), theirs, atol=1e-4)
    assert_same(as_numpy(sketchlab_pdfs(model, bird_strokes)), theirs, atol=2e-2)  # the int16 codes' rounding
