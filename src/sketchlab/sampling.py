"""Drawing with a trained Sketch-RNN: batched sampling, encoding, reconstruction, interpolation, completion.

Everything here works on plain stroke-3 arrays in the data's own units; the model's scale factor is applied on
the way in and undone on the way out. The latent maths (slerp, lerp) lives here, not in the CLI or the web app.

Temperature follows the paper (section 3.3): the mixture weights and pen logits are divided by tau before the
softmax, and the Gaussians' *variances* are multiplied by tau, so each sigma is scaled by sqrt(tau). (magenta's
reference code scales sigma itself by tau, which makes its samples tighter at the same tau than the paper's.)
Temperature 0 is greedy decoding: the most likely component's mean and the most likely pen state.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from sketchlab.data.strokes import pad_stroke5, to_stroke3
from sketchlab.errors import DataError

START_TOKEN = (0.0, 0.0, 1.0, 0.0, 0.0)
END_OF_SKETCH = 2


def _device(model) -> torch.device:
    return next(model.parameters()).device


def _start_tokens(n: int, device: torch.device) -> torch.Tensor:
    return torch.tensor(START_TOKEN, device=device).expand(n, 1, 5).clone()


def prepare_drawings(model, drawings: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalise stroke-3 drawings by the model's scale factor and pad them into an encoder batch."""
    limit = model.config.max_seq_len
    for i, drawing in enumerate(drawings):
        if len(drawing) > limit:
            raise DataError(f"drawing {i} has {len(drawing)} points; this model reads at most {limit} (simplify it first)")
    scaled = [np.concatenate([d[:, :2] / model.config.scale_factor, d[:, 2:3]], axis=1) for d in drawings]
    padded, lengths = pad_stroke5(scaled, limit)
    device = _device(model)
    strokes = torch.cat([_start_tokens(len(drawings), device), torch.as_tensor(padded, device=device)], dim=1)
    return strokes, torch.as_tensor(lengths, device=device)


@torch.no_grad()
def encode(model, drawings: list[np.ndarray], sample: bool = False,
           generator: torch.Generator | None = None) -> torch.Tensor:
    """Latent codes of drawings: the posterior means, or draws from the posteriors with `sample=True`."""
    if not model.config.conditional:
        raise DataError("this model is unconditional: it has no encoder (train without --unconditional to get one)")
    model.eval()
    strokes, lengths = prepare_drawings(model, drawings)
    mu, sigma_hat = model.encode_batch(strokes, lengths)
    if not sample:
        return mu
    eps = torch.randn(mu.shape, generator=generator, device=mu.device)
    return mu + torch.exp(sigma_hat / 2) * eps


