"""Magenta's Sketch-RNN JSON files: the ten shared published models import; their maths is checked by hand against
the format's definition (BasicLSTMCell, int16 codes); malformed files get one-line errors; export round-trips."""

import base64
import json

import numpy as np
import pytest
import torch

from sketchlab.errors import DataError, SketchlabError
from sketchlab.magenta.format import (
    MAX_WEIGHT, PIXEL_FACTOR, MagentaFormatError, expected_shapes, parse, read_file, to_document, to_model,
    write_file,
)
from sketchlab.models.sketch_rnn import SketchRNN, SketchRNNConfig

NAMES = ["ambulance", "bear", "bicycle", "bird", "dog", "key", "monkey", "palm_tree", "parrot", "rabbit"]


@pytest.fixture(scope="module")
def magenta_dir(data_dir):
    return data_dir / "magenta"


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def basic_lstm_step(x, h, c, kernel_x, kernel_h, bias):
    """TensorFlow's BasicLSTMCell as the readers run it: gates i, j, f, o; forget bias 1.0; returns (h, c)."""
    i, j, f, o = np.split(x @ kernel_x + h @ kernel_h + bias, 4, axis=-1)
    c = c * sigmoid(f + 1.0) + sigmoid(i) * np.tanh(j)
    return np.tanh(c) * sigmoid(o), c


def raw_codes(text):
    return np.frombuffer(base64.b64decode(text), dtype="<i2").astype(np.float64)


@pytest.mark.parametrize("name", NAMES)
def test_every_shared_file_imports_with_its_sizes_and_scale(magenta_dir, name):
    magenta = read_file(magenta_dir / f"{name}.gen.json")
    model = to_model(magenta)
    c = model.config
    assert magenta.kind == "gen" and not c.conditional and c.cell == "lstm"
    assert (c.dec_hidden, c.num_mixture, c.max_seq_len) == (512, 20, magenta.info["max_seq_len"])
    assert c.scale_factor == pytest.approx(magenta.info["scale_factor"] / PIXEL_FACTOR)
    # value = 10 * int / 32767, checked on the raw base64 of the LSTM bias
    document = json.loads((magenta_dir / f"{name}.gen.json").read_text())
    np.testing.assert_allclose(magenta.blobs[4], 10 * raw_codes(document[2][4]) / 32767, rtol=1e-6)


def test_bear_is_version_2_and_keeps_its_recorded_losses(magenta_dir):
    magenta = read_file(magenta_dir / "bear.gen.json")
    assert magenta.version == 2 and magenta.info["mode"] == "gen"
    assert magenta.info["r_loss"] == pytest.approx(-0.5013, abs=1e-4) and magenta.info["training_size"] == 40300


def test_decoding_equals_a_hand_computed_basic_lstm(magenta_dir):
    """Three steps of the file's decoder written out in numpy from the raw blobs (TensorFlow's layout) against
    sketchlab's model: the gate reordering, forget bias and output split must all be right."""
    magenta = read_file(magenta_dir / "bird.gen.json")
    out_kernel, out_bias, kernel_x, kernel_h, bias = (b.astype(np.float64) for b in magenta.blobs)
    model = to_model(magenta).double()
    inputs = np.array([[0, 0, 1, 0, 0], [0.3, -0.2, 1, 0, 0], [-1.1, 0.4, 0, 1, 0]], dtype=np.float64)
    h = c = np.zeros(512)
    expected = []
    for x in inputs:
        h, c = basic_lstm_step(x, h, c, kernel_x, kernel_h, bias)
        expected.append(h @ out_kernel + out_bias)
    with torch.no_grad():
        out, state = model.decode(torch.from_numpy(inputs)[None], None, model.initial_state(None, 1))
    np.testing.assert_allclose(out[0].numpy(), np.array(expected), atol=1e-9)
    np.testing.assert_allclose(state[0].numpy(), np.concatenate([h, c]), atol=1e-9)
    params = SketchRNN.split_params(out[0, -1])  # pen logits first, then pi, mu_x, mu_y, log sigmas, atanh corr
    z = expected[-1]
    np.testing.assert_allclose(params.pen_logits.numpy(), z[:3], atol=1e-9)
    np.testing.assert_allclose(params.sigma_y.numpy(), np.exp(z[3 + 80: 3 + 100]), rtol=1e-7)
    np.testing.assert_allclose(params.rho.numpy(), np.tanh(z[3 + 100:]), atol=1e-9)


# ------------------------------------------------------------------------------------------------ bad files


