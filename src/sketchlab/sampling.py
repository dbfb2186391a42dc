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
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from sketchlab.data.strokes import pad_stroke5, to_stroke3
from sketchlab.errors import DataError

START_TOKEN = (0.0, 0.0, 1.0, 0.0, 0.0)
END_OF_SKETCH = 2
# Drawings decoded together at most: 10,000 take tens of seconds on a CPU; ten million never ended.
MAX_DRAWINGS = 10_000


def check_count(n: int) -> None:
    """A DataError unless 1 <= n <= MAX_DRAWINGS drawings are asked for."""
    if isinstance(n, bool) or int(n) != n or not 1 <= n <= MAX_DRAWINGS:
        raise DataError(f"asked for {n} drawings: give a whole number from 1 to {MAX_DRAWINGS:,}")


def _device(model) -> torch.device:
    return next(model.parameters()).device


def _start_tokens(n: int, device: torch.device) -> torch.Tensor:
    return torch.tensor(START_TOKEN, device=device).expand(n, 1, 5).clone()


def prepare_drawings(model, drawings: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalise stroke-3 drawings by the model's scale factor and pad them into an encoder batch."""
    if not len(drawings):
        raise DataError("no drawings given")
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


@dataclass(frozen=True)
class Paper:
    """A box the pen must stay inside: `x0 <= x <= x1`, `y0 <= y <= y1` (data units, or normalised ones inside
    `decode`), measured from the drawing's origin. A point that would leave it is drawn again from the same
    distribution, up to `tries` times; if every draw leaves, the sketch ends there (at temperature 0 a redraw is the
    same point), rather than running along the edge."""

    x0: float
    y0: float
    x1: float
    y1: float
    tries: int = 8

    def scaled(self, factor: float) -> Paper:
        return Paper(self.x0 * factor, self.y0 * factor, self.x1 * factor, self.y1 * factor, self.tries)

    def keep_inside(self, point: torch.Tensor, position: torch.Tensor,
                    redraw: Callable[[], torch.Tensor]) -> torch.Tensor:
        """`point` (stroke-5 rows) with the rows that would take the pen from `position` off the paper redrawn, or
        turned into the end of their sketch (staying where the pen is)."""
        low = torch.tensor([self.x0, self.y0], dtype=point.dtype, device=point.device)
        high = torch.tensor([self.x1, self.y1], dtype=point.dtype, device=point.device)

        def outside(rows: torch.Tensor) -> torch.Tensor:
            target = position + rows[:, :2]
            return ((target < low) | (target > high)).any(dim=-1, keepdim=True)

        for _ in range(self.tries):
            leaving = outside(point)
            if not leaving.any():
                return point
            point = torch.where(leaving, redraw(), point)
        end = torch.tensor([0, 0, 0, 0, 1], dtype=point.dtype, device=point.device)
        return torch.where(outside(point), end, point)


# Called after each decoding step with the step, the indices of the sketches still drawing and their new stroke-5
# rows (normalised units); raising stops the decoding (a listener that went away).
StepListener = Callable[[int, torch.Tensor, torch.Tensor], None]


@torch.no_grad()
def decode(model, z: torch.Tensor | None, n: int, temperature: float = 0.65,
           generator: torch.Generator | None = None, state: torch.Tensor | None = None,
           first_input: torch.Tensor | None = None, max_len: int | None = None,
           paper: Paper | None = None, position: torch.Tensor | None = None,
           on_step: StepListener | None = None) -> list[np.ndarray]:
    """Decode `n` sketches together, each stopping at its own end-of-sketch.

    Finished sketches leave the batch, so the cost follows the sketches still drawing. `state` and `first_input`
    let a caller continue from a primed decoder (completion); by default decoding starts from z's initial state.
    With `paper` (normalised units) the pen, starting at `position` (n, 2) (the origin by default), stays on it.
    """
    if temperature < 0 or not math.isfinite(temperature):
        raise DataError(f"temperature must be a finite number >= 0, got {temperature}")
    check_count(n)
    model.eval()
    device = _device(model)
    max_len = max_len or model.config.max_seq_len
    state = model.initial_state(z, n) if state is None else state
    inputs = _start_tokens(n, device) if first_input is None else first_input
    rows = torch.zeros(n, max_len, 5, device=device)
    rows[:, :, 4] = 1  # unfinished rows read as end-of-sketch padding
    active = torch.arange(n, device=device)
    z_gates = model.latent_gates(z)
    if paper is not None and position is None:
        position = torch.zeros(n, 2, device=device)
    for t in range(max_len):
        out, state = model.decode_given_gates(inputs, z_gates, state)
        params = model.split_params(out[:, -1])
        point = next_points(params, temperature, generator)
        if paper is not None:
            point = paper.keep_inside(point, position, lambda: next_points(params, temperature, generator))
            position = position + point[:, :2]
        rows[active, t] = point
        if on_step is not None:
            on_step(t, active, point)
        drawing = point[:, 2 + END_OF_SKETCH] == 0
        if not drawing.all():
            active, state, point = active[drawing], state[drawing], point[drawing]
            z_gates = None if z_gates is None else z_gates[drawing]
            position = None if position is None else position[drawing]
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
    check_count(n)
    generator = _generator(seed, _device(model))
    if z is None:
        z = prior_latents(model, n, generator)
    elif z.shape[0] != n:
        raise DataError(f"got {z.shape[0]} latent codes for {n} drawings")
    return decode(model, None if z is None else z.to(_device(model)), n, temperature, generator)


def reconstruct(model, drawings: list[np.ndarray], temperatures: list[float] = (0.2, 0.5, 0.8),
                seed: int | None = None) -> list[list[np.ndarray]]:
    """Encode each drawing and decode it at each temperature: result[i][j] is drawing i at temperature j."""
    if not len(temperatures):
        raise DataError("no temperatures given to reconstruct at")
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
    check_count(steps)  # one drawing per step
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
             seed: int | None = None, paper: Paper | None = None,
             on_step: StepListener | None = None) -> list[np.ndarray]:
    """Continue an unfinished drawing `n` ways: the decoder reads the given strokes, then draws on.

    A conditional model first encodes the unfinished drawing; its latent code steers the continuation.
    Each result holds the given strokes followed by the model's. `paper` (data units, from the prefix's origin)
    keeps the new strokes on it; `on_step` hears each new row as it is drawn (see `decode`).
    """
    if len(prefix) == 0:
        raise DataError("nothing to complete: the drawing is empty")
    check_count(n)
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
    factor = 1 / model.config.scale_factor
    end = torch.as_tensor(prefix[:, :2].sum(axis=0) * factor, dtype=torch.float32, device=strokes.device)
    tails = decode(model, z, n, temperature, generator, state=state, first_input=primed[:, -1:], max_len=room,
                   paper=None if paper is None else paper.scaled(factor), position=end.expand(n, 2),
                   on_step=on_step)
    return [np.concatenate([prefix.astype(np.float32), tail]) for tail in tails]


def _generator(seed: int | None, device: torch.device) -> torch.Generator | None:
    """A seeded generator on the model's device (CUDA sampling cannot draw from a CPU generator)."""
    return None if seed is None else torch.Generator(device=device).manual_seed(seed)
