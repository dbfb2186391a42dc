"""Magenta's Sketch-RNN JSON format (the models of sketch-rnn-js and magenta.js), read into and written from a
`SketchRNN`.

A file is a JSON list `[info, shapes, weights]`:
- `info`: `name`, `mode` (2 or "gen": decoder only; 0 or 1: a VAE), `version`, `max_seq_len`, `scale_factor`
  (the standard deviation of the training offsets, in the training data's units), and sometimes the recorded
  `r_loss`, `kl_loss`, `training_size`;
- `shapes`: one list of sizes per weight blob;
- `weights`: one base64 string per blob, little-endian int16, each value `MAX_WEIGHT * int / 32767`.

Blobs of a decoder-only (`gen`) model: output kernel (H, 6M + 3) and bias, LSTM input kernel (5, 4H), recurrent
kernel (H, 4H), bias (4H). A VAE's 17 blobs: the forward and backward encoder LSTMs (input kernel, recurrent kernel,
bias each), the posterior's mu kernel and bias, its log-variance kernel and bias (each (2E, z)), z -> initial state
kernel (z, 2H) and bias, then the decoder's five blobs as above (its input is the point joined by z: 5 + z).
The LSTMs are TensorFlow's BasicLSTMCell: gates in the order i, j (candidate), f, o, with 1.0 added to the forget
gate's pre-activation at every step; the initial state from z is (c, h). The output layer splits as 3 pen logits,
then M mixture logits, mu_x, mu_y, log sigma_x, log sigma_y and atanh(corr); both readers fix M = 20.

Our decoder uses torch's order i, f, g, o, its state is (h, c), its forget bias lives in the bias vector, and its
head has the very same output layout; so a file maps onto a plain-LSTM `SketchRNN` exactly, and back.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sketchlab.errors import DataError
from sketchlab.models.rnn_cells import FORGET_BIAS
from sketchlab.models.sketch_rnn import SketchRNN, SketchRNNConfig

MAX_WEIGHT = 10.0  # the int16 codes span [-MAX_WEIGHT, MAX_WEIGHT]
INT16_MAX = 32767
NUM_MIXTURE = 20  # both readers hard-code it
GEN_MODES = (2, "gen")  # sketch-rnn-js reads any other mode as a VAE
GEN_MODE, VAE_MODE = 2, 0  # what we write
FORMAT_VERSION = 6  # the newest: sketch-rnn-js applies tanh to z before the initial state for versions below 6
# A TensorFlow LSTM's gate blocks (i, j, f, o) in torch's order (i, f, g, o), and back: swapping j and f both ways.
GATE_ORDER = [0, 2, 1, 3]
# Model units per unit of the drawings sketchlab hands an imported model (the Quick, Draw! simplified 0-255 box):
# magenta.js's "pixel factor" (2.0 there too), measured here by likelihood over a range of scales (docs/magenta.md).
PIXEL_FACTOR = 2.0


class MagentaFormatError(DataError):
    """A file that is not a readable Sketch-RNN JSON model, or a model the format cannot hold."""


@dataclass
class MagentaFile:
    """A parsed file: its info object, kind ("gen" or "vae") and weight blobs as float32 arrays of their shapes."""

    info: dict[str, Any]
    kind: str
    blobs: list[np.ndarray]

    @property
    def scale_factor(self) -> float:
        return float(self.info["scale_factor"])

    @property
    def version(self) -> Any:
        return self.info.get("version")


# ---------------------------------------------------------------------------------------------------- reading


def read_file(path: str | Path) -> MagentaFile:
    """Parse a `.gen.json` / `.vae.json` file; any problem is a one-line MagentaFormatError naming the file."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise MagentaFormatError(f"cannot read {path}: {error.strerror or error}") from None
    try:
        return parse(data)
    except MagentaFormatError as error:
        raise MagentaFormatError(f"{path}: {error}") from None


