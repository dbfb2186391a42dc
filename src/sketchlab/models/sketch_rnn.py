"""Sketch-RNN: a sequence-to-sequence VAE of pen strokes (Ha & Eck 2017, "A Neural Representation of Sketch Drawings").

Read top to bottom: the configuration and its schedules, the output distribution (a Gaussian mixture over the pen's
offset and a categorical over its state), the bidirectional encoder, then the model itself: encoder -> z -> decoder,
the losses of the paper's section 3, and the engine contract of docs/conventions.md.

Batches follow docs/conventions.md: `strokes` (B, N_max + 1, 5) starts with the start token, `lengths` (B,) counts the
real stroke-5 rows. The decoder reads strokes[:, :-1] and predicts strokes[:, 1:]; the encoder reads strokes[:, 1:].
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence
from torch.optim.lr_scheduler import LambdaLR
from torch.utils.checkpoint import checkpoint

from sketchlab.errors import ConfigError
from sketchlab.models.pretrained import Pretrained
from sketchlab.models.rnn_cells import CELLS, FusedLSTM, PackedLSTMFunction, make_cell, stacked_weights

if TYPE_CHECKING:
    import numpy as np



# ---------------------------------------------------------------------- configuration


@dataclass
class SketchRNNConfig:
    """Hyper-parameters; the defaults are the paper's (and magenta's sketch_rnn defaults)."""

    enc_hidden: int = 256  # each direction of the bidirectional LSTM encoder
    dec_hidden: int = 512
    z_size: int = 128  # latent size N_z
    num_mixture: int = 20  # M: Gaussian components of the offset distribution
    max_seq_len: int = 250  # N_max: longer drawings are left out (and counted)
    cell: str = "lstm"  # decoder cell: lstm (fused, fastest) | layernorm | hyper
    conditional: bool = True  # False: a decoder-only model, no encoder, no z, no KL term
    hyper_hidden: int = 256  # hyper cell only
    hyper_embedding: int = 32  # hyper cell only
    # Drop probability of the decoder's recurrent dropout (layernorm and hyper cells; the fused LSTM has none).
    # The paper trained with keep probability 0.9, i.e. recurrent_dropout=0.1.
    recurrent_dropout: float = 0.0
    input_dropout: float = 0.0
    output_dropout: float = 0.0
    # Training only: which activations are recomputed in the backward pass instead of kept from the forward pass.
    # encoder: the encoder's, after the decoder's backward has freed its own (150 MB less at the paper's sizes under
    # bf16, about 1.05x the time a step); all: the decoder's too, `checkpoint_steps` steps at a time (about 1.2x);
    # none; auto: the encoder's, and the decoder's unless it runs the hand-written layer under bf16 on a CPU (which
    # keeps them in 250 MB), so that `sketchlab train` stays under 1 GB in bf16 and float32 alike.
    recompute: str = "auto"
    checkpoint_steps: int = 25  # the decoder's steps recomputed at a time; 0: the decoder's are never recomputed
    batch_size: int = 100
    # 0: the paper's objective, random batches each run to N_max with the pen loss on every padding row. k > 0:
    # batches cut from k batches' worth of drawings sorted by length, each run only to its longest drawing and that
    # drawing's first end-of-sketch row (about half the decoder's work on sheep); the pen loss then leaves out the
    # padding beyond, which the paper's L_R counts: measured worse for the same training time (benchmarks/README.md).
    bucket_pool: int = 0
    learning_rate: float = 1e-3
    decay_rate: float = 0.9999  # the learning rate is multiplied by this every step, down to min_learning_rate
    min_learning_rate: float = 1e-5
    grad_clip: float = 1.0  # 0 disables
    kl_weight: float = 0.5  # w_KL, the KL term's final weight
    kl_weight_start: float = 0.01  # eta_min: w_KL(step) = w_KL * (1 - (1 - eta_min) * R^step)
    kl_decay_rate: float = 0.99995  # R of that schedule; smaller ramps the KL weight up sooner
    kl_tolerance: float = 0.2  # KL_min: below it (per latent dimension) the KL term exerts no pull
    random_scale_factor: float = 0.15  # data augmentation, applied by the data pipeline
    augment_stroke_prob: float = 0.10  # data augmentation, applied by the data pipeline
    scale_factor: float = 1.0  # std of the training offsets, set from the data before training; undone when drawing

    def validate(self) -> None:
        """Raise ConfigError (a ValueError) naming the first absurd setting."""
        for name in ("enc_hidden", "dec_hidden", "z_size", "num_mixture", "max_seq_len", "hyper_hidden",
                     "hyper_embedding", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        if self.recompute not in RECOMPUTE:
            raise ConfigError(f"unknown recompute {self.recompute!r}: use one of {', '.join(RECOMPUTE)}")
        for name in ("checkpoint_steps", "bucket_pool"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"{name} must be 0 or a positive integer, got {value!r}")
        if self.cell not in CELLS:
            raise ConfigError(f"unknown cell {self.cell!r}: use one of {', '.join(CELLS)}")
        for names, holds, meaning in _FLOAT_RULES:
            for name in names:
                value = getattr(self, name)
                if not isinstance(value, (int, float)) or not math.isfinite(value) or not holds(value):
                    raise ConfigError(f"{name} must be {meaning}, got {value!r}")
        if self.min_learning_rate > self.learning_rate:
            raise ConfigError(f"min_learning_rate {self.min_learning_rate} is above learning_rate {self.learning_rate}")
        if self.recurrent_dropout > 0 and self.cell == "lstm":
            raise ConfigError("the fused lstm cell has no recurrent dropout: use cell layernorm or hyper, "
                              "or recurrent_dropout 0")


RECOMPUTE = ("auto", "encoder", "all", "none")

_FLOAT_RULES = (
    (("recurrent_dropout", "input_dropout", "output_dropout"), lambda v: 0 <= v < 1, "in [0, 1)"),
    (("learning_rate", "scale_factor"), lambda v: v > 0, "positive"),
    (("min_learning_rate", "grad_clip", "kl_weight", "kl_tolerance", "random_scale_factor"), lambda v: v >= 0, ">= 0"),
    (("kl_weight_start", "augment_stroke_prob"), lambda v: 0 <= v <= 1, "in [0, 1]"),
    (("decay_rate", "kl_decay_rate"), lambda v: 0 < v <= 1, "in (0, 1]"),
)


def learning_rate_at(config: SketchRNNConfig, step: float) -> float:
    """Exponential decay towards a floor: (lr - min_lr) * decay_rate^step + min_lr (magenta)."""
    return (config.learning_rate - config.min_learning_rate) * config.decay_rate**step + config.min_learning_rate


def kl_weight_at(config: SketchRNNConfig, step: float) -> float:
    """The KL term's weight, annealed from kl_weight * kl_weight_start up to kl_weight (the paper's eta_step).

    This is the paper's w_KL * (1 - (1 - eta_min) R^step); magenta's code instead starts at kl_weight_start itself.
    """
    return config.kl_weight * (1 - (1 - config.kl_weight_start) * config.kl_decay_rate**step)


# ---------------------------------------------------------------------- output distribution


class MixtureParams(NamedTuple):
    """The decoder's distribution of the next point, each field (..., M) except pen_logits (..., 3)."""

    logit_pi: Tensor  # unnormalised log mixture weights
    mu_x: Tensor
    mu_y: Tensor
    sigma_x: Tensor  # exp(log_sigma_x)
    sigma_y: Tensor
    rho: Tensor  # correlation, tanh(atanh_rho)
    pen_logits: Tensor  # logits of (p1, p2, p3)
    log_sigma_x: Tensor  # the raw outputs behind sigma and rho, for exact log densities
    log_sigma_y: Tensor
    atanh_rho: Tensor


