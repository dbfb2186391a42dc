"""Recurrent cells for the Sketch-RNN decoder, all behind one interface.

Every cell has `hidden_size`, `state_size` (the width of its flat state) and
`forward(x (B, T, I), state (B, state_size)) -> (outputs (B, T, hidden_size), new_state (B, state_size))`.
A flat state keeps the decoder cell-agnostic: its initial state is tanh(Linear(z)) of width `state_size`, and the
sampler can index it by batch row whatever the cell.

Inputs whose last k features stay the same at every step (the decoder's z) can be given in two parts:
`constant_gates(constant (B, k))` computes their share of the gates once, and `forward(x (B, T, I - k), state,
constant_gates=...)` adds it at every step. The outputs are those of `forward(cat(x, constant))`, for a fifth less
arithmetic per step at the paper's sizes: sampling decodes this way, and the layernorm and hyper cells train this way
(1.21x and 1.08x faster steps). The fused LSTM trains this way under bf16 autocast on a CPU; in float32 it trains on
the joined input, oneDNN's fused kernel being faster there.

- `FusedLSTM`: torch's fused LSTM (cuDNN / oneDNN), without recurrent dropout; given the sequences' lengths (as the
  encoder does) or the constant input's gates (as the decoder does under CPU bf16 and the sampler always does) it runs
  the hand-written `PackedLSTMFunction`, each sequence over its real steps only.
- `LayerNormLSTM`: layer normalisation on the gates and the cell (Ba et al. 2016, as magenta's LayerNormLSTMCell)
  and recurrent dropout on the candidate (Semeniuta et al. 2016).
- `HyperLSTM`: a small LSTM that rescales the main LSTM's weights at every step (Ha, Dai & Le 2016, "HyperNetworks").

Gate pre-activations of the last two are laid out as (B, 4, H) in the order (input, forget, output, candidate), so one
sigmoid covers the first three and the layer normalisation of each gate is a normalisation over the last axis;
`FusedLSTM` keeps torch's order (input, forget, candidate, output).

Speed on a CPU (benchmarks/README.md has the figures and commands). Matrix products take most of a training step, and
oneDNN's fused LSTM already computes them as a hand-written layer would: the input's product for all steps at once,
one recurrent product per step, each weight gradient as one product over all steps. Written that way in Python,
`PackedLSTMFunction` was 15% slower than oneDNN in float32 over the decoder's 250 steps at batch 100 (4.6 against 4.0
CPU s, forward + backward), so the float32 decoder keeps oneDNN. Under bf16 autocast it is the other way round: the
hand-written layer takes z as its gates (a fifth less arithmetic), keeps its activations in bf16 with nothing to
recompute, and takes tanh as 2 sigmoid(2x) - 1 (torch's float32 tanh is ten times its sigmoid on a CPU). What it can
do and oneDNN cannot is skip each sequence's padding: the encoder's LSTMs run 1.4-1.8x faster on sheep batches (mean
length 115 of 250).

The other cells' per-step loops are plain Python: each step is a few large ops, and a TorchScript version of the
layer-norm loop (TorchScript is deprecated in torch 2.13) was slower, not faster: forward + backward at batch 100, 250
steps, H 512 on 2 CPU cores took 2.3-3.1 s in Python against 3.0-3.7 s scripted, and `torch.compile` of the gate
maths gained nothing (a whole training step 5.21 against 5.14 CPU s). Their recurrent weights' gradients
are summed in place (`step_product`), which made forward + backward 6-8% faster than plain autograd.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

aten = torch.ops.aten

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


def constant_product(constant: Tensor, weight: Tensor) -> Tensor:
    """The share (B, G) of the trailing input features `constant` (B, k) in the product with an input weight (G, I):
    its last k columns."""
    return constant @ weight[:, weight.shape[1] - constant.shape[1]:].t()


def input_gates(x: Tensor, weight: Tensor, constant_gates: Tensor | None) -> Tensor:
    """The input's share of every step's gates, time-major (T, B, G): x (B, T, I) meets the weight's first I columns,
    and `constant_gates` (B, G), the share of the trailing features that stay the same, is added when given."""
    gates = F.linear(x.transpose(0, 1), weight[:, : x.shape[-1]])
    return gates if constant_gates is None else gates + constant_gates


class FusedLSTM(nn.Module):
    """`nn.LSTM` behind the flat-state interface; state = cat(h, c).

    With `lengths` (B,), sequence b stops after its first lengths[b] steps, as with a packed sequence: its outputs
    after that are zeros and the returned state is the one after its last real step. On a CPU that runs
    `PackedLSTMFunction`: torch's own packed LSTM there took 10 s for the backward of one encoder direction at batch
    100 (0.5 s here). Elsewhere `nn.LSTM` runs the packed sequence (cuDNN).
    """

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

    def constant_gates(self, constant: Tensor) -> Tensor:
        """The gates' share (B, 4H) of the trailing input features `constant` (B, k), the biases included."""
        lstm = self.lstm
        return constant_product(constant, lstm.weight_ih_l0) + lstm.bias_ih_l0 + lstm.bias_hh_l0

    def forward(self, x: Tensor, state: Tensor, lengths: Tensor | None = None,
                constant_gates: Tensor | None = None) -> tuple[Tensor, Tensor]:
        if constant_gates is not None:
            return self._with_constant_gates(x, state, constant_gates)
        hx = tuple(part.unsqueeze(0).contiguous() for part in state.chunk(2, dim=1))
        if lengths is None:
            outputs, (h, c) = self.lstm(x, hx)
        else:
            packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
            packed, (h, c) = (self._packed_lstm if x.device.type == "cpu" else self.lstm)(packed, hx)
            outputs = pad_packed_sequence(packed, batch_first=True, total_length=x.shape[1])[0]
        return outputs, torch.cat([h[0], c[0]], dim=1)

    @torch.compiler.disable  # a Python loop over the steps: compiled, every new length would compile it anew
    def _with_constant_gates(self, x: Tensor, state: Tensor, constant_gates: Tensor) -> tuple[Tensor, Tensor]:
        """`PackedLSTMFunction` over every sequence at full length, the constant input's gates as each sequence's
        bias."""
        batch, steps, _ = x.shape
        h0, c0 = state.chunk(2, dim=1)
        lstm = self.lstm
        outputs, h, c = PackedLSTMFunction.apply(
            x.transpose(0, 1).reshape(1, steps * batch, -1), [batch] * steps, h0[None], c0[None],
            lstm.weight_ih_l0[None, :, : x.shape[-1]], lstm.weight_hh_l0[None], constant_gates[None])
        return outputs.view(steps, batch, -1).transpose(0, 1), torch.cat([h[0], c[0]], dim=1)

    @torch.compiler.disable  # a Python loop over the batch's lengths: compiled, every batch would compile it anew
    def _packed_lstm(self, packed: PackedSequence, hx: tuple[Tensor, Tensor],
                     ) -> tuple[PackedSequence, tuple[Tensor, Tensor]]:
        """What `self.lstm(packed, hx)` returns, computed by `PackedLSTMFunction`."""
        h0, c0 = (part.index_select(1, packed.sorted_indices) for part in hx)
        data, h, c = PackedLSTMFunction.apply(packed.data[None], packed.batch_sizes.tolist(), h0, c0,
                                              *stacked_weights([self]))
        h, c = (part.index_select(1, packed.unsorted_indices) for part in (h, c))
        return packed._replace(data=data[0]), (h, c)


