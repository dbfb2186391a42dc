"""Sketch-RNN: the mixture density, the paper's losses and schedules, the encoder's respect of lengths, the engine
contract, saving and loading, and learning real sheep. Batches are built by hand as docs/conventions.md describes."""

import json
import math
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.stats import multivariate_normal

from sketchlab.errors import CheckpointError
from sketchlab.models import MODELS, SketchRNN, SketchRNNConfig, mixture_log_prob, sketch_rnn
from sketchlab.models.sketch_rnn import kl_weight_at, learning_rate_at

TINY = {"enc_hidden": 16, "dec_hidden": 24, "z_size": 6, "num_mixture": 3, "max_seq_len": 20,
        "hyper_hidden": 8, "hyper_embedding": 4}
CELLS = ("lstm", "layernorm", "hyper")


def tiny(**overrides) -> SketchRNN:
    torch.manual_seed(0)
    return SketchRNN(SketchRNNConfig(**{**TINY, **overrides}))


def seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def random_sketches(lengths: list[int], seed: int = 0) -> list[np.ndarray]:
    """Stroke-3 sketches with random offsets; the pen lifts now and then and always at the end."""
    rng = np.random.default_rng(seed)
    sketches = []
    for n in lengths:
        sketch = np.concatenate([rng.normal(size=(n, 2)), rng.random((n, 1)) < 0.2], axis=1).astype(np.float32)
        sketch[-1, 2] = 1
        sketches.append(sketch)
    return sketches


def make_batch(sketches: list[np.ndarray], n_max: int) -> dict[str, torch.Tensor]:
    """Start token, stroke-5 rows, then end-of-sketch padding (0, 0, 0, 0, 1) up to n_max rows."""
    strokes = torch.zeros(len(sketches), n_max + 1, 5)
    strokes[:, 0, 2] = 1
    strokes[:, 1:, 4] = 1
    for i, sketch in enumerate(sketches):
        rows = torch.from_numpy(sketch)
        n = len(rows)
        strokes[i, 1 : n + 1] = torch.cat([rows[:, :2], 1 - rows[:, 2:], rows[:, 2:], torch.zeros(n, 1)], dim=1)
    lengths = torch.tensor([len(s) for s in sketches])
    return {"strokes": strokes, "lengths": lengths, "labels": torch.zeros(len(sketches), dtype=torch.long)}


# ---------------------------------------------------------------------- the mixture


def test_mixture_log_prob_matches_scipy():
    m = 3
    out = torch.randn(5, 6 * m + 3, generator=seeded(), dtype=torch.float64)
    out[:, 3 + 5 * m :] *= 2  # correlations up to about +-0.99
    params = SketchRNN.split_params(out)
    dx, dy = torch.randn(2, 5, generator=seeded(1), dtype=torch.float64)
    expected = []
    for b in range(5):
        pi = torch.softmax(params.logit_pi[b], dim=0)
        density = 0.0
        for k in range(m):
            sx, sy, rho = params.sigma_x[b, k].item(), params.sigma_y[b, k].item(), params.rho[b, k].item()
            cov = [[sx * sx, rho * sx * sy], [rho * sx * sy, sy * sy]]
            mean = [params.mu_x[b, k].item(), params.mu_y[b, k].item()]
            density += pi[k].item() * multivariate_normal(mean, cov).pdf([dx[b].item(), dy[b].item()])
        expected.append(math.log(density))
    assert params.rho.abs().max() > 0.9
    torch.testing.assert_close(mixture_log_prob(params, dx, dy), torch.tensor(expected, dtype=torch.float64))


