"""Recurrent cells for the Sketch-RNN decoder, all behind one interface.

Every cell has `hidden_size`, `state_size` (the width of its flat state) and
`forward(x (B, T, I), state (B, state_size)) -> (outputs (B, T, hidden_size), new_state (B, state_size))`.
A flat state keeps the decoder cell-agnostic: its initial state is tanh(Linear(z)) of width `state_size`, and the
sampler can index it by batch row whatever the cell.

- `FusedLSTM`: torch's fused LSTM (cuDNN / oneDNN); by far the fastest on a GPU, without recurrent dropout.
- `LayerNormLSTM`: layer normalisation on the gates and the cell (Ba et al. 2016, as magenta's LayerNormLSTMCell)
  and recurrent dropout on the candidate (Semeniuta et al. 2016).
- `HyperLSTM`: a small LSTM that rescales the main LSTM's weights at every step (Ha, Dai & Le 2016, "HyperNetworks").

Gate pre-activations are laid out as (B, 4, H) in the order (input, forget, output, candidate), so one sigmoid covers
the first three and the layer normalisation of each gate is a normalisation over the last axis.

The per-step loops are plain Python: each step is a few large ops (matrix products take over half the time), and a
TorchScript version of the layer-norm loop (TorchScript is deprecated in torch 2.13) was slower, not faster: forward +
backward at batch 100, 250 steps, H 512 on 2 CPU cores took 2.3-3.1 s in Python against 3.0-3.7 s scripted.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# Forget-gate bias at initialisation: remembering by default lets gradients reach early steps (magenta's forget_bias).
FORGET_BIAS = 1.0


def init_recurrent_(weight_hh: Tensor) -> None:
    """Orthogonal (4H, H) recurrent weights, one block per gate (magenta's lstm_ortho_initializer)."""
    with torch.no_grad():
        for block in weight_hh.chunk(4, dim=0):
            nn.init.orthogonal_(block)


def dropout_masks(steps: int, shape: tuple[int, ...], p: float, training: bool, like: Tensor) -> list[Tensor | None]:
    """One inverted-dropout mask of `shape` per step, drawn in one op; Nones when dropout is off."""
    if not training or p == 0:
        return [None] * steps
    return list(F.dropout(like.new_ones(steps, *shape), p).unbind(0))


class FusedLSTM(nn.Module):
    """`nn.LSTM` behind the flat-state interface; state = cat(h, c)."""

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        self.state_size = 2 * hidden_size
        self.lstm = nn.LSTM(input_size, hidden_size, batch_first=True)
        init_recurrent_(self.lstm.weight_hh_l0)
        with torch.no_grad():
            self.lstm.bias_ih_l0.zero_()
            self.lstm.bias_hh_l0.zero_()
            self.lstm.bias_ih_l0[hidden_size : 2 * hidden_size] = FORGET_BIAS  # torch's gate order is i, f, g, o

    def forward(self, x: Tensor, state: Tensor) -> tuple[Tensor, Tensor]:
        h, c = state.unsqueeze(0).chunk(2, dim=2)
        outputs, (h, c) = self.lstm(x, (h.contiguous(), c.contiguous()))
        return outputs, torch.cat([h[0], c[0]], dim=1)


class LSTMUpdate(nn.Module):
    """The LSTM update from gate pre-activations (B, 4, H), optionally layer-normalised as magenta's LayerNormLSTMCell.

    With layer normalisation each gate is normalised over its H units, then gets its own gain and bias; the new cell is
    normalised again before its tanh. The bias is the only one the gates get (a bias before normalisation would be
    mostly cancelled by it).
    """

    def __init__(self, hidden_size: int, layer_norm: bool) -> None:
        super().__init__()
        bias = torch.zeros(4, hidden_size)
        bias[1] = FORGET_BIAS
        self.bias = nn.Parameter(bias)
        self.gain = nn.Parameter(torch.ones(4, hidden_size)) if layer_norm else None
        self.cell_norm = nn.LayerNorm(hidden_size) if layer_norm else nn.Identity()

    def forward(self, gates: Tensor, c: Tensor, keep: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """New (h, c); `keep` is the recurrent dropout mask of the candidate (Semeniuta et al.), None for none."""
        if self.gain is None:
            gates = gates + self.bias
        else:
            gates = torch.addcmul(self.bias, F.layer_norm(gates, gates.shape[-1:]), self.gain)
        ifo = torch.sigmoid(gates[:, :3])
        candidate = torch.tanh(gates[:, 3])
        if keep is not None:
            candidate = candidate * keep
        c = torch.addcmul(ifo[:, 1] * c, ifo[:, 0], candidate)
        h = ifo[:, 2] * torch.tanh(self.cell_norm(c))
        return h, c


class LayerNormLSTM(nn.Module):
    """LSTM with layer-normalised gates and cell and recurrent dropout on the candidate; state = cat(h, c)."""

    def __init__(self, input_size: int, hidden_size: int, recurrent_dropout: float = 0.0) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        self.state_size = 2 * hidden_size
        self.recurrent_dropout = recurrent_dropout
        self.weight_ih = nn.Linear(input_size, 4 * hidden_size, bias=False)
        self.weight_hh = nn.Parameter(torch.empty(4 * hidden_size, hidden_size))
        init_recurrent_(self.weight_hh)
        self.update = LSTMUpdate(hidden_size, layer_norm=True)

    def forward(self, x: Tensor, state: Tensor) -> tuple[Tensor, Tensor]:
        batch, steps, _ = x.shape
        h, c = state.chunk(2, dim=1)
        # The input's contribution for every step in one matmul, time-major so that each step's slice is contiguous.
        x_gates = self.weight_ih(x.transpose(0, 1)).view(steps, batch, 4, self.hidden_size)
        keeps = dropout_masks(steps, (batch, self.hidden_size), self.recurrent_dropout, self.training, x)
        outputs = []
        # unbind, not x_gates[t]: the backward of unbind is one stack, that of T indexings T full-size zero tensors.
        for x_gates_t, keep in zip(x_gates.unbind(0), keeps):
            gates = x_gates_t + (h @ self.weight_hh.t()).view(batch, 4, self.hidden_size)
            h, c = self.update(gates, c, keep)
            outputs.append(h)
        return torch.stack(outputs, dim=1), torch.cat([h, c], dim=1)


class HyperLSTM(nn.Module):
    """An LSTM whose weights a smaller LSTM rescales at every step (Ha, Dai & Le 2016; magenta's HyperLSTMCell).

    The hyper LSTM reads [x; h_prev]. From its output it makes, per gate, three embeddings (size `hyper_embedding`)
    and projects each to H units: a scale for the input's contribution W_x x, a scale for the recurrent contribution
    W_h h, and a bias. The main gates are then d_x * W_x x + d_h * W_h h + d_b. At initialisation the scales are 0.1
    and the dynamic bias 0 (magenta's recurrent batch-norm style start). With zero weights into the scale embeddings
    and out of the bias embeddings, a loss on the outputs gives the hyper LSTM no gradient on the first update; that
    update makes those weights non-zero and opens the path. state = cat(h, c, hyper_h, hyper_c).
    """

    def __init__(self, input_size: int, hidden_size: int, hyper_hidden: int = 256, hyper_embedding: int = 32,
                 recurrent_dropout: float = 0.0, use_layer_norm: bool = True) -> None:
        super().__init__()
        self.hidden_size, self.hyper_hidden, self.hyper_embedding = hidden_size, hyper_hidden, hyper_embedding
        self.state_size = 2 * hidden_size + 2 * hyper_hidden
        self.recurrent_dropout = recurrent_dropout
        # The hyper LSTM: its input [x; h_prev] splits into a part precomputed for all steps and a per-step part.
        self.hyper_weight_ih = nn.Linear(input_size, 4 * hyper_hidden, bias=False)
        self.hyper_weight_hh = nn.Parameter(torch.empty(4 * hyper_hidden, hidden_size + hyper_hidden))
        init_recurrent_(self.hyper_weight_hh[:, hidden_size:])
        nn.init.xavier_uniform_(self.hyper_weight_hh[:, :hidden_size])
        self.hyper_update = LSTMUpdate(hyper_hidden, use_layer_norm)
        # 12 embeddings: (input scale, recurrent scale, bias) x 4 gates, each projected by its own (E, H) matrix.
        self.to_embeddings = nn.Linear(hyper_hidden, 12 * hyper_embedding)
        self.to_modulation = nn.Parameter(torch.empty(12, hyper_embedding, hidden_size))
        # The main LSTM.
        self.weight_ih = nn.Linear(input_size, 4 * hidden_size, bias=False)
        self.weight_hh = nn.Parameter(torch.empty(4 * hidden_size, hidden_size))
        init_recurrent_(self.weight_hh)
        self.update = LSTMUpdate(hidden_size, use_layer_norm)
        self._init_hypernetwork()

    def _init_hypernetwork(self) -> None:
        """Scale embeddings start at 1 and project to 0.1; bias embeddings start small and project to 0 (magenta)."""
        scales = 8 * self.hyper_embedding
        with torch.no_grad():
            self.to_embeddings.weight[:scales].zero_()
            self.to_embeddings.bias[:scales] = 1.0
            nn.init.normal_(self.to_embeddings.weight[scales:], std=0.01)
            self.to_embeddings.bias[scales:].zero_()
            self.to_modulation[:8] = 0.1 / self.hyper_embedding
            self.to_modulation[8:].zero_()

    def forward(self, x: Tensor, state: Tensor) -> tuple[Tensor, Tensor]:
        batch, steps, _ = x.shape
        hidden, hyper = self.hidden_size, self.hyper_hidden
        h, c, hyper_h, hyper_c = state.split([hidden, hidden, hyper, hyper], dim=1)
        x = x.transpose(0, 1)
        x_gates = self.weight_ih(x).view(steps, batch, 4, hidden)
        hyper_x_gates = self.hyper_weight_ih(x).view(steps, batch, 4, hyper)
        keeps = dropout_masks(steps, (batch, hidden), self.recurrent_dropout, self.training, x)
        outputs = []
        for x_gates_t, hyper_x_gates_t, keep in zip(x_gates.unbind(0), hyper_x_gates.unbind(0), keeps):
            hyper_in = torch.cat([h, hyper_h], dim=1) @ self.hyper_weight_hh.t()
            hyper_h, hyper_c = self.hyper_update(hyper_x_gates_t + hyper_in.view(batch, 4, hyper), hyper_c)
            embeddings = self.to_embeddings(hyper_h).view(batch, 12, self.hyper_embedding)
            scale_x, scale_h, bias = torch.einsum("bge,geh->bgh", embeddings, self.to_modulation).chunk(3, dim=1)
            h_gates = (h @ self.weight_hh.t()).view(batch, 4, hidden)
            gates = torch.addcmul(torch.addcmul(bias, scale_x, x_gates_t), scale_h, h_gates)
            h, c = self.update(gates, c, keep)
            outputs.append(h)
        return torch.stack(outputs, dim=1), torch.cat([h, c, hyper_h, hyper_c], dim=1)


CELLS: dict[str, type[nn.Module]] = {"lstm": FusedLSTM, "layernorm": LayerNormLSTM, "hyper": HyperLSTM}


def make_cell(name: str, input_size: int, hidden_size: int, **kw) -> nn.Module:
    """The decoder cell called `name` ("lstm", "layernorm" or "hyper"); `kw` goes to its constructor."""
    if name not in CELLS:
        raise ValueError(f"unknown cell {name!r}: use one of {', '.join(CELLS)}")
    return CELLS[name](input_size, hidden_size, **kw)
