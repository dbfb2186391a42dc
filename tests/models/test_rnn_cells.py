"""Decoder cells: one interface, carried state, the layer-norm and hyper maths, learning, dropout only when training;
the hand-written LSTM over packed sequences and the in-place summed step gradients against autograd's."""

import pytest
import torch
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from sketchlab.models import rnn_cells
from sketchlab.models.rnn_cells import (FusedLSTM, HyperLSTM, LayerNormLSTM, PackedLSTMFunction, make_cell,
                                        step_product)

aten = torch.ops.aten
INPUT, HIDDEN = 5, 16
CELL_OPTIONS = {
    "lstm": {},
    "layernorm": {"recurrent_dropout": 0.0},
    "hyper": {"hyper_hidden": 8, "hyper_embedding": 4},
}
STATE_SIZES = {"lstm": 2 * HIDDEN, "layernorm": 2 * HIDDEN, "hyper": 2 * HIDDEN + 2 * 8}


def build(name: str, **overrides) -> torch.nn.Module:
    torch.manual_seed(0)
    return make_cell(name, INPUT, HIDDEN, **{**CELL_OPTIONS[name], **overrides})


@pytest.mark.parametrize("name", CELL_OPTIONS)
def test_shapes_and_flat_state(name):
    cell = build(name)
    assert cell.hidden_size == HIDDEN and cell.state_size == STATE_SIZES[name]
    x, state = torch.randn(3, 7, INPUT), torch.randn(3, cell.state_size)
    outputs, new_state = cell(x, state)
    assert outputs.shape == (3, 7, HIDDEN) and new_state.shape == (3, cell.state_size)
    assert torch.equal(new_state[:, :HIDDEN], outputs[:, -1])  # every cell's state starts with h


@pytest.mark.parametrize("name", CELL_OPTIONS)
def test_running_in_pieces_equals_running_at_once(name):
    """The sampler decodes one step per call, feeding the state back: that must match one long call."""
    cell = build(name).eval()
    x, state = torch.randn(2, 9, INPUT), torch.randn(2, cell.state_size)
    whole, final = cell(x, state)
    first, middle = cell(x[:, :4], state)
    second, end = cell(x[:, 4:], middle)
    torch.testing.assert_close(torch.cat([first, second], dim=1), whole)
    torch.testing.assert_close(end, final)


@pytest.mark.parametrize("name", CELL_OPTIONS)
def test_a_constant_input_given_as_gates_equals_the_input_at_every_step(name):
    """The decoder's z given once as its share of the gates (as the sampler does): the same outputs, final state and
    gradients as z concatenated to every step's input."""
    torch.manual_seed(5)
    cell = make_cell(name, INPUT + 3, HIDDEN, **CELL_OPTIONS[name])
    x, constant = torch.randn(2, 6, INPUT, requires_grad=True), torch.randn(2, 3, requires_grad=True)
    state = torch.randn(2, cell.state_size, requires_grad=True)
    inputs = [x, constant, state, *cell.parameters()]

    def outputs_and_gradients(outputs, new_state):
        loss = (outputs * torch.linspace(-1, 1, HIDDEN)).sum() + (new_state.square() * 0.3).sum()
        return outputs, new_state, torch.autograd.grad(loss, inputs, allow_unused=True)

    joined = outputs_and_gradients(*cell(torch.cat([x, constant.unsqueeze(1).expand(-1, 6, -1)], dim=2), state))
    split = outputs_and_gradients(*cell(x, state, constant_gates=cell.constant_gates(constant)))
    torch.testing.assert_close(split[:2], joined[:2])
    for got, expected in zip(split[2], joined[2]):
        torch.testing.assert_close(got, expected)


def test_make_cell_names_the_valid_cells():
    assert isinstance(make_cell("lstm", 3, 4), FusedLSTM)
    assert isinstance(make_cell("layernorm", 3, 4), LayerNormLSTM)
    assert isinstance(make_cell("hyper", 3, 4), HyperLSTM)
    with pytest.raises(ValueError, match="lstm, layernorm, hyper"):
        make_cell("gru", 3, 4)