def test_mixture_log_prob_stays_finite_when_rho_rounds_to_one():
    """tanh(15) is exactly 1 in float32, so 1 - rho^2 is 0: a formula dividing by it gives -inf and NaN gradients."""
    out = torch.zeros(1, 6 + 3)
    out[0, 8] = 15.0  # atanh_rho of the single component
    out.requires_grad_(True)
    params = SketchRNN.split_params(out)
    assert params.rho.item() == 1.0
    log_p = mixture_log_prob(params, torch.tensor([0.1]), torch.tensor([0.1]))
    log_p.sum().backward()
    assert torch.isfinite(log_p).all() and torch.isfinite(out.grad).all()


# ---------------------------------------------------------------------- losses


def test_zero_head_gives_ln3_pen_loss_and_the_hand_offset_loss():
    """With a zero output layer every step predicts uniform pen states and N(0, I) offsets: l_p is ln 3 over all
    B * N_max rows, l_s sums log(2 pi) + (dx^2 + dy^2) / 2 over the real rows only and divides by B * N_max."""
    model = tiny(conditional=False)
    torch.nn.init.zeros_(model.head.weight)
    torch.nn.init.zeros_(model.head.bias)
    sketches = random_sketches([7, 3, 12])
    losses = model.compute_losses(make_batch(sketches, 15), step=0)
    offsets = np.concatenate(sketches)[:, :2].astype(np.float64)
    l_s = (len(offsets) * math.log(2 * math.pi) + 0.5 * (offsets**2).sum()) / (3 * 15)
    assert losses["l_p"].item() == pytest.approx(math.log(3), rel=1e-6)
    assert losses["l_s"].item() == pytest.approx(l_s, rel=1e-5)
    assert losses["loss"].item() == pytest.approx(l_s + math.log(3), rel=1e-5)


def test_extra_padding_leaves_the_offset_loss_sum_and_the_posterior_unchanged():
    model = tiny().eval()
    sketches = random_sketches([7, 3, 12], seed=3)
    short = model.compute_losses(make_batch(sketches, 12), step=0, generator=seeded())
    long = model.compute_losses(make_batch(sketches, 30), step=0, generator=seeded())
    assert (short["l_s"] * 12).item() == pytest.approx((long["l_s"] * 30).item(), rel=1e-5)
    assert short["l_kl"].item() == pytest.approx(long["l_kl"].item(), rel=1e-5)
    # The pen loss does count padding rows (the model must learn to stop), so its sum grows.
    assert (long["l_p"] * 30).item() > (short["l_p"] * 12).item()


def test_running_to_the_longest_drawing_leaves_out_only_the_pen_loss_on_the_padding_beyond():
    """`to_longest` (bucket_pool > 0): the decoder stops after the longest drawing's first end-of-sketch row (row 10
    here); l_s and l_kl are the paper's, and l_p is the paper's less the pen loss of rows 10 to 19, still over B * N_max."""
    model = tiny().eval()
    batch = make_batch(random_sketches([5, 9, 3], seed=4), 20)
    exact = model.compute_losses(batch, step=0, generator=seeded())
    cut = model.compute_losses(batch, step=0, generator=seeded(), to_longest=True)
    out, _, _ = model._teacher_forced(batch["strokes"], batch["lengths"], seeded())
    pen = F.cross_entropy(model.split_params(out).pen_logits.transpose(1, 2), batch["strokes"][:, 1:, 2:].argmax(-1),
                          reduction="none")  # (B, N_max)
    for name in ("l_s", "l_kl"):
        assert cut[name].item() == pytest.approx(exact[name].item(), rel=1e-6)
    assert cut["l_p"].item() == pytest.approx(exact["l_p"].item() - pen[:, 10:].sum().item() / (3 * 20), rel=1e-5)
    assert pen[:, 10:].sum() > 0