def parse(data: bytes | str) -> MagentaFile:
    """Parse the text of a Sketch-RNN JSON model."""
    try:
        document = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise MagentaFormatError(f"not JSON ({error}); truncated or not a Sketch-RNN model file") from None
    if not isinstance(document, list) or len(document) != 3:
        raise MagentaFormatError("not a Sketch-RNN model file: expected a JSON list [info, shapes, weights]")
    info, shapes, weights = document
    _check_info(info)
    shapes = _check_shapes(shapes)
    if not isinstance(weights, list) or len(weights) != len(shapes):
        raise MagentaFormatError(f"{len(shapes)} shapes but "
                                 f"{len(weights) if isinstance(weights, list) else 'no list of'} weight strings")
    kind = _kind(info, shapes)
    blobs = [_decode_blob(text, shape, i) for i, (text, shape) in enumerate(zip(weights, shapes))]
    return MagentaFile(info, kind, blobs)


def _check_info(info: Any) -> None:
    if not isinstance(info, dict):
        raise MagentaFormatError("the first element (info) is not a JSON object")
    scale = info.get("scale_factor")
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not math.isfinite(scale) or scale <= 0:
        raise MagentaFormatError(f"info.scale_factor must be a positive number, got {scale!r}")
    length = info.get("max_seq_len")
    if isinstance(length, bool) or not isinstance(length, int) or length < 1:
        raise MagentaFormatError(f"info.max_seq_len must be a positive integer, got {length!r}")


def _check_shapes(shapes: Any) -> list[tuple[int, ...]]:
    if not isinstance(shapes, list) or not all(
            isinstance(s, list) and 1 <= len(s) <= 2 and all(isinstance(n, int) and not isinstance(n, bool) and n > 0
                                                              for n in s) for s in shapes):
        raise MagentaFormatError("the second element (shapes) is not a list of 1-D or 2-D sizes")
    return [tuple(s) for s in shapes]


def expected_shapes(kind: str, dec_hidden: int, enc_hidden: int = 0, z_size: int = 0) -> list[tuple[int, ...]]:
    """The shape list of a model of these sizes, blob by blob."""
    decoder = [(dec_hidden, 6 * NUM_MIXTURE + 3), (6 * NUM_MIXTURE + 3,), (5 + z_size, 4 * dec_hidden),
               (dec_hidden, 4 * dec_hidden), (4 * dec_hidden,)]
    if kind == "gen":
        return decoder
    encoder_lstm = [(5, 4 * enc_hidden), (enc_hidden, 4 * enc_hidden), (4 * enc_hidden,)]
    posterior = [(2 * enc_hidden, z_size), (z_size,)]
    return [*encoder_lstm, *encoder_lstm, *posterior, *posterior, (z_size, 2 * dec_hidden), (2 * dec_hidden,),
            *decoder]


def _sizes(kind: str, shapes: list[tuple[int, ...]]) -> dict[str, int]:
    """The model sizes a shape list implies (read off the recurrent kernels and the latent projection)."""
    if kind == "gen":
        return {"dec_hidden": shapes[3][0]}
    return {"dec_hidden": shapes[15][0], "enc_hidden": shapes[1][0], "z_size": shapes[10][0]}


def _kind(info: dict[str, Any], shapes: list[tuple[int, ...]]) -> str:
    kind = "gen" if info.get("mode") in GEN_MODES else "vae"
    wanted = {"gen": 5, "vae": 17}[kind]
    if len(shapes) != wanted:
        raise MagentaFormatError(f"info.mode {info.get('mode')!r} means a {kind} model of {wanted} weight blobs, "
                                 f"the file has {len(shapes)}")
    expected = expected_shapes(kind, **_sizes(kind, shapes))
    if shapes != expected:
        raise MagentaFormatError(f"wrong shape list {_text(shapes)}: a {kind} model of these sizes has "
                                 f"{_text(expected)} (both readers fix {NUM_MIXTURE} mixture components)")
    return kind


def _text(shapes: list[tuple[int, ...]]) -> str:
    return json.dumps([list(s) for s in shapes], separators=(",", ":"))


def _decode_blob(text: Any, shape: tuple[int, ...], index: int) -> np.ndarray:
    if not isinstance(text, str):
        raise MagentaFormatError(f"weight blob {index} is not a base64 string")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as error:
        raise MagentaFormatError(f"weight blob {index} is not valid base64 ({error})") from None
    wanted = 2 * math.prod(shape)
    if len(raw) != wanted:
        raise MagentaFormatError(f"weight blob {index} has {len(raw)} bytes, its shape {list(shape)} needs {wanted}")
    codes = np.frombuffer(raw, dtype="<i2").astype(np.float64)
    return (MAX_WEIGHT * codes / INT16_MAX).astype(np.float32).reshape(shape)