def test_layer_norm_step_matches_a_hand_computation():
    """Each gate is normalised over its own units (not all 4H at once), then the cell again before its tanh."""
    cell = build("layernorm")
    with torch.no_grad():  # move gains and biases off their initial values so that they matter
        for p in (cell.update.gain, cell.update.bias, cell.update.cell_norm.weight, cell.update.cell_norm.bias):
            p.add_(torch.randn_like(p) * 0.3)
    x, state = torch.randn(4, 1, INPUT), torch.randn(4, 2 * HIDDEN)
    h, c = state.chunk(2, dim=1)
    gates = (x[:, 0] @ cell.weight_ih.weight.t() + h @ cell.weight_hh.t()).view(4, 4, HIDDEN)
    mean, var = gates.mean(-1, keepdim=True), gates.var(-1, unbiased=False, keepdim=True)
    gates = (gates - mean) / torch.sqrt(var + 1e-5) * cell.update.gain + cell.update.bias
    i, f, o = torch.sigmoid(gates[:, :3]).unbind(1)
    g = torch.tanh(gates[:, 3])
    c_new = f * c + i * g
    norm = cell.update.cell_norm
    h_new = o * torch.tanh(F.layer_norm(c_new, (HIDDEN,), norm.weight, norm.bias))
    outputs, new_state = cell(x, state)
    torch.testing.assert_close(outputs[:, 0], h_new)
    torch.testing.assert_close(new_state, torch.cat([h_new, c_new], dim=1))


def test_hyper_lstm_starts_as_a_layer_norm_lstm_with_scaled_weights():
    """At initialisation every scale is 0.1 and the dynamic bias 0 (magenta's start): the layer normalisation of the
    gates then cancels the scale, so the main LSTM computes what a layer-norm LSTM with its weights would."""
    hyper = build("hyper")
    plain = LayerNormLSTM(INPUT, HIDDEN)
    plain.load_state_dict({"weight_ih.weight": hyper.weight_ih.weight, "weight_hh": hyper.weight_hh,
                           **{f"update.{k}": v for k, v in hyper.update.state_dict().items()}})
    x, state = torch.randn(3, 6, INPUT), torch.randn(3, hyper.state_size)
    hyper_out, _ = hyper(x, state)
    plain_out, _ = plain(x, state[:, : 2 * HIDDEN])
    # Not exact: layer norm's epsilon (1e-5) weighs more against the 100x smaller variance of the scaled gates.
    torch.testing.assert_close(hyper_out, plain_out, atol=1e-2, rtol=0)
    with torch.no_grad():  # a trained hyper network modulates the weights: the outputs part ways
        hyper.to_embeddings.weight.normal_()
    assert (hyper(x, state)[0] - plain_out).abs().max() > 0.1


@pytest.mark.parametrize("name", CELL_OPTIONS)
def test_gradient_reaches_every_parameter(name):
    cell = build(name)
    outputs, state = cell(torch.randn(3, 5, INPUT), torch.randn(3, cell.state_size))
    (outputs.square().sum() + state.sum()).backward()
    for param_name, param in cell.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, param_name


@pytest.mark.parametrize("name", CELL_OPTIONS)
def test_each_cell_learns_to_echo_its_input_two_steps_late(name):
    """A memory task: y_t = x_{t-2}. The mean squared error must fall to a small fraction of the untrained one."""
    cell = build(name)
    readout = torch.nn.Linear(HIDDEN, 1)
    optimizer = torch.optim.Adam([*cell.parameters(), *readout.parameters()], lr=0.02)
    generator = torch.Generator().manual_seed(1)

    def loss() -> torch.Tensor:
        x = torch.randn(16, 12, INPUT, generator=generator)
        target = F.pad(x[:, :-2, 0], (2, 0))
        outputs, _ = cell(x, torch.zeros(16, cell.state_size))
        return F.mse_loss(readout(outputs).squeeze(-1), target)

    start = loss().item()
    for _ in range(150):
        optimizer.zero_grad()
        value = loss()
        value.backward()
        optimizer.step()
    with torch.no_grad():
        end = loss().item()
    # Measured end / start: 0.008 (lstm), 0.065 (layernorm), 0.013 (hyper); predicting 0 stays near 1.
    assert end < 0.2 * start, (start, end)