def test_kl_term_and_its_tolerance_floor():
    model = tiny(kl_tolerance=0.0)
    torch.nn.init.normal_(model.posterior.weight, std=0.3)  # a posterior well away from the prior
    batch = make_batch(random_sketches([5, 9]), 10)
    mu, sigma_hat = model.encode_batch(batch["strokes"], batch["lengths"])
    expected = 0.5 * (mu**2 + sigma_hat.exp() - 1 - sigma_hat).mean()
    losses = model.compute_losses(batch, step=0, generator=seeded())
    torch.testing.assert_close(losses["l_kl"], expected)
    assert losses["kl_weight"].item() == pytest.approx(0.005)  # kl_weight * kl_weight_start
    torch.testing.assert_close(losses["loss"], losses["l_r"] + 0.005 * expected)
    model.config.kl_tolerance = 50.0  # far above l_kl: the floor applies, l_kl itself is still reported raw
    floored = model.compute_losses(batch, step=0, generator=seeded())
    torch.testing.assert_close(floored["l_kl"], expected)
    torch.testing.assert_close(floored["loss"], floored["l_r"] + 0.005 * 50.0)


def test_kl_weight_schedule():
    config = SketchRNNConfig()
    assert kl_weight_at(config, 0) == pytest.approx(0.005)
    assert kl_weight_at(config, 1000) == pytest.approx(0.0291420235)
    assert kl_weight_at(config, 10**7) == pytest.approx(0.5)
    assert kl_weight_at(config, math.inf) == 0.5
    model = tiny()
    losses = model.compute_losses(make_batch(random_sketches([4]), 5), step=1000)
    assert losses["kl_weight"].item() == pytest.approx(0.0291420235)


def test_learning_rate_schedule():
    config = SketchRNNConfig()
    assert learning_rate_at(config, 0) == pytest.approx(1e-3)
    assert learning_rate_at(config, 1000) == pytest.approx(9.057845646e-4)
    assert learning_rate_at(config, 10**7) == pytest.approx(1e-5)  # the floor
    [(optimizer, scheduler)] = tiny().configure_optimizers()
    assert isinstance(optimizer, torch.optim.Adam) and optimizer.param_groups[0]["lr"] == pytest.approx(1e-3)
    optimizer.step()
    scheduler.step()
    assert optimizer.param_groups[0]["lr"] == pytest.approx(9.99901e-4)
    assert scheduler.lr_lambdas[0](1000) * 1e-3 == pytest.approx(9.057845646e-4)


# ---------------------------------------------------------------------- structure


@pytest.mark.parametrize("conditional", [True, False])
@pytest.mark.parametrize("cell", CELLS)
def test_shapes_and_step_by_step_decoding(cell, conditional):
    """The sampler decodes one step per call, z's gates computed once, and feeds the state back: that must equal
    teacher forcing."""
    model = tiny(cell=cell, conditional=conditional).eval()
    batch = make_batch(random_sketches([6, 4, 9]), 9)
    strokes, lengths = batch["strokes"], batch["lengths"]
    z = None
    if conditional:
        mu, sigma_hat = model.encode_batch(strokes, lengths)
        assert mu.shape == sigma_hat.shape == (3, 6)
        z = mu
    state = model.initial_state(z, 3)
    assert state.shape == (3, model.cell.state_size)
    if not conditional:
        assert not state.any() and not any(name.startswith("encoder") for name, _ in model.named_parameters())
    out, _ = model.decode(strokes[:, :-1], z, state)
    assert out.shape == (3, 9, 6 * 3 + 3)
    params = model.split_params(out)
    assert params.logit_pi.shape == params.rho.shape == (3, 9, 3) and params.pen_logits.shape == (3, 9, 3)
    assert (params.sigma_x > 0).all() and (params.rho.abs() < 1).all()
    steps, z_gates = [], model.latent_gates(z)
    for t in range(9):
        step_out, state = model.decode_given_gates(strokes[:, t : t + 1], z_gates, state)
        steps.append(step_out)
    torch.testing.assert_close(torch.cat(steps, dim=1), out)


def test_unconditional_model_has_no_kl_term():
    model = tiny(conditional=False)
    losses = model.compute_losses(make_batch(random_sketches([5, 8]), 8), step=0)
    assert losses["l_kl"].item() == 0 and losses["kl_weight"].item() == 0
    torch.testing.assert_close(losses["loss"], losses["l_r"])
    assert model.cell.hidden_size == 24 and model.head.in_features == 24