def log_cosh(x: Tensor) -> Tensor:
    """log(cosh(x)) without overflow."""
    x = x.abs()
    return x + F.softplus(-2 * x) - math.log(2)


def mixture_log_prob(params: MixtureParams, dx: Tensor, dy: Tensor) -> Tensor:
    """log p(dx, dy) under the Gaussian mixture; dx and dy (...) give a result of the same shape.

    Each bivariate normal is factorised as p(x) p(y | x), where y | x is normal with mean mu_y + rho sigma_y z_x and
    standard deviation sigma_y sqrt(1 - rho^2) = sigma_y / cosh(atanh_rho). Written with atanh_rho, nothing divides
    by 1 - rho^2 (which rounds to 0 in float32 as |rho| nears 1), so no epsilon is needed; the mixture sums in log
    space.
    """
    zx = (dx.unsqueeze(-1) - params.mu_x) * torch.exp(-params.log_sigma_x)
    zy = (dy.unsqueeze(-1) - params.mu_y) * torch.exp(-params.log_sigma_y)
    zy_given_x = (zy - params.rho * zx) * torch.cosh(params.atanh_rho)
    log_normal = (log_cosh(params.atanh_rho) - params.log_sigma_x - params.log_sigma_y - math.log(2 * math.pi)
                  - 0.5 * (zx.square() + zy_given_x.square()))
    return torch.logsumexp(F.log_softmax(params.logit_pi, dim=-1) + log_normal, dim=-1)