@pytest.mark.parametrize("name", ["layernorm", "hyper"])
def test_recurrent_dropout_is_active_only_when_training(name):
    cell = build(name, recurrent_dropout=0.5)
    without = build(name)  # same seed, same weights, no dropout
    x, state = torch.randn(2, 6, INPUT), torch.randn(2, cell.state_size)
    torch.manual_seed(1)
    one = cell.train()(x, state)[0]
    two = cell(x, state)[0]
    assert not torch.allclose(one, two)  # fresh masks on every call
    assert not torch.allclose(one, without(x, state)[0])
    cell.eval()
    torch.testing.assert_close(cell(x, state)[0], without(x, state)[0], rtol=0, atol=0)


def test_lstm_over_lengths_matches_torch_on_the_packed_sequence():
    """Outputs (zeros after each length), final states and every gradient equal nn.LSTM's on the packed batch."""
    cell = build("lstm")
    generator = torch.Generator().manual_seed(2)
    x = torch.randn(4, 7, INPUT, generator=generator, requires_grad=True)
    state = torch.randn(4, 2 * HIDDEN, generator=generator, requires_grad=True)
    lengths = torch.tensor([3, 7, 1, 5])  # unsorted, one full length, one single step
    weights = list(cell.lstm.parameters())

    def outputs_and_gradients(run):
        outputs, new_state = run()
        loss = (outputs * torch.linspace(-1, 1, HIDDEN)).sum() + (new_state.square() * 0.3).sum()
        return outputs, new_state, torch.autograd.grad(loss, [x, state, *weights])

    def torch_packed():
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        h, c = (part.unsqueeze(0).contiguous() for part in state.chunk(2, dim=1))
        out, (h, c) = cell.lstm(packed, (h, c))
        return pad_packed_sequence(out, batch_first=True, total_length=7)[0], torch.cat([h[0], c[0]], dim=1)

    ours = outputs_and_gradients(lambda: cell(x, state, lengths))
    reference = outputs_and_gradients(torch_packed)
    assert not ours[0][2, 1:].any()
    torch.testing.assert_close(ours[:2], reference[:2])
    for got, expected in zip(ours[2], reference[2]):
        torch.testing.assert_close(got, expected)