@pytest.mark.parametrize("cell", CELLS)
def test_gradient_reaches_every_parameter(cell):
    """Checked on the second update: the hyper network's magenta start (zero weights into the scale embeddings and
    out of the bias embeddings) keeps the first gradient from the hyper LSTM; that first update opens the path."""
    model = tiny(cell=cell)
    batch = make_batch(random_sketches([6, 4, 9]), 9)
    [(optimizer, _)] = model.configure_optimizers()
    model.training_step(batch, step=0)["loss"].backward()
    optimizer.step()
    optimizer.zero_grad()
    model.training_step(batch, step=1)["loss"].backward()
    for name, param in model.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name


@pytest.mark.parametrize("amp, decoder_calls", [(False, [6, 6, 6, 2]), (True, [20])], ids=["float32", "bf16"])
def test_recompute_auto_keeps_the_bf16_lstm_decoders_activations_and_recomputes_the_rest(amp, decoder_calls):
    """recompute "auto": the encoder is recomputed always; the decoder in `checkpoint_steps` chunks, except where the
    hand-written LSTM runs it under bf16 on a CPU (its activations kept in bf16); no recomputation out of training."""
    model = tiny(cell="lstm", checkpoint_steps=6)
    assert model.config.recompute == "auto"
    calls = []
    model.cell.register_forward_hook(lambda module, inputs, output: calls.append(inputs[0].shape[1]))
    model.encoder.register_forward_hook(lambda module, inputs, output: calls.append("encoder"))
    batch = make_batch(random_sketches([17, 9, 20, 4]), 20)
    with torch.autocast("cpu", torch.bfloat16, enabled=amp):
        model.training_step(batch, step=0)["loss"].backward()
    assert [call for call in calls if call != "encoder"] == decoder_calls and calls.count("encoder") == 2
    calls.clear()
    model.evaluate(batch)
    assert calls == ["encoder", 20]


@pytest.mark.parametrize("cell", CELLS)
def test_checkpointed_decoder_gives_the_same_loss_and_gradients(cell):
    """Recomputing the decoder chunk by chunk (a chunk that does not divide the length) and the encoder changes no
    number, even with recurrent dropout, whose masks are drawn again in the backward pass from the replayed RNG."""
    dropout = 0.0 if cell == "lstm" else 0.3
    batch = make_batch(random_sketches([17, 9, 20, 4]), 20)
    results, cell_calls, encoder_calls, kept_numbers = [], [], [], []
    for recompute in ("none", "all"):
        model = tiny(cell=cell, recurrent_dropout=dropout, checkpoint_steps=6, recompute=recompute)
        calls, kept = [], []
        model.cell.register_forward_hook(lambda module, inputs, output: calls.append(inputs[0].shape[1]))
        model.encoder.register_forward_hook(lambda module, inputs, output: calls.append("encoder"))

        def keep(tensor):
            kept.append(tensor.numel())
            return tensor

        torch.manual_seed(3)
        with torch.autograd.graph.saved_tensors_hooks(keep, lambda tensor: tensor):
            loss = model.training_step(batch, step=0)["loss"]
        loss.backward()
        results.append((loss.item(), [p.grad for p in model.parameters()]))
        cell_calls.append([call for call in calls if call != "encoder"])
        encoder_calls.append(calls.count("encoder"))
        kept_numbers.append(sum(kept))
    (loss_kept, grads_kept), (loss_recomputed, grads_recomputed) = results
    assert cell_calls == [[20], [6, 6, 6, 2]]  # the forward pass in chunks of 6 steps
    assert encoder_calls == [1, 2]  # the encoder's forward pass again in the backward pass
    assert kept_numbers[1] < kept_numbers[0] / 2  # and the cells' activations not kept for the backward pass
    assert loss_recomputed == loss_kept
    for kept, recomputed in zip(grads_kept, grads_recomputed):
        torch.testing.assert_close(recomputed, kept, rtol=1e-5, atol=1e-7)
    assert any(g.abs().sum() > 0 for g in grads_kept)