def _choose(logits: torch.Tensor, temperature: float, generator: torch.Generator | None) -> torch.Tensor:
    if temperature == 0:
        return logits.argmax(dim=-1)
    probs = torch.softmax(logits / temperature, dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


def next_points(params, temperature: float, generator: torch.Generator | None) -> torch.Tensor:
    """Draw one stroke-5 row per sketch from the decoder's mixture and pen distribution."""
    k = _choose(params.logit_pi, temperature, generator).unsqueeze(-1)

    def pick(t: torch.Tensor) -> torch.Tensor:
        return t.gather(-1, k).squeeze(-1)

    dx, dy = pick(params.mu_x), pick(params.mu_y)
    if temperature > 0:
        scale = math.sqrt(temperature)
        sx, sy, rho = pick(params.sigma_x) * scale, pick(params.sigma_y) * scale, pick(params.rho)
        e1 = torch.randn(dx.shape, generator=generator, device=dx.device)
        e2 = torch.randn(dx.shape, generator=generator, device=dx.device)
        dx = dx + sx * e1
        dy = dy + sy * (rho * e1 + torch.sqrt(1 - rho**2) * e2)
    pen = _choose(params.pen_logits, temperature, generator)
    return torch.cat([dx.unsqueeze(-1), dy.unsqueeze(-1), torch.nn.functional.one_hot(pen, 3).to(dx.dtype)], dim=-1)


@torch.no_grad()
def decode(model, z: torch.Tensor | None, n: int, temperature: float = 0.65,
           generator: torch.Generator | None = None, state: torch.Tensor | None = None,
           first_input: torch.Tensor | None = None, max_len: int | None = None) -> list[np.ndarray]:
    """Decode `n` sketches together, each stopping at its own end-of-sketch.

    Finished sketches leave the batch, so the cost follows the sketches still drawing. `state` and `first_input`
    let a caller continue from a primed decoder (completion); by default decoding starts from z's initial state.
    """
    if temperature < 0 or not math.isfinite(temperature):
        raise DataError(f"temperature must be a finite number >= 0, got {temperature}")
    model.eval()
    device = _device(model)
    max_len = max_len or model.config.max_seq_len
    state = model.initial_state(z, n) if state is None else state
    inputs = _start_tokens(n, device) if first_input is None else first_input
    rows = torch.zeros(n, max_len, 5, device=device)
    rows[:, :, 4] = 1  # unfinished rows read as end-of-sketch padding
    active = torch.arange(n, device=device)
    z_gates = model.latent_gates(z)
    for t in range(max_len):
        out, state = model.decode_given_gates(inputs, z_gates, state)
        point = next_points(model.split_params(out[:, -1]), temperature, generator)
        rows[active, t] = point
        drawing = point[:, 2 + END_OF_SKETCH] == 0
        if not drawing.all():
            active, state, point = active[drawing], state[drawing], point[drawing]
            z_gates = None if z_gates is None else z_gates[drawing]
            if len(active) == 0:
                break
        inputs = point.unsqueeze(1)
    return [_denormalise(model, to_stroke3(r)) for r in rows.cpu().numpy()]


def _denormalise(model, stroke3: np.ndarray) -> np.ndarray:
    out = stroke3.astype(np.float32, copy=True)
    out[:, :2] *= model.config.scale_factor
    return out


def prior_latents(model, n: int, generator: torch.Generator | None = None) -> torch.Tensor | None:
    """z drawn from the standard normal prior, or None for an unconditional model."""
    if not model.config.conditional:
        return None
    return torch.randn(n, model.config.z_size, generator=generator, device=_device(model))


def sample(model, n: int = 1, temperature: float = 0.65, z: torch.Tensor | None = None,
           seed: int | None = None) -> list[np.ndarray]:
    """`n` new drawings: from the prior (or the given z) for a conditional model, from scratch otherwise."""
    generator = _generator(seed, _device(model))
    if z is None:
        z = prior_latents(model, n, generator)
    elif z.shape[0] != n:
        raise DataError(f"got {z.shape[0]} latent codes for {n} drawings")
    return decode(model, None if z is None else z.to(_device(model)), n, temperature, generator)


def reconstruct(model, drawings: list[np.ndarray], temperatures: list[float] = (0.2, 0.5, 0.8),
                seed: int | None = None) -> list[list[np.ndarray]]:
    """Encode each drawing and decode it at each temperature: result[i][j] is drawing i at temperature j."""
    generator = _generator(seed, _device(model))
    z = encode(model, drawings)
    per_temperature = [decode(model, z, len(drawings), t, generator) for t in temperatures]
    return [list(row) for row in zip(*per_temperature)]


def slerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Spherical interpolation, which keeps intermediate codes at the norm the Gaussian prior expects."""
    omega = torch.arccos(torch.clamp(torch.dot(a / a.norm(), b / b.norm()), -1.0, 1.0))
    if omega.abs() < 1e-6:
        return (1 - t) * a + t * b
    return (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)


def interpolation_path(a: torch.Tensor, b: torch.Tensor, steps: int, method: str = "slerp") -> torch.Tensor:
    """`steps` latent codes from a to b inclusive, linear or spherical."""
    if steps < 2:
        raise DataError(f"interpolation needs at least 2 steps, got {steps}")
    if method not in ("slerp", "lerp"):
        raise DataError(f"unknown interpolation {method!r}: use slerp or lerp")
    ts = torch.linspace(0, 1, steps).tolist()
    if method == "lerp":
        return torch.stack([(1 - t) * a + t * b for t in ts])
    return torch.stack([slerp(a, b, t) for t in ts])


def interpolate(model, first: np.ndarray, second: np.ndarray, steps: int = 8, method: str = "slerp",
                temperature: float = 0.0, seed: int | None = 0) -> list[np.ndarray]:
    """Drawings decoded along the latent path between two drawings' codes."""
    z = encode(model, [first, second])
    path = interpolation_path(z[0], z[1], steps, method)
    return decode(model, path, steps, temperature, _generator(seed, _device(model)))


@torch.no_grad()
def complete(model, prefix: np.ndarray, n: int = 4, temperature: float = 0.5,
             seed: int | None = None) -> list[np.ndarray]:
    """Continue an unfinished drawing `n` ways: the decoder reads the given strokes, then draws on.

    A conditional model first encodes the unfinished drawing; its latent code steers the continuation.
    Each result holds the given strokes followed by the model's.
    """
    if len(prefix) == 0:
        raise DataError("nothing to complete: the drawing is empty")
    generator = _generator(seed, _device(model))
    strokes, lengths = prepare_drawings(model, [prefix])
    if model.config.conditional:
        mu, _ = model.encode_batch(strokes, lengths)
        z = mu.expand(n, -1)
    else:
        z = None
    primed = strokes[:, : len(prefix) + 1].expand(n, -1, -1)  # start token + the prefix's rows
    _, state = model.decode(primed[:, :-1], z, model.initial_state(z, n))
    room = model.config.max_seq_len - len(prefix)
    if room <= 0:
        raise DataError(f"the drawing already has {len(prefix)} points, the most this model draws")
    tails = decode(model, z, n, temperature, generator, state=state, first_input=primed[:, -1:], max_len=room)
    return [np.concatenate([prefix.astype(np.float32), tail]) for tail in tails]


def _generator(seed: int | None, device: torch.device) -> torch.Generator | None:
    """A seeded generator on the model's device (CUDA sampling cannot draw from a CPU generator)."""
    return None if seed is None else torch.Generator(device=device).manual_seed(seed)