def good_document(magenta_dir):
    return json.loads((magenta_dir / "key.gen.json").read_text())


def spoiled(magenta_dir, spoil):
    document = good_document(magenta_dir)
    spoil(document)
    return json.dumps(document)


BAD_FILES = {
    "non-JSON body": (lambda d: b"<html><body>404 Not Found</body></html>", "not JSON"),
    "truncated file": (lambda d: (d / "key.gen.json").read_bytes()[:100_000], "not JSON"),
    "empty file": (lambda d: b"", "not JSON"),
    "not a list": (lambda d: b'{"name": "key"}', "expected a JSON list"),
    "wrong shape list": (lambda d: spoiled(d, lambda doc: doc[1].__setitem__(2, [6, 2048])), "wrong shape list"),
    "shapes not sizes": (lambda d: spoiled(d, lambda doc: doc[1].__setitem__(0, ["512", 123])), "not a list of"),
    "other mixture count": (lambda d: spoiled(d, lambda doc: doc[1].__setitem__(0, [512, 63])), "wrong shape list"),
    "blob cut short": (lambda d: spoiled(d, lambda doc: doc[2].__setitem__(4, doc[2][4][:400])), "has 300 bytes"),
    "blob not base64": (lambda d: spoiled(d, lambda doc: doc[2].__setitem__(1, "%%%")), "not valid base64"),
    "blob missing": (lambda d: spoiled(d, lambda doc: doc[2].pop()), "5 shapes but 4"),
    "mode says vae": (lambda d: spoiled(d, lambda doc: doc[0].__setitem__("mode", 0)), "17 weight blobs"),
    "no scale factor": (lambda d: spoiled(d, lambda doc: doc[0].pop("scale_factor")), "scale_factor"),
    "bad max_seq_len": (lambda d: spoiled(d, lambda doc: doc[0].__setitem__("max_seq_len", -3)), "max_seq_len"),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_bad_files_get_a_one_line_error(magenta_dir, tmp_path, case):
    make, message = BAD_FILES[case]
    body = make(magenta_dir)
    path = tmp_path / "bad.gen.json"
    path.write_bytes(body.encode() if isinstance(body, str) else body)
    with pytest.raises(MagentaFormatError, match=message) as caught:
        read_file(path)
    assert isinstance(caught.value, DataError) and isinstance(caught.value, SketchlabError)
    assert "\n" not in str(caught.value) and str(path) in str(caught.value)


def test_a_missing_file_is_a_one_line_error(tmp_path):
    with pytest.raises(MagentaFormatError, match="cannot read"):
        read_file(tmp_path / "nothing.gen.json")


# ------------------------------------------------------------------------------------------------ export


def small_model(conditional, seed=0, **kw):
    torch.manual_seed(seed)
    model = SketchRNN(SketchRNNConfig(enc_hidden=16, dec_hidden=24, z_size=8, max_seq_len=40, conditional=conditional,
                                      scale_factor=12.5, **kw))
    with torch.no_grad():  # trained-looking biases, not just the initial zeros
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return model.eval()


def outputs(model, seed=1):
    """Decoder outputs over a fixed batch, from the encoder's z for a VAE."""
    generator = torch.Generator().manual_seed(seed)
    strokes = torch.randn(3, 11, 5, generator=generator)
    strokes[:, :, 2:] = torch.nn.functional.one_hot(torch.randint(0, 3, (3, 11), generator=generator), 3).float()
    strokes[:, 0] = torch.tensor([0, 0, 1, 0, 0.0])
    lengths = torch.tensor([10, 7, 4])
    with torch.no_grad():
        z = model.encode_batch(strokes, lengths)[0] if model.config.conditional else None
        return model.decode(strokes[:, :-1], z, model.initial_state(z, 3))[0]


def merged_biases(model):
    """The state dict with each LSTM's two bias vectors summed into one (the format keeps one per layer)."""
    state = dict(model.state_dict())
    for name in [n for n in state if n.endswith("bias_hh_l0")]:
        state[name.replace("bias_hh", "bias_ih")] = state[name.replace("bias_hh", "bias_ih")] + state.pop(name)
    return state


def round_trip(model):
    return to_model(parse(json.dumps(to_document(model, "test"))))


@pytest.mark.parametrize("conditional", [False, True], ids=["gen", "vae"])
def test_export_then_import_gives_the_same_outputs(conditional):
    model = small_model(conditional)
    again = round_trip(model)
    assert again.config.conditional == conditional and again.config.scale_factor == model.config.scale_factor
    assert (again.config.dec_hidden, again.config.max_seq_len) == (24, 40)
    if conditional:
        assert (again.config.enc_hidden, again.config.z_size) == (16, 8)
    step = MAX_WEIGHT / 32767  # int16 codes: every weight within half a step of the original
    for name, before in merged_biases(model).items():
        assert (before - merged_biases(again)[name]).abs().max() <= 0.5 * step + 1e-6, name
    assert (outputs(model) - outputs(again)).abs().max() < 5e-3
    # the quantised model is a fixed point: its export imports to exactly itself
    torch.testing.assert_close(outputs(round_trip(again)), outputs(again), rtol=0, atol=1e-6)


def test_the_vae_layout_follows_sketch_rnn_js(tmp_path):
    """Read a VAE file back with the layout of sketch-rnn-js written out: the initial state tanh(z W + b) is (c, h);
    mu and the log-variance come from the concatenated forward and backward encoder states."""
    model = small_model(True)
    path = write_file(model, tmp_path / "tiny.vae.json")
    info, shapes, weights = json.loads(path.read_text())
    assert info["mode"] in (0, 1) and info["version"] == 6 and len(shapes) == 17
    assert [tuple(s) for s in shapes] == expected_shapes("vae", 24, 16, 8)
    blobs = [(10 * raw_codes(w) / 32767).reshape(s) for w, s in zip(weights, shapes)]
    z = np.linspace(-1, 1, 8)
    init = np.tanh(z @ blobs[10] + blobs[11])
    c, h = init[:24], init[24:]
    ours = model.initial_state(torch.tensor(z, dtype=torch.float32)[None], 1)[0].detach().numpy()
    np.testing.assert_allclose(ours, np.concatenate([h, c]), atol=2e-3)
    strokes = np.array([[0.1, 0.2, 1, 0, 0], [0.5, -0.3, 1, 0, 0], [0.2, 0.1, 0, 1, 0]])
    h_fw = c_fw = h_bw = c_bw = np.zeros(16)
    for x_fw, x_bw in zip(strokes, strokes[::-1]):
        h_fw, c_fw = basic_lstm_step(x_fw, h_fw, c_fw, *blobs[0:3])
        h_bw, c_bw = basic_lstm_step(x_bw, h_bw, c_bw, *blobs[3:6])
    states = np.concatenate([h_fw, h_bw])
    batch = torch.tensor(np.concatenate([[[0, 0, 1, 0, 0]], strokes]), dtype=torch.float32)[None]
    mu, log_variance = (t[0].detach().numpy() for t in model.encode_batch(batch, torch.tensor([3])))
    np.testing.assert_allclose(mu, states @ blobs[6] + blobs[7], atol=2e-3)
    np.testing.assert_allclose(log_variance, states @ blobs[8] + blobs[9], atol=2e-3)


def test_reimported_shared_file_is_the_same_model(magenta_dir):
    magenta = read_file(magenta_dir / "rabbit.gen.json")
    document = to_document(to_model(magenta), "rabbit")
    assert document[1] == json.loads((magenta_dir / "rabbit.gen.json").read_text())[1]
    assert all(np.array_equal(a, b) for a, b in zip(parse(json.dumps(document)).blobs, magenta.blobs))


@pytest.mark.parametrize("cell", ["layernorm", "hyper"])
def test_cells_the_format_cannot_hold_are_a_clear_error(tmp_path, cell):
    model = SketchRNN(SketchRNNConfig(dec_hidden=16, hyper_hidden=8, hyper_embedding=4, conditional=False, cell=cell))
    with pytest.raises(MagentaFormatError, match=f"a {cell} decoder cannot be written"):
        write_file(model, tmp_path / "x.gen.json")
    assert not (tmp_path / "x.gen.json").exists()


def test_export_refuses_what_the_readers_would_misread(tmp_path):
    with pytest.raises(MagentaFormatError, match="fix 20 mixture components"):
        write_file(small_model(False, num_mixture=5), tmp_path / "x.gen.json")
    with pytest.raises(MagentaFormatError, match="names a vae file, but this model is unconditional"):
        write_file(small_model(False), tmp_path / "x.vae.json")
    big = small_model(False)
    with torch.no_grad():
        big.head.bias[0] = 12.0
    with pytest.raises(MagentaFormatError, match=r"holds 12: the format's int16 codes reach only \+-10"):
        write_file(big, tmp_path / "x.gen.json")