def test_encoder_reads_each_sketch_as_if_alone():
    """Both directions' final states equal those of the LSTMs run over the sketch's real rows only."""
    model = tiny().eval()
    sketches = random_sketches([5, 11, 2])
    batch = make_batch(sketches, 11)
    x = batch["strokes"][:, 1:]
    encoder = model.encoder
    got = encoder(x, batch["lengths"])
    for b, n in enumerate(batch["lengths"].tolist()):
        alone = x[b : b + 1, :n]
        zeros = torch.zeros(1, encoder.forward_rnn.state_size)
        h_forward = encoder.forward_rnn(alone, zeros)[0][0, -1]
        h_backward = encoder.backward_rnn(alone.flip(1), zeros)[0][0, -1]
        torch.testing.assert_close(got[b], torch.cat([h_forward, h_backward]))


def test_garbage_after_a_sketch_does_not_change_its_code():
    model = tiny().eval()
    batch = make_batch(random_sketches([5, 11, 2]), 11)
    strokes, lengths = batch["strokes"], batch["lengths"]
    mu, sigma_hat = model.encode_batch(strokes, lengths)
    garbage = strokes.clone()
    for b, n in enumerate(lengths.tolist()):
        garbage[b, n + 1 :] = torch.randn_like(garbage[b, n + 1 :]) * 10
    mu_garbage, sigma_hat_garbage = model.encode_batch(garbage, lengths)
    torch.testing.assert_close(mu_garbage, mu, rtol=0, atol=1e-6)
    torch.testing.assert_close(sigma_hat_garbage, sigma_hat, rtol=0, atol=1e-6)
    changed = strokes.clone()
    changed[0, 1, 0] += 1.0  # the first real row: the forward LSTM's oldest input, the backward LSTM's last
    assert not torch.allclose(model.encode_batch(changed, lengths)[0][0], mu[0])


# ---------------------------------------------------------------------- engine contract


def test_engine_contract():
    model = tiny()
    batch = make_batch(random_sketches([6, 4, 9]), 9)
    assert MODELS["sketch-rnn"] is SketchRNN
    assert model.grad_clip == 1.0 and tiny(grad_clip=0.0).grad_clip is None
    out = model.training_step(batch, step=10)
    assert set(out) == {"loss", "l_r", "l_s", "l_p", "l_kl", "kl_weight"} and out["loss"].requires_grad
    model.eval()
    rng = torch.get_rng_state()
    first, second = model.evaluate(batch), model.evaluate(batch)
    assert first == second and set(first) == {"loss", "l_r", "l_s", "l_p", "l_kl"}
    assert all(isinstance(v, float) for v in first.values())
    assert torch.equal(torch.get_rng_state(), rng)  # evaluation leaves the global random state alone
    # The final KL weight (kl_weight = 0.5) and the tolerance floor (0.2: the untrained posterior is near the prior).
    assert first["loss"] == pytest.approx(first["l_r"] + 0.5 * max(first["l_kl"], 0.2), rel=1e-6)


def test_forward_can_be_traced_for_tensorboard():
    model = tiny().eval()
    args = model.example_input()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit.trace is deprecated, and warns about its frozen Python branches
        traced = torch.jit.trace(model, args, check_trace=False)
    torch.manual_seed(5)
    eager = model(*args)
    torch.manual_seed(5)
    torch.testing.assert_close(traced(*args), eager)
    assert eager.shape == (2, args[0].shape[1] - 1, 6 * 3 + 3)


