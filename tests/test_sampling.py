"""Batched decoding, temperature, latent paths and completion, checked on scripted stub models and a tiny real one."""

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pytest
import torch

from sketchlab import sampling
from sketchlab.errors import DataError
from sketchlab.models.sketch_rnn import SketchRNN, SketchRNNConfig


class Params(NamedTuple):
    logit_pi: torch.Tensor
    mu_x: torch.Tensor
    mu_y: torch.Tensor
    sigma_x: torch.Tensor
    sigma_y: torch.Tensor
    rho: torch.Tensor
    pen_logits: torch.Tensor


@dataclass
class StubConfig:
    max_seq_len: int = 12
    scale_factor: float = 2.0
    conditional: bool = False
    z_size: int = 4


class ScriptedDecoder(torch.nn.Module):
    """Sketch i moves by (1, i) each step and ends after `stops[i]` points; records the batch size of each call."""

    def __init__(self, stops: list[int]):
        super().__init__()
        self.config = StubConfig()
        self.stops = torch.tensor(stops)
        self.anchor = torch.nn.Parameter(torch.zeros(1))
        self.batch_sizes: list[int] = []

    def initial_state(self, z, n):
        # state: (sketch id, steps taken)
        return torch.stack([torch.arange(n, dtype=torch.float32), torch.zeros(n)], dim=1)

    def latent_gates(self, z):
        return None

    def decode_given_gates(self, inputs, z_gates, state):
        self.batch_sizes.append(len(state))
        state = state + torch.tensor([0.0, 1.0])
        return state.unsqueeze(1), state

    def split_params(self, out):
        ids, steps = out[:, 0].long(), out[:, 1]
        n = len(ids)
        ended = steps > self.stops[ids].float()
        pen = torch.full((n, 3), -1e4)
        pen[:, 0] = 0
        pen[ended, 0], pen[ended, 2] = -1e4, 0
        one = torch.ones(n, 1)
        return Params(one * 0, one, ids.float().unsqueeze(1), one, one, one * 0, pen)


def test_each_sketch_stops_at_its_own_end_and_leaves_the_batch():
    model = ScriptedDecoder([3, 1, 5])
    drawings = sampling.decode(model, None, 3, temperature=0.0)
    assert [len(d) for d in drawings] == [3, 1, 5]
    for i, d in enumerate(drawings):  # offsets come back in data units (x scale factor 2)
        np.testing.assert_array_equal(d[:, :2], np.tile([2.0, 2.0 * i], (len(d), 1)))
    assert model.batch_sizes == [3, 3, 2, 2, 1, 1]  # sketch 1 leaves after step 2, sketch 0 after step 4


def test_a_sketch_that_never_ends_stops_at_max_len():
    drawings = sampling.decode(ScriptedDecoder([100]), None, 1, temperature=0.0)
    assert len(drawings[0]) == StubConfig.max_seq_len


class OneGaussian(NamedTuple):
    """One mixture component at the origin with unit sigmas and correlation rho; three equally likely pen states."""

    @staticmethod
    def params(n: int, rho: float = 0.0) -> Params:
        zeros, ones = torch.zeros(n, 1), torch.ones(n, 1)
        return Params(zeros, zeros, zeros, ones, ones, ones * rho, torch.zeros(n, 3))


def test_temperature_scales_the_spread_by_its_square_root():
    g = torch.Generator().manual_seed(0)
    spread = {t: sampling.next_points(OneGaussian.params(40000), t, g)[:, :2].std(0) for t in (1.0, 0.25)}
    ratio = spread[0.25] / spread[1.0]
    assert torch.allclose(ratio, torch.tensor([0.5, 0.5]), atol=0.02)


def test_correlation_is_reproduced():
    g = torch.Generator().manual_seed(0)
    xy = sampling.next_points(OneGaussian.params(40000, rho=0.8), 1.0, g)[:, :2]
    assert abs(np.corrcoef(xy.T.numpy())[0, 1] - 0.8) < 0.02


def test_temperature_zero_is_greedy_and_negative_is_refused():
    params = OneGaussian.params(5)._replace(pen_logits=torch.tensor([[0.0, 3.0, 1.0]]).expand(5, 3))
    point = sampling.next_points(params, 0.0, None)
    assert torch.equal(point, torch.tensor([[0.0, 0.0, 0.0, 1.0, 0.0]]).expand(5, 5))
    with pytest.raises(DataError, match="temperature"):
        sampling.decode(ScriptedDecoder([1]), None, 1, temperature=-1)


def test_slerp_and_lerp_paths():
    a, b = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    path = sampling.interpolation_path(a, b, 5, "slerp")
    assert torch.allclose(path[0], a) and torch.allclose(path[-1], b)
    assert torch.allclose(path.norm(dim=1), torch.ones(5))  # on the circle, unlike lerp
    lerp = sampling.interpolation_path(a, b, 3, "lerp")
    assert torch.allclose(lerp[1], torch.tensor([0.5, 0.5]))
    with pytest.raises(DataError):
        sampling.interpolation_path(a, b, 1)


@pytest.fixture(scope="module")
def tiny_model():
    torch.manual_seed(0)
    config = SketchRNNConfig(enc_hidden=16, dec_hidden=32, z_size=8, num_mixture=3, max_seq_len=40, scale_factor=3.0)
    return SketchRNN(config).eval()