def at_least_float32(x: Tensor) -> Tensor:
    """`x` itself, or in float32 when autocast made it bf16 or float16 (a float64 model stays float64)."""
    return x.to(torch.promote_types(x.dtype, torch.float32))


def _bf16_on_cpu(x: Tensor) -> bool:
    """Whether `x`'s products run under CPU autocast in bf16 (`--amp bf16`, or `auto` on a CPU with native bf16)."""
    return x.device.type == "cpu" and torch.is_autocast_enabled("cpu") and \
        torch.get_autocast_dtype("cpu") == torch.bfloat16


# ---------------------------------------------------------------------- encoder

# Under bf16 on a CPU the encoder's packed rows are padded to a multiple of this (see `_both_directions_at_once`).
ENCODER_ROWS = 2048


class BidirectionalEncoder(nn.Module):
    """Final hidden states of a forward and a backward LSTM over each sketch's real rows, concatenated: (B, 2H).

    Both LSTMs are given the lengths and stop at each sketch's last real row (see `FusedLSTM`), so padding is
    neither read nor computed; the backward LSTM reads each sketch reversed within its own length (its padding stays
    at the end).
    """

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.forward_rnn = FusedLSTM(input_size, hidden_size)
        self.backward_rnn = FusedLSTM(input_size, hidden_size)

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        batch, steps, features = x.shape
        t = torch.arange(steps, device=x.device)
        last = (lengths - 1).unsqueeze(1)  # (B, 1)
        reverse = torch.where(t < lengths.unsqueeze(1), last - t, t)  # (B, N)
        x_reversed = x.gather(1, reverse.unsqueeze(-1).expand(-1, -1, features))
        both_fused = all(isinstance(rnn, FusedLSTM) for rnn in (self.forward_rnn, self.backward_rnn))
        if x.device.type == "cpu" and both_fused:  # (benchmarks/ swaps in other LSTMs to compare)
            return self._both_directions_at_once(x, x_reversed, lengths)
        state = x.new_zeros(batch, self.forward_rnn.state_size)
        hidden = self.forward_rnn.hidden_size
        h_forward = self.forward_rnn(x, state, lengths)[1][:, :hidden]
        h_backward = self.backward_rnn(x_reversed, state, lengths)[1][:, :hidden]
        return torch.cat([h_forward, h_backward], dim=1)

    @torch.compiler.disable  # a Python loop over the batch's lengths: compiled, every batch would compile it anew
    def _both_directions_at_once(self, x: Tensor, x_reversed: Tensor, lengths: Tensor) -> Tensor:
        """On a CPU both directions share the packing (the same lengths), so one `PackedLSTMFunction` runs them side
        by side: half the per-step ops, and batched products (the encoder 1.2x faster than one direction after the
        other)."""
        packed = pack_padded_sequence(torch.stack([x, x_reversed], dim=2).flatten(2), lengths.cpu(), batch_first=True,
                                      enforce_sorted=False)
        data = packed.data.view(len(packed.data), 2, -1).transpose(0, 1)  # (2 directions, rows, features)
        if _bf16_on_cpu(x):
            # Padded with zero rows to a multiple of ENCODER_ROWS: under bf16 oneDNN compiles a matrix product for each
            # new shape and keeps it (2.7 MB for the four over all rows), so the products' shapes must not follow each
            # batch's exact count of rows; padding to B x N_max instead did twice the work on sheep.
            data = F.pad(data, (0, 0, 0, -data.shape[1] % ENCODER_ROWS))
        zeros = x.new_zeros(2, len(x), self.forward_rnn.hidden_size)
        _, h, _ = PackedLSTMFunction.apply(data, packed.batch_sizes.tolist(), zeros, zeros,
                                           *stacked_weights([self.forward_rnn, self.backward_rnn]))
        return h.index_select(1, packed.unsorted_indices).transpose(0, 1).flatten(1)