# ---------------------------------------------------------------------------------------------------- to a model


def _gates_tf_to_torch(blocks: np.ndarray) -> np.ndarray:
    """Reorder the gate blocks along the last axis between TensorFlow's i, j, f, o and torch's i, f, g, o."""
    parts = np.split(blocks, 4, axis=-1)
    return np.concatenate([parts[i] for i in GATE_ORDER], axis=-1)


def _lstm_from_tf(prefix: str, kernel_x: np.ndarray, kernel_h: np.ndarray, bias: np.ndarray) -> dict[str, np.ndarray]:
    """An `nn.LSTM` layer's tensors (named under `prefix`) from a BasicLSTMCell's kernels and bias."""
    hidden = kernel_h.shape[0]
    bias_ih = _gates_tf_to_torch(bias).copy()
    bias_ih[hidden: 2 * hidden] += FORGET_BIAS  # BasicLSTMCell adds it at every step
    return {f"{prefix}.weight_ih_l0": _gates_tf_to_torch(kernel_x).T,
            f"{prefix}.weight_hh_l0": _gates_tf_to_torch(kernel_h).T,
            f"{prefix}.bias_ih_l0": bias_ih,
            f"{prefix}.bias_hh_l0": np.zeros_like(bias_ih)}


def _decoder_tensors(blobs: list[np.ndarray]) -> dict[str, np.ndarray]:
    out_kernel, out_bias, kernel_x, kernel_h, bias = blobs
    return {"head.weight": out_kernel.T, "head.bias": out_bias,
            **_lstm_from_tf("cell.lstm", kernel_x, kernel_h, bias)}


def _vae_tensors(blobs: list[np.ndarray]) -> dict[str, np.ndarray]:
    mu_kernel, mu_bias, var_kernel, var_bias, init_kernel, init_bias = blobs[6:12]
    hidden = init_kernel.shape[1] // 2
    c_part, h_part = init_kernel[:, :hidden], init_kernel[:, hidden:]  # the file's state is (c, h), ours (h, c)
    return {**_lstm_from_tf("encoder.forward_rnn.lstm", *blobs[0:3]),
            **_lstm_from_tf("encoder.backward_rnn.lstm", *blobs[3:6]),
            "posterior.weight": np.concatenate([mu_kernel, var_kernel], axis=1).T,
            "posterior.bias": np.concatenate([mu_bias, var_bias]),
            "to_initial_state.weight": np.concatenate([h_part, c_part], axis=1).T,
            "to_initial_state.bias": np.concatenate([init_bias[hidden:], init_bias[:hidden]]),
            **_decoder_tensors(blobs[12:])}


def model_config(magenta: MagentaFile, pixel_factor: float = PIXEL_FACTOR) -> SketchRNNConfig:
    """The configuration of the model a file holds; its scale factor is the file's over `pixel_factor`, as
    magenta.js's `setPixelFactor` (so the model reads and draws in the units of its caller's drawings)."""
    sizes = _sizes(magenta.kind, [b.shape for b in magenta.blobs])
    return SketchRNNConfig(**sizes, num_mixture=NUM_MIXTURE, max_seq_len=int(magenta.info["max_seq_len"]),
                           cell="lstm", conditional=magenta.kind == "vae",
                           scale_factor=magenta.scale_factor / pixel_factor)


def to_model(magenta: MagentaFile, pixel_factor: float = PIXEL_FACTOR) -> SketchRNN:
    """A `SketchRNN` (plain LSTM decoder; with its encoder for a VAE) computing what the file's readers compute."""
    model = SketchRNN(model_config(magenta, pixel_factor))
    tensors = (_decoder_tensors if magenta.kind == "gen" else _vae_tensors)(magenta.blobs)
    model.load_state_dict({name: torch.from_numpy(np.ascontiguousarray(t)) for name, t in tensors.items()})
    return model.eval()


# ---------------------------------------------------------------------------------------------------- from a model