def square(n_strokes: int = 2) -> np.ndarray:
    rows = []
    for _ in range(n_strokes):
        rows += [[5, 0, 0], [0, 5, 0], [-5, 0, 0], [0, -5, 1]]
    return np.array(rows, dtype=np.float32)


def test_same_seed_same_drawings_other_seed_other_drawings(tiny_model):
    one = tiny_model.sample(4, temperature=0.8, seed=1)
    again = tiny_model.sample(4, temperature=0.8, seed=1)
    other = tiny_model.sample(4, temperature=0.8, seed=2)
    assert all(np.array_equal(a, b) for a, b in zip(one, again))
    assert not all(a.shape == b.shape and np.array_equal(a, b) for a, b in zip(one, other))


def test_greedy_sampling_of_a_given_z_is_deterministic(tiny_model):
    z = torch.randn(3, 8, generator=torch.Generator().manual_seed(0))
    first = sampling.sample(tiny_model, 3, temperature=0.0, z=z, seed=1)
    second = sampling.sample(tiny_model, 3, temperature=0.0, z=z, seed=99)
    assert all(np.array_equal(a, b) for a, b in zip(first, second))


def test_completion_keeps_the_given_strokes(tiny_model):
    prefix = square(1)
    done = sampling.complete(tiny_model, prefix, n=3, temperature=0.7, seed=0)
    assert len(done) == 3
    for d in done:
        np.testing.assert_array_equal(d[: len(prefix)], prefix)
        assert len(d) <= tiny_model.config.max_seq_len
    with pytest.raises(DataError, match="empty"):
        sampling.complete(tiny_model, prefix[:0])


def test_interpolation_endpoints_decode_the_drawings_codes(tiny_model):
    a, b = square(1), square(2)
    path = sampling.interpolate(tiny_model, a, b, steps=4)
    z = sampling.encode(tiny_model, [a, b])
    ends = sampling.sample(tiny_model, 2, temperature=0.0, z=z)
    for got, expected in ((path[0], ends[0]), (path[-1], ends[1])):  # slerp's endpoints agree to rounding
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, atol=1e-4)


def test_too_long_drawings_and_unconditional_encoding_are_refused(tiny_model):
    with pytest.raises(DataError, match="at most 40"):
        sampling.encode(tiny_model, [square(11)])
    unconditional = SketchRNN(SketchRNNConfig(enc_hidden=8, dec_hidden=8, z_size=4, num_mixture=2,
                                              max_seq_len=20, conditional=False))
    with pytest.raises(DataError, match="unconditional"):
        sampling.encode(unconditional, [square(1)])
    assert len(unconditional.sample(2, temperature=0.5, seed=0)) == 2


def test_paper_redraws_a_point_that_would_leave_it_then_ends_the_sketch_there():
    paper = sampling.Paper(0.0, 0.0, 10.0, 10.0, tries=2)
    position = torch.tensor([[9.0, 5.0], [9.0, 5.0]])
    drawn = torch.tensor([[3.0, 0.0, 1, 0, 0], [0.5, 0.0, 1, 0, 0]])  # the first would leave, the second not
    redraws = iter([torch.tensor([[0.5, 1.0, 0, 1, 0], [9.0, 9.0, 0, 1, 0]])])
    kept = paper.keep_inside(drawn, position, lambda: next(redraws))
    assert torch.equal(kept, torch.tensor([[0.5, 1.0, 0, 1, 0], [0.5, 0.0, 1, 0, 0]]))  # only row 0 redrawn

    stubborn = paper.keep_inside(drawn, position, lambda: drawn)  # every redraw leaves: the sketch ends there
    assert torch.equal(stubborn[0], torch.tensor([0.0, 0.0, 0, 0, 1]))
    assert torch.equal(stubborn[1], drawn[1])


def test_completion_on_paper_stays_inside_and_the_listener_hears_every_row(tiny_model):
    prefix = square(1) * 0.4  # a 2 x 2 square, starting and ending at the origin
    paper = sampling.Paper(-1.0, -1.0, 3.0, 3.0)  # the data units around it
    heard: dict[int, list[np.ndarray]] = {i: [] for i in range(6)}

    def listen(step, active, rows):
        for i, row in zip(active.tolist(), rows.numpy()):
            if row[4] == 0:  # a drawn row (not the end of the sketch)
                heard[i].append(np.array([row[0], row[1], row[3]]) * [3.0, 3.0, 1.0])  # scale factor 3

    free = sampling.complete(tiny_model, prefix, n=6, temperature=1.0, seed=0)
    kept = sampling.complete(tiny_model, prefix, n=6, temperature=1.0, seed=0, paper=paper, on_step=listen)
    outside = lambda xy: ((xy < -1 - 1e-4) | (xy > 3 + 1e-4)).any()  # noqa: E731
    assert any(outside(np.cumsum(d[:, :2], axis=0)) for d in free), "the tiny model should wander off unaided"
    for i, d in enumerate(kept):
        assert not outside(np.cumsum(d[:, :2], axis=0)), f"completion {i} left the paper"
        np.testing.assert_allclose(np.array(heard[i]).reshape(-1, 3), d[len(prefix):], atol=1e-5)