# ---------------------------------------------------------------------- model


def cell_options(config: SketchRNNConfig) -> dict[str, Any]:
    """The constructor arguments of the configured decoder cell beyond its sizes."""
    return {
        "lstm": {},
        "layernorm": {"recurrent_dropout": config.recurrent_dropout},
        "hyper": {"recurrent_dropout": config.recurrent_dropout, "hyper_hidden": config.hyper_hidden,
                  "hyper_embedding": config.hyper_embedding},
    }[config.cell]


class SketchRNN(Pretrained, nn.Module):
    """Encoder (bidirectional LSTM) -> z -> autoregressive decoder emitting a mixture density per step."""

    model_name = "sketch-rnn"
    config_class = SketchRNNConfig
    # The engine's amp "auto" trains it under bf16 autocast on a CPU with native bf16: 1.7-2.0x float32's speed, and
    # the same validation L_R as float32 after the same steps (benchmarks/README.md).
    bf16_by_default = True

    def __init__(self, config: SketchRNNConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        z_input = config.z_size if config.conditional else 0
        self.cell = make_cell(config.cell, 5 + z_input, config.dec_hidden, **cell_options(config))
        if config.conditional:
            self.encoder = BidirectionalEncoder(5, config.enc_hidden)
            self.posterior = nn.Linear(2 * config.enc_hidden, 2 * config.z_size)  # -> (mu, sigma_hat)
            # Tiny weights as magenta's: the posterior starts near N(0, I), so the KL term starts near 0.
            nn.init.normal_(self.posterior.weight, std=0.001)
            nn.init.zeros_(self.posterior.bias)
            self.to_initial_state = nn.Linear(config.z_size, self.cell.state_size)
        self.input_dropout = nn.Dropout(config.input_dropout)
        self.output_dropout = nn.Dropout(config.output_dropout)
        self.head = nn.Linear(config.dec_hidden, 6 * config.num_mixture + 3)

    # ------------------------------------------------------------------ tensor-level API (the sampler's)

    def encode_batch(self, strokes: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """Posterior mean and log-variance (mu, sigma_hat), each (B, z_size), of strokes (B, N + 1, 5)."""
        h = self.encoder(strokes[:, 1:], lengths)
        with torch.autocast(h.device.type, enabled=False):  # z's noise is drawn in mu's dtype; the KL term reads both
            mu, sigma_hat = self.posterior(at_least_float32(h)).chunk(2, dim=-1)
        return mu, sigma_hat

    def initial_state(self, z: Tensor | None, batch_size: int) -> Tensor:
        """The decoder's first state (B, state_size): tanh(W z + b), or zeros for an unconditional model."""
        if z is None:
            return self.head.weight.new_zeros(batch_size, self.cell.state_size)
        return torch.tanh(self.to_initial_state(z))

    def decode(self, inputs: Tensor, z: Tensor | None, state: Tensor) -> tuple[Tensor, Tensor]:
        """Run the decoder over inputs (B, T, 5) from `state`: output (B, T, 6M + 3) and the state after step T."""
        if z is not None and (self._fused_kernel_decodes(inputs) or self.config.input_dropout):
            # Input dropout must drop z's features too.
            inputs, z = torch.cat([inputs, z.unsqueeze(1).expand(-1, inputs.shape[1], -1)], dim=2), None
        return self.decode_given_gates(inputs, self.latent_gates(z), state)

    def _fused_kernel_decodes(self, inputs: Tensor) -> bool:
        """Whether the lstm decoder runs torch's fused LSTM over z joined to every input, rather than the hand-written
        layer given z's gates. In float32 oneDNN's kernel trains no slower (the decoder's forward and backward at the
        paper's sizes: 2.2 against 2.6 s) and a GPU has cuDNN's; under bf16 autocast on a CPU the hand-written layer
        is faster (0.53 against 0.58 s) and keeps its activations in bf16."""
        return self.config.cell == "lstm" and not _bf16_on_cpu(inputs)

    def latent_gates(self, z: Tensor | None) -> Tensor | None:
        """z's share of the decoder cell's gates (the cells' `constant_gates`), computed once per sketch."""
        return None if z is None else self.cell.constant_gates(z)

    def decode_given_gates(self, inputs: Tensor, z_gates: Tensor | None, state: Tensor) -> tuple[Tensor, Tensor]:
        """`decode` with z given as `latent_gates(z)`: the sampler decodes this way, a step at a time, so that z's
        product (a fifth of a step's arithmetic at the paper's sizes) is computed once."""
        inputs = self.input_dropout(inputs)
        chunk = self.config.checkpoint_steps
        if chunk and self._recomputes("decoder", inputs):
            h, state = self._run_in_checkpointed_chunks(inputs, state, z_gates, chunk)
        else:
            h, state = self.cell(inputs, state, constant_gates=z_gates)
        # The mixture's parameters are rounded to bf16 under autocast: that moved the trained sheep's validation L_R
        # by 1e-4; the densities are computed in float32 all the same.
        return at_least_float32(self._head(self.output_dropout(h))), state

    def _head(self, h: Tensor) -> Tensor:
        """The mixture head over h (B, T, H), read in the layout h is stored in: the hand-written layer's outputs are
        time-major, and a product over them batch-major would first copy them (24 MB at the paper's sizes, and again
        for their gradient)."""
        time_major = h.transpose(0, 1)
        if time_major.is_contiguous() and not h.is_contiguous():
            return self.head(time_major).transpose(0, 1)
        return self.head(h)

    def _run_in_checkpointed_chunks(self, inputs: Tensor, state: Tensor, z_gates: Tensor | None, chunk: int,
                                    ) -> tuple[Tensor, Tensor]:
        """The cell over `inputs`, keeping for the backward pass only each chunk's input state and outputs.

        The cell's gates and cell states (most of a step's memory) are recomputed chunk by chunk in the backward
        pass; the RNG is replayed, so recurrent dropout draws the same masks and the gradients are unchanged.
        """
        outputs = []
        for piece in inputs.split(chunk, dim=1):
            h, state = checkpoint(self.cell, piece, state, use_reentrant=False, constant_gates=z_gates)
            outputs.append(h)
        return torch.cat(outputs, dim=1), state

    def _recomputes(self, part: str, inputs: Tensor) -> bool:
        """Whether this training pass recomputes `part`'s (encoder, decoder) activations in the backward pass."""
        if not (self.training and torch.is_grad_enabled()):
            return False
        recompute = self.config.recompute
        if recompute == "auto":
            return part == "encoder" or not (self.config.cell == "lstm" and _bf16_on_cpu(inputs))
        return recompute == "all" or recompute == part

    def _encode_for_training(self, strokes: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """`encode_batch`, its activations recomputed in the backward pass as `recompute` says."""
        if self._recomputes("encoder", strokes):
            return checkpoint(self.encode_batch, strokes, lengths, use_reentrant=False)
        return self.encode_batch(strokes, lengths)

    @staticmethod
    def split_params(out: Tensor) -> MixtureParams:
        """Cut decoder output (..., 6M + 3) into the mixture's parameters: pen logits first, then 6 blocks of M."""
        pen_logits = out[..., :3]
        logit_pi, mu_x, mu_y, log_sigma_x, log_sigma_y, atanh_rho = out[..., 3:].chunk(6, dim=-1)
        return MixtureParams(logit_pi, mu_x, mu_y, log_sigma_x.exp(), log_sigma_y.exp(), torch.tanh(atanh_rho),
                             pen_logits, log_sigma_x, log_sigma_y, atanh_rho)

    def forward(self, strokes: Tensor, lengths: Tensor) -> Tensor:
        """The decoder's output for a batch, teacher-forced, with z drawn from the posterior (TensorBoard's graph)."""
        return self._teacher_forced(strokes, lengths)[0]

    def _teacher_forced(self, strokes: Tensor, lengths: Tensor, generator: torch.Generator | None = None,
                        ) -> tuple[Tensor, Tensor | None, Tensor | None]:
        """Decoder output over strokes[:, :-1], and the posterior (mu, sigma_hat) (Nones when unconditional)."""
        z = mu = sigma_hat = None
        if self.config.conditional:
            mu, sigma_hat = self._encode_for_training(strokes, lengths)
            eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
            z = mu + torch.exp(sigma_hat / 2) * eps  # the reparameterisation trick
        out, _ = self.decode(strokes[:, :-1], z, self.initial_state(z, len(strokes)))
        return out, mu, sigma_hat

    # ------------------------------------------------------------------ losses

    def compute_losses(self, batch: dict[str, Tensor], step: float, generator: torch.Generator | None = None,
                       to_longest: bool = False) -> dict[str, Tensor]:
        """The paper's losses for a batch at training step `step` (math.inf: the final KL weight).

        l_s and l_p are both divided by B * N_max, as in the paper: offsets count only on real rows, pen states on all
        rows (so the model learns to stop). l_kl is reported raw; the loss floors it at kl_tolerance.
        `to_longest`: the decoder runs only up to the batch's longest drawing and its first end-of-sketch row, so the
        pen loss leaves out the padding rows beyond (l_s is unchanged; every drawing still counts its own end).
        """
        strokes, lengths = batch["strokes"], batch["lengths"]
        all_rows = len(strokes) * (strokes.shape[1] - 1)  # B * N_max
        if to_longest:
            strokes = strokes[:, : self._longest(lengths) + 2]  # the start token, the rows, one end-of-sketch row
        targets = strokes[:, 1:]
        out, mu, sigma_hat = self._teacher_forced(strokes, lengths, generator)
        params = self.split_params(out)
        real = torch.arange(targets.shape[1], device=targets.device) < lengths.unsqueeze(1)
        log_p = mixture_log_prob(params, targets[..., 0], targets[..., 1])
        l_s = -torch.where(real, log_p, 0.0).sum() / all_rows
        l_p = F.cross_entropy(params.pen_logits.flatten(0, 1), targets[..., 2:].flatten(0, 1), reduction="sum") / all_rows
        if self.config.conditional:
            l_kl = -0.5 * torch.mean(1 + sigma_hat - mu.square() - sigma_hat.exp())
            kl_weight = kl_weight_at(self.config, step)
        else:  # no KL term: a zero weight keeps one formula for the loss
            l_kl, kl_weight = out.new_zeros(()), 0.0
        l_r = l_s + l_p
        loss = l_r + kl_weight * torch.clamp(l_kl, min=self.config.kl_tolerance)
        return {"loss": loss, "l_r": l_r, "l_s": l_s, "l_p": l_p, "l_kl": l_kl,
                "kl_weight": torch.tensor(kl_weight, device=loss.device)}

    @staticmethod
    def _longest(lengths: Tensor) -> int:
        """The batch's longest drawing; under DistributedDataParallel the global batch's, so that every process's
        share of the loss is the one a single process would compute."""
        longest = lengths.max()
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.all_reduce(longest, op=torch.distributed.ReduceOp.MAX)
        return int(longest)

    # ------------------------------------------------------------------ engine contract

    def configure_optimizers(self) -> list[tuple[torch.optim.Optimizer, LambdaLR]]:
        """Adam with the learning rate decaying to its floor (`learning_rate_at`), stepped once per update."""
        config = self.config
        optimizer = torch.optim.Adam(self.parameters(), lr=config.learning_rate)
        scheduler = LambdaLR(optimizer, lambda step: learning_rate_at(config, step) / config.learning_rate)
        return [(optimizer, scheduler)]

    def training_step(self, batch: dict[str, Tensor], step: int, optimizer_idx: int = 0) -> dict[str, Tensor]:
        """The losses of `compute_losses`, run to each batch's longest drawing when the batches are bucketed by length
        (`bucket_pool`); one optimiser, so `optimizer_idx` is always 0."""
        return self.compute_losses(batch, step, to_longest=self.config.bucket_pool > 0)

    @property
    def grad_clip(self) -> float | None:
        """The engine clips the gradients' global norm to this (magenta clipped each value to [-1, 1] instead)."""
        return self.config.grad_clip or None

    @torch.no_grad()
    def evaluate(self, batch: dict[str, Tensor]) -> dict[str, float]:
        """Validation losses at the final KL weight; z's noise comes from a fixed seed, so repeats agree exactly."""
        generator = torch.Generator(device=batch["strokes"].device).manual_seed(0)
        losses = self.compute_losses(batch, math.inf, generator)
        return {name: float(losses[name]) for name in ("loss", "l_r", "l_s", "l_p", "l_kl")}

    def example_input(self) -> tuple[Tensor, Tensor]:
        """A small batch (strokes, lengths) for tracing the graph shown in TensorBoard."""
        strokes = self.head.weight.new_zeros(2, 9, 5)
        strokes[:, :, 2] = 1  # start token, then pen-down rows
        return strokes, torch.tensor([8, 5], device=strokes.device)

    # ------------------------------------------------------------------ drawing API (sketchlab.sampling)
    # Imported inside each method: sampling needs the data package, the model itself does not.

    def sample(self, n: int = 1, temperature: float = 0.65, z: Tensor | None = None,
               seed: int | None = None) -> list[np.ndarray]:
        """`n` new drawings (stroke-3, data units); see `sketchlab.sampling.sample`."""
        from sketchlab import sampling

        return sampling.sample(self, n, temperature, z, seed)

    def encode(self, drawings: list[np.ndarray]) -> Tensor:
        """Latent means (N, z_size) of stroke-3 drawings; see `sketchlab.sampling.encode`."""
        from sketchlab import sampling

        return sampling.encode(self, drawings)

    def reconstruct(self, drawings: list[np.ndarray], temperatures=(0.2, 0.5, 0.8),
                    seed: int | None = None) -> list[list[np.ndarray]]:
        """Each drawing encoded and decoded at each temperature; see `sketchlab.sampling.reconstruct`."""
        from sketchlab import sampling

        return sampling.reconstruct(self, drawings, temperatures, seed)

    def interpolate(self, first: np.ndarray, second: np.ndarray, steps: int = 8, method: str = "slerp",
                    temperature: float = 0.0, seed: int | None = 0) -> list[np.ndarray]:
        """Drawings along the latent path between two drawings; see `sketchlab.sampling.interpolate`."""
        from sketchlab import sampling

        return sampling.interpolate(self, first, second, steps, method, temperature, seed)

    def complete(self, prefix: np.ndarray, n: int = 4, temperature: float = 0.5,
                 seed: int | None = None) -> list[np.ndarray]:
        """`n` continuations of an unfinished drawing; see `sketchlab.sampling.complete`."""
        from sketchlab import sampling

        return sampling.complete(self, prefix, n, temperature, seed)

    def log_images(self, step: int) -> dict[str, np.ndarray]:
        """Sample drawings for TensorBoard: the same 16 prior codes at every logged step, so progress is visible."""
        from sketchlab import render

        drawings = self.sample(16, temperature=0.5, seed=0)
        return {"samples": render.grid_array(drawings, ncols=4, cell=96)}