def test_bf16_training_on_a_cpu_runs_the_hand_written_decoder_and_keeps_the_losses():
    """Under CPU bf16 autocast (the engine's amp "auto" on a CPU with native bf16) the lstm decoder is the hand-written
    layer given z's gates; in float32 it is oneDNN's over z joined to every input. The losses and every gradient match
    float32's to bf16 precision, in float32."""
    batch = make_batch(random_sketches([17, 9, 20, 4]), 20)

    def train_once(autocast: bool):
        model = tiny()
        calls = []
        model.cell.register_forward_hook(
            lambda module, args, kwargs, output: calls.append((args[0].shape[-1],
                                                               kwargs.get("constant_gates") is not None)),
            with_kwargs=True)
        with torch.autocast("cpu", torch.bfloat16, enabled=autocast):
            losses = model.compute_losses(batch, step=0, generator=seeded(4))
        losses["loss"].backward()
        return losses, calls, {name: p.grad for name, p in model.named_parameters()}

    (exact, exact_calls, exact_grads), (mixed, mixed_calls, mixed_grads) = train_once(False), train_once(True)
    assert exact_calls == [(5 + TINY["z_size"], False)] and mixed_calls == [(5, True)]
    for name in ("loss", "l_s", "l_p", "l_kl"):
        assert mixed[name].dtype == torch.float32
        torch.testing.assert_close(mixed[name], exact[name], rtol=5e-3, atol=1e-3)
    for name, grad in mixed_grads.items():
        assert grad.dtype == torch.float32, name
        assert (grad - exact_grads[name]).norm() <= 0.05 * exact_grads[name].norm() + 1e-6, name


def test_the_encoders_products_take_few_shapes_whatever_the_lengths(monkeypatch):
    """On a CPU under bf16 the encoder pads its packed rows to a multiple of ENCODER_ROWS: oneDNN compiles and keeps a
    product for each new shape, so shapes that followed each batch's exact rows grew a training process without
    bound. In float32, whose products keep nothing, each batch keeps its own rows; the padding changes no number."""
    from sketchlab.models import rnn_cells

    monkeypatch.setattr(sketch_rnn, "ENCODER_ROWS", 32)
    shapes, apply = [], rnn_cells.PackedLSTMFunction.apply
    monkeypatch.setattr(rnn_cells.PackedLSTMFunction, "apply",
                        lambda x, *rest: shapes.append(tuple(x.shape)) or apply(x, *rest))
    model = tiny()
    encoded = {}
    for autocast in (True, False):
        for lengths in ([17, 9, 20, 4], [3, 5, 2, 8], [20, 20, 20, 20]):
            with torch.autocast("cpu", torch.bfloat16, enabled=autocast):
                encoded[autocast, len(encoded) % 3] = model.encode_batch(
                    make_batch(random_sketches(lengths, seed=sum(lengths)), 20)["strokes"], torch.tensor(lengths))[0]
    assert shapes == [(2, 64, 5), (2, 32, 5), (2, 96, 5), (2, 50, 5), (2, 18, 5), (2, 80, 5)]
    monkeypatch.setattr(sketch_rnn, "ENCODER_ROWS", 1)
    with torch.autocast("cpu", torch.bfloat16):
        unpadded = model.encode_batch(make_batch(random_sketches([17, 9, 20, 4], seed=50), 20)["strokes"],
                                      torch.tensor([17, 9, 20, 4]))[0]
    assert torch.equal(unpadded, encoded[True, 0])


@pytest.mark.parametrize(
    "change",
    [{"cell": "gru"}, {"dec_hidden": 0}, {"z_size": 2.5}, {"recurrent_dropout": 0.1}, {"input_dropout": 1.0},
     {"learning_rate": float("nan")}, {"min_learning_rate": 0.1}, {"kl_decay_rate": 0.0}, {"scale_factor": -1.0},
     {"checkpoint_steps": -1}, {"checkpoint_steps": 2.5}, {"recompute": "decoder"}],
)
def test_absurd_configs_are_refused(change):
    config = SketchRNNConfig(**{**TINY, **change})
    with pytest.raises(ValueError):
        config.validate()
    with pytest.raises(ValueError):
        SketchRNN(config)