@pytest.mark.parametrize("few_numbers", [4096, 0], ids=["torch's tanh", "tanh as 2 sigmoid(2x) - 1"])
@pytest.mark.parametrize("given", ["lengths", "constant gates"])
def test_hand_written_lstm_under_bf16_autocast_multiplies_in_bf16_and_keeps_the_cell_in_float32(given, few_numbers,
                                                                                                monkeypatch):
    """Mixed-precision training runs the encoder (given lengths) and the decoder (given z's gates) through
    `PackedLSTMFunction`: its outputs come out in bf16, the state it returns carries the float32 cell, every gradient
    comes back in its parameter's dtype, and all of them match float32's to bf16 precision."""
    monkeypatch.setattr(rnn_cells, "FEW_NUMBERS", few_numbers)
    torch.manual_seed(7)
    cell = make_cell("lstm", INPUT + 3, HIDDEN)
    x, constant = torch.randn(3, 6, INPUT), torch.randn(3, 3)
    state = torch.randn(3, 2 * HIDDEN)

    def run(autocast: bool):
        cell.zero_grad()
        with torch.autocast("cpu", torch.bfloat16, enabled=autocast):
            if given == "lengths":
                outputs, final = cell(torch.cat([x, constant.unsqueeze(1).expand(-1, 6, -1)], dim=2), state,
                                      torch.tensor([6, 2, 4]))
            else:
                outputs, final = cell(x, state, constant_gates=cell.constant_gates(constant))
            loss = outputs.float().sin().sum() + final.float().square().sum()
        loss.backward()
        return outputs, final, {n: p.grad.clone() for n, p in cell.named_parameters() if p.grad is not None}

    exact, mixed = run(False), run(True)
    assert mixed[0].dtype == torch.bfloat16 and mixed[1].dtype == torch.float32
    torch.testing.assert_close(mixed[0].float(), exact[0], atol=2e-2, rtol=2e-2)
    torch.testing.assert_close(mixed[1], exact[1], atol=2e-2, rtol=2e-2)
    assert mixed[2].keys() == exact[2].keys() and exact[2]
    for name, grad in mixed[2].items():
        assert grad.dtype == torch.float32, name
        assert (grad - exact[2][name]).norm() <= 0.03 * exact[2][name].norm() + 1e-6, name


def test_hand_written_lstm_under_autocast_refuses_a_second_backward():
    """Under autocast its backward writes the gradients over the saved gates (100 MB less at the decoder's peak): a
    second backward through a retained graph must fail loudly (autograd's check of saved tensors) rather than read
    gradients as gates."""
    cell = make_cell("lstm", INPUT, HIDDEN)
    with torch.autocast("cpu", torch.bfloat16):
        outputs, _ = cell(torch.randn(2, 4, INPUT), torch.randn(2, 2 * HIDDEN), torch.tensor([4, 3]))
    loss = outputs.float().sum()
    loss.backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


def bf16_packed_run(cell, x, state, lengths):
    """Outputs, final state and gradients of the hand-written LSTM over packed sequences under bf16 autocast."""
    cell.zero_grad()
    with torch.autocast("cpu", torch.bfloat16):
        outputs, final = cell(x, state, lengths)
    (outputs.float().sin().sum() + final.square().sum()).backward()
    return outputs, final, [p.grad.clone() for p in cell.parameters()]