def stacked_weights(layers: list[FusedLSTM]) -> tuple[Tensor, Tensor, Tensor]:
    """The input and recurrent weights and the summed biases of `layers`, stacked for `PackedLSTMFunction`."""
    lstms = [layer.lstm for layer in layers]
    return (torch.stack([lstm.weight_ih_l0 for lstm in lstms]), torch.stack([lstm.weight_hh_l0 for lstm in lstms]),
            torch.stack([lstm.bias_ih_l0 + lstm.bias_hh_l0 for lstm in lstms]))


class PackedLSTMFunction(torch.autograd.Function):
    """D LSTM layers side by side over the same packed sequences (torch's gate order i, f, g, o and weights), the
    backward written out; D = 2 runs a bidirectional encoder's two directions in one pass, D = 1 a single layer.

    `x` (D, N, I) holds the packed steps: step t is `batch_sizes[t]` consecutive rows, and the rows still running
    shrink from the end (longest sequences first), so padding costs nothing; rows beyond the steps' are ignored (under
    bf16 the encoder pads its rows to a multiple of `ENCODER_ROWS`, so that the products take few shapes). The
    input's contribution to every step is one batched matrix product, the recurrent part one per step; the backward
    carries only dh and dc from step to step and computes the weight gradients afterwards, one product over all steps
    each. Returns the packed outputs
    (D, N, H) and the final (h, c), each (D, B, H) in the packed (sorted) order. Weights are (D, 4H, I) and (D, 4H, H);
    `bias` is (D, 4H), or (D, B, 4H): one per sequence (the decoder's z).

    Under autocast the products, the gates, h and what is kept for the backward pass are in autocast's dtype (bf16:
    about twice float32's speed on a CPU with native bf16, and half the memory); the running cell state and the
    gradients carried from step to step stay float32, so that 250 steps of `c = f c + i g` keep the cell's memory, and
    every gradient comes back in its input's dtype.
    """

    @staticmethod
    def forward(ctx, x: Tensor, batch_sizes: list[int], h0: Tensor, c0: Tensor, weight_ih: Tensor,
                weight_hh: Tensor, bias: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        ctx.set_materialize_grads(False)  # the encoder reads only the final state: no zero gradients to add per step
        device = x.device.type
        dtype = torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else x.dtype
        ctx.dtypes = x.dtype, h0.dtype, c0.dtype, weight_ih.dtype, bias.dtype
        ctx.batch_sizes, ctx.bias_shape, ctx.input_size = batch_sizes, bias.shape, x.shape[2]
        layers, rows, batch, hidden = len(x), x.shape[1], h0.shape[1], weight_hh.shape[2]
        with torch.autocast(device, enabled=False):  # the dtypes are chosen here, not op by op
            x, weight_ih, weight_hh, bias = x.to(dtype), weight_ih.to(dtype), weight_hh.to(dtype), bias.to(dtype)
            c0 = c0.to(torch.promote_types(c0.dtype, torch.float32))
            if bias.dim() == 2:
                # A bias shared by every row is one more input feature, 1 on every row: the input's product adds it,
                # and the weights' gradient product gives its gradient (a sum over all rows took 30 ms a step).
                x = torch.cat([x, x.new_ones(*x.shape[:2], 1)], dim=2)
                weight_ih, bias = torch.cat([weight_ih, bias.unsqueeze(2)], dim=2), None
            gates = _input_gates(x, weight_ih, bias, batch_sizes)
            # hs and the cell states kept for the backward pass (cs) are in the products' dtype. Under autocast the
            # running cell state is not: it alternates between two float32 buffers, and each step is copied into cs.
            hs, cs = x.new_empty(layers, rows, hidden), x.new_empty(layers, rows, hidden)
            tanh_c = x.new_empty(layers, batch, hidden)
            running = None if cs.dtype == c0.dtype else c0.new_empty(2, layers, batch, hidden)
            h_n, c_n = torch.empty_like(h0, dtype=dtype), torch.empty_like(c0)
            h, c = h0.to(dtype), c0
            # Where the last step's h lies: the rows of `h_rows` from `h_start` on.
            h_rows, h_start, multiple = h, 0, ROW_MULTIPLE if dtype != c0.dtype else 1
            for t, (step, size, ending) in enumerate(_packed_steps(batch_sizes)):
                h = _leading_rows(h_rows, h_start, size, batch, multiple)
                step_gates = _add_recurrent_product_(gates, step, h, weight_hh)
                i, f, g, o = step_gates.chunk(4, dim=-1)
                _activate_gates_(step_gates, g)
                c = torch.mul(f, c[:, :size], out=cs[:, step] if running is None else running[t % 2, :, :size])
                c.addcmul_(i, g)
                if running is not None:
                    cs[:, step] = c
                h = torch.mul(o, _tanh(c, out=tanh_c[:, :size]), out=hs[:, step])
                h_rows, h_start = hs, step.start
                if ending.start < ending.stop:
                    h_n[:, ending], c_n[:, ending] = h[:, ending], c[:, ending]
        ctx.save_for_backward(x, h0, c0, weight_ih, weight_hh, gates, hs, cs)
        return hs[:, : sum(batch_sizes)], h_n, c_n

    @staticmethod
    def backward(ctx, d_hs: Tensor | None, d_h_n: Tensor | None, d_c_n: Tensor | None):
        x, h0, c0, weight_ih, weight_hh, gates, hs, cs = ctx.saved_tensors
        x_dtype, h0_dtype, c0_dtype, weight_dtype, bias_dtype = ctx.dtypes
        hidden, batch = weight_hh.shape[2], h0.shape[1]
        # Rows enter the backward recursion at their last step, holding the final state's gradient.
        dh = c0.new_zeros(h0.shape) if d_h_n is None else d_h_n.to(c0.dtype, copy=True)
        dc = torch.zeros_like(c0) if d_c_n is None else d_c_n.to(c0.dtype, copy=True)
        scratch, tanh_c = torch.empty_like(c0), torch.empty_like(c0)
        # Under autocast each step's backward runs in the cell state's dtype on a converted copy of the step's gates
        # (ops that read two dtypes are slower on a CPU than one conversion), and its gradients then take the gates'
        # place: 100 MB less at the decoder's peak (a second backward through a retained graph is then refused by
        # autograd's check of saved tensors).
        lower = gates.dtype != c0.dtype
        multiple = ROW_MULTIPLE if lower else 1
        d_gates = gates if lower else torch.empty_like(gates)
        real = sum(ctx.batch_sizes)
        d_gates[:, real:] = 0  # padding rows: nothing to add to the weights' gradients
        d_step = c0.new_empty(*c0.shape[:2], 4 * hidden) if lower else None
        steps = list(_packed_steps(ctx.batch_sizes))
        for t in reversed(range(len(steps))):
            step, size, _ = steps[t]
            if t + 1 < len(steps):  # the rows that go on past step t get dh from step t + 1; the others keep d_h_n
                later, later_size, _ = steps[t + 1]
                rows = _leading_rows(d_gates, later.start, later_size, batch, multiple)
                dh[:, :later_size] = torch.bmm(rows, weight_hh)[:, :later_size]
            if d_hs is not None:
                dh[:, :size] += d_hs[:, step]
            c_prev = c0[:, :size] if t == 0 else cs[:, steps[t - 1][0]][:, :size].to(c0.dtype)
            step_tanh_c = _tanh(cs[:, step], out=tanh_c[:, :size])  # not kept: recomputed
            if lower:
                _lstm_step_backward(gates[:, step].to(c0.dtype), c_prev, step_tanh_c, dh[:, :size], dc[:, :size],
                                    scratch[:, :size], d_step[:, :size], hidden)
                d_gates[:, step] = d_step[:, :size]
            else:
                _lstm_step_backward(gates[:, step], c_prev, step_tanh_c, dh[:, :size], dc[:, :size],
                                    scratch[:, :size], d_gates[:, step], hidden)
        # Each step's h_prev, packed as the data: step t reads the first rows of step t - 1's outputs.
        h_prev = torch.cat([h0[:, : steps[0][1]].to(hs.dtype),
                            *(hs[:, step][:, :size] for (step, _, _), (_, size, _) in zip(steps, steps[1:])),
                            hs.new_zeros(len(hs), hs.shape[1] - real, hidden)], dim=1)
        inputs = ctx.input_size  # x's features; one more with the shared bias's
        d_x = torch.bmm(d_gates, weight_ih[:, :, :inputs]).to(x_dtype) if ctx.needs_input_grad[0] else None
        d_h0 = torch.bmm(d_gates[:, steps[0][0]], weight_hh).to(h0_dtype) if ctx.needs_input_grad[2] else None
        d_weight_ih, d_weight_hh = (torch.bmm(d_gates.transpose(1, 2), data).to(weight_dtype) for data in (x, h_prev))
        if len(ctx.bias_shape) == 2:
            d_weight_ih, d_bias = d_weight_ih[:, :, :inputs], d_weight_ih[:, :, inputs].to(bias_dtype)
        else:
            d_bias = _bias_gradient(d_gates, ctx.bias_shape, steps, c0.dtype).to(bias_dtype)
        return d_x, None, d_h0, dc.to(c0_dtype), d_weight_ih, d_weight_hh, d_bias


# Under bf16 oneDNN compiles a matrix product for each new shape and keeps it. The per-step products of a packed
# batch run through every row count from the batch size down to 1, forward and backward: kept, their products grew
# `sketchlab train` by 150-190 MB in 30 steps. Under bf16 they are computed over rows rounded up to a multiple of this
# (the extra rows' results are dropped), so at most B / 8 shapes of each.
ROW_MULTIPLE = 8


def _leading_rows(buffer: Tensor, start: int, size: int, batch: int, multiple: int) -> Tensor:
    """Rows `start` to `start + size` of `buffer` (D, rows, .), and after them as many more as round their count up to
    a multiple of `multiple`, within the batch and the buffer."""
    rows = min(-(-size // multiple) * multiple, batch, buffer.shape[1] - start)
    return buffer[:, start : start + rows]


def _add_recurrent_product_(gates: Tensor, step: slice, h: Tensor, weight_hh: Tensor) -> Tensor:
    """gates[:, step] += h W_hh^T in place, returned. `h` may hold more rows than the step (`_leading_rows`): those
    are computed too, the next rows' gates their addend, and dropped (one rounding to bf16, as in place)."""
    size, rows = step.stop - step.start, min(h.shape[1], gates.shape[1] - step.start)
    if rows == size:
        return gates[:, step].baddbmm_(h[:, :size], weight_hh.transpose(1, 2))
    wide = torch.baddbmm(gates[:, step.start : step.start + rows], h[:, :rows], weight_hh.transpose(1, 2))
    return gates[:, step].copy_(wide[:, :size])


# Below this many numbers a step's tensors are a few drawings being sampled: there the ops' count, not torch's slow
# float32 tanh, sets the time, and torch's own tanh takes fewer ops.
FEW_NUMBERS = 4096


def _tanh(x: Tensor, out: Tensor) -> Tensor:
    """tanh(x) into `out`; on larger tensors as 2 sigmoid(2x) - 1: torch's float32 tanh takes about ten times its
    sigmoid on a CPU (124 against 13 us on the decoder's 100 x 512 cell state, one thread)."""
    if x.numel() < FEW_NUMBERS:
        return torch.tanh(x, out=out)
    return torch.mul(x, 2, out=out).sigmoid_().mul_(2).sub_(1)


def _activate_gates_(gates: Tensor, g: Tensor) -> None:
    """The gates' activations in place: sigmoid for i, f and o, tanh for the candidate `g` (a view of `gates`); on
    larger tensors one sigmoid over them all, the candidate's tanh(a) being 2 sigmoid(2a) - 1."""
    if g.numel() < FEW_NUMBERS:
        hidden = g.shape[-1]
        gates[..., : 2 * hidden].sigmoid_()
        g.tanh_()
        gates[..., 3 * hidden :].sigmoid_()
        return
    g.mul_(2)
    gates.sigmoid_()
    g.mul_(2).sub_(1)


class SpareBuffers:
    """Memory for the largest buffers of a training step, kept from one step to the next.

    The largest buffers of a bf16 training step are the decoder's and the encoder's gates (100 MB each at the paper's
    sizes), kept from the forward pass to the backward. Freed, an allocator's defaults (glibc's among them) return
    buffers that large to the kernel, and the next step faults their pages in again, zero-filled: 50,000 page faults
    and 0.1 CPU s a step; sketchlab's glibc settings (allocator.py) keep them in the heap, where other buffers can
    take their place and the heap grows (one run of `sketchlab train` peaked at 0.96 GB without this, 0.87 with).
    Here a buffer's memory is kept and given out again once nothing else holds it (the graph that kept it for its
    backward pass, a tensor still in use); the few largest are kept. The peak is the same: the next step needs them.
    Buffers under `smallest` bytes (a sampler's steps) come from the allocator as usual.
    """

    def __init__(self, keep: int, smallest: int) -> None:
        self.keep, self.smallest, self.storages, self.lock = keep, smallest, [], threading.Lock()

    def empty(self, shape: tuple[int, ...], like: Tensor) -> Tensor:
        """An uninitialised tensor of `shape` with `like`'s dtype and device, on the smallest free kept memory that
        holds it, or on new memory, kept from now on."""
        nbytes = math.prod(shape) * like.element_size()
        if nbytes < self.smallest:
            return like.new_empty(shape)
        with self.lock:
            free = [storage for storage in self.storages if _held_only_here(storage) and storage.device == like.device]
            fitting = [storage for storage in free if storage.nbytes() >= nbytes]
            if fitting:
                storage = min(fitting, key=torch.UntypedStorage.nbytes)
                free.remove(storage)
                for unused in sorted(free, key=torch.UntypedStorage.nbytes)[: len(self.storages) - self.keep]:
                    self.storages.remove(unused)
            else:  # the free ones are too small (batches whose shapes vary): they go before more memory is taken
                self.storages = [kept for kept in self.storages if all(kept is not small for small in free)]
                del free, fitting
                storage = like.new_empty(nbytes, dtype=torch.uint8).untyped_storage()
                self.storages.append(storage)
            return like.new_empty(0).set_(storage, 0, shape)


def _held_only_here(storage: torch.UntypedStorage) -> bool:
    """Whether no tensor uses the memory of `storage` (a private torch function: where it is missing, never)."""
    use_count = getattr(torch._C, "_storage_Use_Count", None)
    return use_count is not None and use_count(storage._cdata) == 1


_spare_gates = SpareBuffers(keep=2, smallest=1 << 20)


def _input_gates(x: Tensor, weight_ih: Tensor, bias: Tensor | None, batch_sizes: list[int]) -> Tensor:
    """Every step's gates before the recurrent product, (D, N, 4H): x W_ih^T, plus `bias` (D, B, 4H), one per
    sequence, when given."""
    gates = torch.bmm(x, weight_ih.transpose(1, 2), out=_spare_gates.empty((len(x), x.shape[1], weight_ih.shape[1]), x))
    if bias is None:
        return gates
    if len(set(batch_sizes)) == 1:  # every sequence at full length (the decoder): one broadcast add
        gates.view(len(gates), len(batch_sizes), batch_sizes[0], -1).add_(bias.unsqueeze(1))
        return gates
    for step, size, _ in _packed_steps(batch_sizes):
        gates[:, step] += bias[:, :size]
    return gates


def _bias_gradient(d_gates: Tensor, shape: torch.Size, steps: list, dtype: torch.dtype) -> Tensor:
    """The gradient of a bias (D, B, 4H), one per sequence, added to its sequence's rows.

    With every sequence at full length (the decoder's z) it is one product with a row of ones, summed in float32 and
    rounded to the gates' dtype as the weights' gradients are (a sum of the bf16 gradients in float32 first copied
    them all, 200 MB, and took 25 ms a step); otherwise summed step by step in `dtype`.
    """
    layers, steps_count, batch = len(d_gates), len(steps), steps[0][1]
    if len({size for _, size, _ in steps}) == 1:
        per_step = d_gates[:, : steps_count * batch].view(layers, steps_count, -1)
        return torch.bmm(per_step.new_ones(layers, 1, steps_count), per_step).view(shape)
    total = d_gates.new_zeros(shape, dtype=dtype)
    for step, size, _ in steps:
        total[:, :size] += d_gates[:, step]
    return total


def _packed_steps(batch_sizes: list[int]):
    """Per step of a packed sequence: its rows in the data (a slice), its batch size, and the rows ending there."""
    start = 0
    for size, next_size in zip(batch_sizes, [*batch_sizes[1:], 0]):
        yield slice(start, start + size), size, slice(next_size, size)
        start += size


def _lstm_step_backward(gates: Tensor, c_prev: Tensor, tanh_c: Tensor, dh: Tensor, dc: Tensor, scratch: Tensor,
                        d_gates: Tensor, hidden: int) -> None:
    """One step back through the LSTM update: fills d_gates (pre-activation) and turns dc into the previous dc.

    `gates` holds the activations (i, f, g, o) along its last axis; `dh` and `dc` are the gradients of this step's h
    and c.
    """
    i, f, g, o = gates.chunk(4, dim=-1)
    d_i, d_f, d_g, d_o = d_gates.chunk(4, dim=-1)
    torch.mul(dh, tanh_c, out=d_o)
    dc.add_(aten.tanh_backward.grad_input(torch.mul(dh, o, out=scratch), tanh_c, grad_input=scratch))
    torch.mul(dc, g, out=d_i)
    torch.mul(dc, c_prev, out=d_f)
    torch.mul(dc, i, out=d_g)
    dc.mul_(f)
    aten.sigmoid_backward.grad_input(d_gates[..., : 2 * hidden], gates[..., : 2 * hidden],
                                     grad_input=d_gates[..., : 2 * hidden])
    aten.tanh_backward.grad_input(d_g, g, grad_input=d_g)
    aten.sigmoid_backward.grad_input(d_o, o, grad_input=d_o)


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


def step_product(weight: Tensor) -> Callable[[Tensor, Tensor | None], Tensor]:
    """`product(v, add)` = add + v @ weight^T for a loop that multiplies by `weight` at every step.

    Plain autograd gives each step's product its own weight gradient, a new (out, in) tensor added to the running
    sum; on a CPU at the decoder's sizes that costs about twice the product itself. Here each step's backward adds its
    share into one buffer in place, and the weight gets the buffer once: every step's product takes a token made from
    the weight, so autograd runs the token's backward after all of them.
    """
    if not (weight.requires_grad and torch.is_grad_enabled()):
        return lambda v, add=None: v @ weight.t() if add is None else torch.addmm(add, v, weight.t())
    total: list[Tensor] = []  # the summed gradient, shared by the steps and the token
    token = _StepWeightToken.apply(weight, total)
    detached = weight.detach()
    device = weight.device.type
    if torch.is_autocast_enabled(device):  # the products' precision: the weight is cast once, not at every step
        detached = detached.to(torch.get_autocast_dtype(device))
    return lambda v, add=None: _StepProduct.apply(v, add, token, detached, total)


class _StepWeightToken(torch.autograd.Function):
    @staticmethod
    def forward(ctx, weight: Tensor, total: list[Tensor]) -> Tensor:
        ctx.total = total
        return weight.new_zeros(())

    @staticmethod
    def backward(ctx, _):
        return ctx.total.pop(), None  # popped: a second backward through a retained graph sums afresh


class _StepProduct(torch.autograd.Function):
    """One step's product with `weight` (the weight itself, or its copy in autocast's precision); its gradient is added
    into `total`, kept in the dtype of the weight itself (`token`'s)."""

    @staticmethod
    def forward(ctx, v: Tensor, add: Tensor | None, token: Tensor, weight: Tensor, total: list[Tensor]) -> Tensor:
        out = v @ weight.t() if add is None else torch.addmm(add, v, weight.t())
        ctx.save_for_backward(v.to(out.dtype), weight)  # under autocast, v as the product used it
        ctx.total, ctx.sum_dtype = total, token.dtype
        return out

    @staticmethod
    def backward(ctx, d_out: Tensor):
        v, weight = ctx.saved_tensors
        d_out = d_out.to(v.dtype)
        if not ctx.total:
            ctx.total.append(torch.zeros(weight.shape, dtype=ctx.sum_dtype, device=weight.device))
        if ctx.total[0].dtype == v.dtype:
            ctx.total[0].addmm_(d_out.t(), v)
        else:  # autocast: multiplied in its lower precision, summed in the weight's
            ctx.total[0].add_(d_out.t() @ v)
        d_v = d_out @ weight if ctx.needs_input_grad[0] else None
        return d_v, d_out if ctx.needs_input_grad[1] else None, d_out.new_zeros(()), None, None


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

    def constant_gates(self, constant: Tensor) -> Tensor:
        """The gates' share (B, 4H) of the trailing input features `constant` (B, k)."""
        return constant_product(constant, self.weight_ih.weight)

    def forward(self, x: Tensor, state: Tensor, constant_gates: Tensor | None = None) -> tuple[Tensor, Tensor]:
        batch, steps, _ = x.shape
        h, c = state.chunk(2, dim=1)
        # The input's contribution for every step in one matmul, time-major so that each step's slice is contiguous.
        x_gates = input_gates(x, self.weight_ih.weight, constant_gates)
        keeps = dropout_masks(steps, (batch, self.hidden_size), self.recurrent_dropout, self.training, x)
        recurrent = step_product(self.weight_hh)
        outputs = []
        # unbind, not x_gates[t]: the backward of unbind is one stack, that of T indexings T full-size zero tensors.
        for x_gates_t, keep in zip(x_gates.unbind(0), keeps):
            h, c = self.update(recurrent(h, x_gates_t).view(batch, 4, self.hidden_size), c, keep)
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

    def constant_gates(self, constant: Tensor) -> Tensor:
        """The share (B, 4H + 4 hyper_hidden) of the trailing input features `constant` (B, k) in the main LSTM's
        gates and in the hyper LSTM's, side by side."""
        return torch.cat([constant_product(constant, weight)
                          for weight in (self.weight_ih.weight, self.hyper_weight_ih.weight)], dim=1)

    def forward(self, x: Tensor, state: Tensor, constant_gates: Tensor | None = None) -> tuple[Tensor, Tensor]:
        batch, steps, _ = x.shape
        hidden, hyper = self.hidden_size, self.hyper_hidden
        h, c, hyper_h, hyper_c = state.split([hidden, hidden, hyper, hyper], dim=1)
        constants = (None, None) if constant_gates is None else constant_gates.split([4 * hidden, 4 * hyper], dim=1)
        x_gates = input_gates(x, self.weight_ih.weight, constants[0]).view(steps, batch, 4, hidden)
        hyper_x_gates = input_gates(x, self.hyper_weight_ih.weight, constants[1])
        keeps = dropout_masks(steps, (batch, hidden), self.recurrent_dropout, self.training, x)
        hyper_recurrent, recurrent = step_product(self.hyper_weight_hh), step_product(self.weight_hh)
        outputs = []
        for x_gates_t, hyper_x_gates_t, keep in zip(x_gates.unbind(0), hyper_x_gates.unbind(0), keeps):
            hyper_gates = hyper_recurrent(torch.cat([h, hyper_h], dim=1), hyper_x_gates_t)
            hyper_h, hyper_c = self.hyper_update(hyper_gates.view(batch, 4, hyper), hyper_c)
            embeddings = self.to_embeddings(hyper_h).view(batch, 12, self.hyper_embedding)
            scale_x, scale_h, bias = torch.einsum("bge,geh->bgh", embeddings, self.to_modulation).chunk(3, dim=1)
            h_gates = recurrent(h).view(batch, 4, hidden)
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