def test_recurrent_dropout_is_accepted_by_the_cells_that_have_it():
    for cell in ("layernorm", "hyper"):
        SketchRNNConfig(cell=cell, recurrent_dropout=0.1).validate()


# ---------------------------------------------------------------------- files


def test_save_and_load_round_trip(tmp_path):
    model = tiny(cell="hyper", scale_factor=3.5).eval()
    model.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["model"] == "sketch-rnn" and config["scale_factor"] == 3.5 and config["cell"] == "hyper"
    loaded = SketchRNN.from_pretrained(tmp_path).eval()
    assert loaded.config == model.config
    batch = make_batch(random_sketches([6, 4]), 8)
    assert loaded.evaluate(batch) == model.evaluate(batch)
    for name, tensor in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor), name


def test_a_run_folder_stands_for_its_best_model_else_its_last(tmp_path):
    tiny(dec_hidden=8).save_pretrained(tmp_path / "run" / "last")
    assert SketchRNN.from_pretrained(tmp_path / "run").config.dec_hidden == 8  # before the first validation
    tiny(dec_hidden=12).save_pretrained(tmp_path / "run" / "best")
    assert SketchRNN.from_pretrained(tmp_path / "run").config.dec_hidden == 12
    assert SketchRNN.from_pretrained(tmp_path / "run" / "last").config.dec_hidden == 8


def test_broken_model_folders_raise_one_line_checkpoint_errors(tmp_path):
    tiny().save_pretrained(tmp_path)
    config_path, weights_path = tmp_path / "config.json", tmp_path / "model.safetensors"
    good_config = json.loads(config_path.read_text())

    def refused(match: str) -> None:
        with pytest.raises(CheckpointError, match=match) as caught:
            SketchRNN.from_pretrained(tmp_path)
        assert "\n" not in str(caught.value)

    config_path.write_text(json.dumps({**good_config, "dec_hidden": 32}))
    refused("does not match its config.json")
    config_path.write_text(json.dumps({**good_config, "conditional": False}))
    refused("unexpected tensors")
    config_path.write_text(json.dumps({**good_config, "dec_hidden": -3}))
    refused("dec_hidden must be a positive integer")
    config_path.write_text(json.dumps({**good_config, "colour": "blue"}))
    refused("colour")
    config_path.write_text(json.dumps({**good_config, "model": "dcgan"}))
    refused("does not describe a sketch-rnn model")
    config_path.write_text("{not json")
    refused("not valid JSON")
    config_path.write_text(json.dumps(good_config))
    weights_path.write_bytes(weights_path.read_bytes()[:100])
    refused("not a readable safetensors file")
    weights_path.unlink()
    refused("no model.safetensors")
    with pytest.raises(CheckpointError, match="no model at .*: give a model folder or a zoo name"):
        SketchRNN.from_pretrained(tmp_path / "missing")