def test_bf16_per_step_products_take_rows_rounded_up_and_keep_the_real_rows_results(monkeypatch):
    """Under bf16 each per-step product of a packed batch runs over its rows rounded up to a multiple of
    ROW_MULTIPLE (capped at the batch), so that oneDNN compiles a few shapes rather than one per row count; the extra
    rows' results must be dropped: outputs and gradients as with exact row counts. Padded as the encoder pads."""
    torch.manual_seed(11)
    cell = make_cell("lstm", INPUT, HIDDEN)
    lengths = torch.tensor([9, 1, 7, 3, 9, 2, 5, 8, 4, 6, 1])
    packed = pack_padded_sequence(torch.randn(11, 9, INPUT), lengths, batch_first=True, enforce_sorted=False)
    x = F.pad(packed.data, (0, 0, 0, 11 * 9 - len(packed.data)))[None]
    state = torch.randn(1, 11, HIDDEN)

    def run():
        cell.zero_grad()
        with torch.autocast("cpu", torch.bfloat16):
            outputs, h, c = PackedLSTMFunction.apply(x, packed.batch_sizes.tolist(), state, state,
                                                     *rnn_cells.stacked_weights([cell]))
        (outputs.float().sin().sum() + h.float().square().sum() + c.sum()).backward()
        return [outputs, h, c], [p.grad.clone() for p in cell.parameters()]

    monkeypatch.setattr(rnn_cells, "ROW_MULTIPLE", 1)
    exact = run()
    monkeypatch.setattr(rnn_cells, "ROW_MULTIPLE", 4)
    rows_seen = []

    class RecordRows(torch.utils._python_dispatch.TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if func in (aten.bmm.default, aten.baddbmm.default, aten.baddbmm_.default):
                rows_seen.append(args[0 if func == aten.bmm.default else 1].shape[1])
            return func(*args, **(kwargs or {}))

    with RecordRows():
        rounded = run()
    per_step = [rows for rows in rows_seen if rows <= 11]  # the products over all of a batch's rows have more
    assert len(per_step) >= 2 * 8 and set(per_step) <= {4, 8, 11}
    for got, expected in zip(rounded[0], exact[0]):
        assert torch.equal(got, expected)
    for got, expected in zip(rounded[1], exact[1]):
        torch.testing.assert_close(got, expected, rtol=1e-3, atol=1e-5)


def test_the_gates_memory_is_given_out_again_once_free_and_leaks_nothing(monkeypatch):
    """`_spare_gates` keeps the gates' memory from one training step to the next, and gives it out again only once
    nothing holds it: while a graph keeps the gates for its backward pass, another forward pass gets other memory.
    The old contents must not leak into the results."""
    torch.manual_seed(12)
    cell = make_cell("lstm", INPUT, HIDDEN)
    x, state, lengths = torch.randn(4, 6, INPUT), torch.randn(4, 2 * HIDDEN), torch.tensor([6, 3, 5, 1])
    monkeypatch.setattr(rnn_cells, "_spare_gates", rnn_cells.SpareBuffers(keep=2, smallest=0))  # these gates are tiny
    taken = []
    original_empty = rnn_cells._spare_gates.empty

    def recording_empty(shape, like):
        gates = original_empty(shape, like)
        taken.append(gates.data_ptr())
        return gates

    with monkeypatch.context() as patch:
        patch.setattr(rnn_cells._spare_gates, "empty", recording_empty)
        first = bf16_packed_run(cell, x, state, lengths)
        second = bf16_packed_run(cell, x, state, lengths)  # the first step's graph is gone: its memory is free
        with torch.autocast("cpu", torch.bfloat16):
            held = cell(x, state, lengths)[0]  # its graph holds the gates
            cell(x, state, lengths)
    assert taken[0] == taken[1] == taken[2] != taken[3]
    for got, expected in zip([second[0], second[1], *second[2]], [first[0], first[1], *first[2]]):
        assert torch.equal(got, expected)
    assert held.grad_fn is not None


def test_spare_buffers_give_the_smallest_free_memory_that_fits_and_keep_a_few():
    """The smallest free one that fits; beyond `keep`, the smallest free ones go; none fitting, the free ones go."""
    spares = rnn_cells.SpareBuffers(keep=2, smallest=0)
    like = torch.empty(0)
    held = [spares.empty((numel,), like) for numel in (10, 40, 20)]
    assert len(spares.storages) == 3  # all in use: none can go
    assert spares.empty((5,), like).untyped_storage().nbytes() == 20  # none free: new memory
    del held
    taken = spares.empty((3, 5), torch.empty(0, dtype=torch.float64))  # 120 bytes: the 160 holds it
    assert taken.shape == (3, 5) and taken.dtype == torch.float64 and taken.is_contiguous()
    assert taken.untyped_storage().nbytes() == 160
    assert sorted(storage.nbytes() for storage in spares.storages) == [80, 160]  # the smallest free ones went
    assert spares.empty((20,), like).untyped_storage().nbytes() == 80
    held = spares.empty((20,), like)
    del taken
    assert spares.empty((100,), like).untyped_storage().nbytes() == 400  # the free 160 is too small: it goes first
    assert sorted(storage.nbytes() for storage in spares.storages) == [80, 400] and held.numel() == 20
    small = rnn_cells.SpareBuffers(keep=2, smallest=100)
    assert small.empty((20,), like).shape == (20,) and not small.storages  # under `smallest`: not kept


@pytest.mark.parametrize("bias_rows, batch_sizes, padding", [(0, [3, 3, 2, 1], 0), (3, [3, 3, 2, 1], 0),
                                                             (3, [3, 3, 3], 0), (0, [3, 2, 1], 3)],
                         ids=["shared bias", "a bias per sequence", "a bias per sequence, full length",
                              "padding rows after the steps'"])
@pytest.mark.parametrize("few_numbers", [4096, 0], ids=["torch's tanh", "tanh as 2 sigmoid(2x) - 1"])
def test_packed_lstm_function_passes_gradcheck(bias_rows, batch_sizes, padding, few_numbers, monkeypatch):
    """Both ways of taking tanh (torch's on a few sampled drawings, the sigmoid identity on a training batch)."""
    monkeypatch.setattr(rnn_cells, "FEW_NUMBERS", few_numbers)
    torch.manual_seed(3)
    layers = 2  # side by side, as the encoder's two directions
    inputs = [torch.randn(layers, sum(batch_sizes) + padding, 2), torch.randn(layers, 3, 4), torch.randn(layers, 3, 4),
              torch.randn(layers, 16, 2), torch.randn(layers, 16, 4),
              torch.randn(layers, bias_rows, 16) if bias_rows else torch.randn(layers, 16)]
    inputs = [t.double().requires_grad_() for t in inputs]
    torch.autograd.gradcheck(lambda x, *rest: PackedLSTMFunction.apply(x, batch_sizes, *rest), inputs)


def test_step_product_gives_the_gradients_of_plain_products():
    """Summed in place, then handed to the weight once: the same gradients, and a second backward through a retained
    graph adds the same again."""
    torch.manual_seed(4)
    weight = torch.randn(6, 6, dtype=torch.double, requires_grad=True)
    xs = torch.randn(5, 2, 6, dtype=torch.double, requires_grad=True)
    v0 = torch.randn(2, 6, dtype=torch.double, requires_grad=True)

    def loop(product):
        v, total = v0, 0
        for x in xs.unbind(0):
            v = torch.tanh(product(v, x))
            total = total + v.sum() * v[:, 0].sum()
        return total

    torch.autograd.gradcheck(lambda w, x, v: loop(step_product(w)), (weight, xs, v0))
    loss = loop(step_product(weight))
    once = torch.autograd.grad(loss, [weight, xs, v0], retain_graph=True)
    expected = torch.autograd.grad(loop(lambda v, x: x + v @ weight.t()), [weight, xs, v0])
    for got, reference in zip(once, expected):
        torch.testing.assert_close(got, reference)
    loss.backward(retain_graph=True)
    loss.backward()
    torch.testing.assert_close(weight.grad, 2 * expected[0])


@pytest.mark.parametrize("name", CELL_OPTIONS)
def test_gradients_under_bf16_autocast_have_the_parameters_dtypes_and_values(name):
    """`--amp bf16` (CUDA or CPU autocast): the layernorm and hyper cells' summed recurrent gradients must come back in
    float32 (they used to meet bf16 step gradients and fail), and every gradient must match float32 training's to
    bf16 precision."""
    cell = build(name)
    generator = torch.Generator().manual_seed(11)
    x, state = torch.randn(4, 7, INPUT, generator=generator), torch.randn(4, cell.state_size, generator=generator)

    def gradients(autocast: bool) -> dict[str, torch.Tensor]:
        cell.zero_grad()
        with torch.autocast("cpu", torch.bfloat16, enabled=autocast):
            outputs, final = cell(x, state)
            loss = outputs.float().sin().sum() + final.float().square().sum()
        loss.backward()
        return {n: p.grad.clone() for n, p in cell.named_parameters() if p.grad is not None}

    exact, mixed = gradients(False), gradients(True)
    assert mixed.keys() == exact.keys() and exact
    for n, p in cell.named_parameters():
        if n in mixed:
            assert mixed[n].dtype == p.dtype, n
            assert (mixed[n] - exact[n]).norm() <= 0.05 * exact[n].norm() + 1e-6, n