def _lstm_to_tf(state: dict[str, torch.Tensor], prefix: str) -> list[np.ndarray]:
    """A BasicLSTMCell's input kernel, recurrent kernel and bias from an `nn.LSTM` layer's tensors."""
    weight_ih, weight_hh = (state[f"{prefix}.{name}_l0"].numpy() for name in ("weight_ih", "weight_hh"))
    bias = (state[f"{prefix}.bias_ih_l0"] + state[f"{prefix}.bias_hh_l0"]).numpy().copy()
    hidden = weight_hh.shape[1]
    bias[hidden: 2 * hidden] -= FORGET_BIAS
    return [_gates_tf_to_torch(weight_ih.T), _gates_tf_to_torch(weight_hh.T), _gates_tf_to_torch(bias)]


def model_blobs(model: SketchRNN) -> tuple[str, list[np.ndarray]]:
    """The file's kind and weight blobs for `model`; a model the format cannot hold is a MagentaFormatError."""
    config = model.config
    if config.cell != "lstm":
        raise MagentaFormatError(f"a {config.cell} decoder cannot be written in the magenta-js format: its readers "
                                 "run a plain LSTM (train with --cell lstm)")
    if config.num_mixture != NUM_MIXTURE:
        raise MagentaFormatError(f"the magenta-js readers fix {NUM_MIXTURE} mixture components; this model has "
                                 f"{config.num_mixture}")
    state = {name: t.detach().float().cpu() for name, t in model.state_dict().items()}
    decoder = [state["head.weight"].numpy().T, state["head.bias"].numpy(), *_lstm_to_tf(state, "cell.lstm")]
    if not config.conditional:
        return "gen", decoder
    hidden = config.dec_hidden
    init_weight, init_bias = state["to_initial_state.weight"].numpy().T, state["to_initial_state.bias"].numpy()
    mu_weight, var_weight = np.split(state["posterior.weight"].numpy().T, 2, axis=1)
    mu_bias, var_bias = np.split(state["posterior.bias"].numpy(), 2)
    return "vae", [*_lstm_to_tf(state, "encoder.forward_rnn.lstm"), *_lstm_to_tf(state, "encoder.backward_rnn.lstm"),
                   mu_weight, mu_bias, var_weight, var_bias,
                   np.concatenate([init_weight[:, hidden:], init_weight[:, :hidden]], axis=1),
                   np.concatenate([init_bias[hidden:], init_bias[:hidden]]), *decoder]


def _encode_blob(blob: np.ndarray, index: int) -> str:
    largest = float(np.abs(blob).max(initial=0.0))
    if not math.isfinite(largest) or largest > MAX_WEIGHT:
        raise MagentaFormatError(f"weight blob {index} holds {largest:.4g}: the format's int16 codes reach only "
                                 f"+-{MAX_WEIGHT:g}")
    codes = np.round(blob.astype(np.float64) * INT16_MAX / MAX_WEIGHT).astype("<i2")
    return base64.b64encode(codes.tobytes()).decode("ascii")


def to_document(model: SketchRNN, name: str, pixel_factor: float = PIXEL_FACTOR,
                extra_info: dict[str, Any] | None = None) -> list[Any]:
    """The JSON document of `model` (a gen file when it is unconditional, a vae file otherwise)."""
    kind, blobs = model_blobs(model)
    info = {"name": name, "mode": GEN_MODE if kind == "gen" else VAE_MODE, "version": FORMAT_VERSION,
            "max_seq_len": model.config.max_seq_len,
            "scale_factor": float(model.config.scale_factor) * pixel_factor, **(extra_info or {})}
    return [info, [list(b.shape) for b in blobs], [_encode_blob(b, i) for i, b in enumerate(blobs)]]


def write_file(model: SketchRNN, path: str | Path, name: str | None = None, pixel_factor: float = PIXEL_FACTOR,
               extra_info: dict[str, Any] | None = None) -> Path:
    """Write `model` as NAME.gen.json / NAME.vae.json; the file name's kind must match the model's."""
    path = Path(path)
    kind, _ = model_blobs(model)
    for other in {"gen", "vae"} - {kind}:
        if path.name.endswith(f".{other}.json"):
            raise MagentaFormatError(f"{path.name} names a {other} file, but this model is "
                                     f"{'unconditional (gen)' if kind == 'gen' else 'conditional (vae)'}")
    name = name or path.name.split(".")[0]
    document = to_document(model, name, pixel_factor, extra_info)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, separators=(",", ":")))
    return path