def test_a_tampered_config_is_checked_against_the_weights_before_a_model_is_built(tmp_path, monkeypatch):
    tiny().save_pretrained(tmp_path)
    config_path = tmp_path / "config.json"
    good_config = json.loads(config_path.read_text())
    built_on = []
    real_init = SketchRNN.__init__

    def recording_init(self, config):
        real_init(self, config)
        built_on.append(next(self.parameters()).device.type)

    monkeypatch.setattr(SketchRNN, "__init__", recording_init)
    for dec_hidden, message in [(32, "does not match its config.json"),
                                (100_000, "of 40,0[0-9,]+ parameters, more than the 1,073,741,824"),
                                (1_000_000_000, "impossible model|parameters, more than")]:  # was 1.1 TB asked for
        config_path.write_text(json.dumps({**good_config, "dec_hidden": dec_hidden}))
        with pytest.raises(CheckpointError, match=message) as caught:
            SketchRNN.from_pretrained(tmp_path)
        assert "\n" not in str(caught.value)
    assert set(built_on) <= {"meta"}  # only shapes were ever made
    config_path.write_text(json.dumps(good_config))
    SketchRNN.from_pretrained(tmp_path)
    assert built_on[-1] == "cpu"


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_non_finite_weights_are_refused_at_load_time(tmp_path, bad):
    from safetensors.torch import load_file, save_file

    tiny().save_pretrained(tmp_path)
    weights = load_file(str(tmp_path / "model.safetensors"))
    name = sorted(weights)[0]
    weights[name].view(-1)[0] = bad
    save_file(weights, str(tmp_path / "model.safetensors"))
    with pytest.raises(CheckpointError, match=f"holds 1 NaN or infinite values in {name}"):
        SketchRNN.from_pretrained(tmp_path)  # was loaded, then a RuntimeError (CLI) or HTTP 500 (studio) per use


# ---------------------------------------------------------------------- learning sheep


@pytest.fixture(scope="module")
def eight_sheep(sheep_path) -> dict[str, torch.Tensor]:
    """The first 8 training sheep, offsets divided by their standard deviation, N_max the longest (230 rows)."""
    sheep = [s.astype(np.float32) for s in np.load(sheep_path, allow_pickle=True, encoding="latin1")["train"][:8]]
    scale = np.concatenate([s[:, :2] for s in sheep]).std()
    scaled = [np.concatenate([s[:, :2] / scale, s[:, 2:]], axis=1) for s in sheep]
    return make_batch(scaled, max(len(s) for s in sheep))


def shuffle_rows(batch: dict[str, torch.Tensor], generator: torch.Generator) -> dict[str, torch.Tensor]:
    """The real rows of all sketches pooled and dealt out again at random: nothing left to learn but their mix."""
    strokes = batch["strokes"].clone()
    real = torch.arange(strokes.shape[1] - 1) < batch["lengths"].unsqueeze(1)
    rows = strokes[:, 1:][real]
    strokes[:, 1:][real] = rows[torch.randperm(len(rows), generator=generator)]
    return {**batch, "strokes": strokes}


def reconstruction_loss_before_and_after_training(batch: dict[str, torch.Tensor], shuffle: bool) -> tuple[float, float]:
    torch.manual_seed(0)
    n_max = batch["strokes"].shape[1] - 1
    # Nothing recomputed (checkpoint_steps 0): at these sizes that only costs time.
    model = SketchRNN(SketchRNNConfig(enc_hidden=32, dec_hidden=64, z_size=8, num_mixture=5, max_seq_len=n_max,
                                      learning_rate=0.01, checkpoint_steps=0))
    [(optimizer, scheduler)] = model.configure_optimizers()
    before = model.eval().evaluate(batch)["l_r"]
    model.train()
    generator = seeded()
    for step in range(200):
        optimizer.zero_grad()
        model.training_step(shuffle_rows(batch, generator) if shuffle else batch, step)["loss"].backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), model.grad_clip)
        optimizer.step()
        scheduler.step()
    return before, model.eval().evaluate(batch)["l_r"]


def test_tiny_model_learns_eight_sheep(eight_sheep):
    before, after = reconstruction_loss_before_and_after_training(eight_sheep, shuffle=False)
    # Measured: l_r 2.80 -> 0.17 after 200 steps (shuffled rows: 2.80 -> 1.18).
    assert after < 0.2 * before, (before, after)


@pytest.mark.xfail(strict=True, reason="shuffled rows carry no sequence to learn: the loss must not fall as far")
def test_tiny_model_cannot_learn_shuffled_sheep(eight_sheep):
    before, after = reconstruction_loss_before_and_after_training(eight_sheep, shuffle=True)
    assert after < 0.2 * before, (before, after)
