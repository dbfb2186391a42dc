"""BEGAN specifics: the equilibrium update k_t (by hand, clipped to [0, 1] while training), M_global logged every
step, and the paper's building blocks."""

import json

import pytest
import torch
from torch import nn

from sketchlab.models.began import BEGAN, BEGANConfig, equilibrium_update
from sketchlab.training.engine import Trainer, TrainConfig


def test_equilibrium_update_by_hand():
    k, m = equilibrium_update(torch.tensor(0.0), torch.tensor(0.4), torch.tensor(0.1), gamma=0.5, lambda_k=0.001)
    # balance = 0.5 * 0.4 - 0.1 = 0.1: k = 0 + 0.001 * 0.1, M = 0.4 + |0.1|
    assert k.item() == pytest.approx(1e-4) and m.item() == pytest.approx(0.5)
    k, m = equilibrium_update(torch.tensor(0.3), torch.tensor(0.2), torch.tensor(0.5), gamma=0.5, lambda_k=0.1)
    assert k.item() == pytest.approx(0.3 + 0.1 * (0.1 - 0.5)) and m.item() == pytest.approx(0.2 + 0.4)
    assert equilibrium_update(torch.tensor(0.99), torch.tensor(1.0), torch.tensor(0.0), 1.0, 1.0)[0].item() == 1.0
    assert equilibrium_update(torch.tensor(0.01), torch.tensor(0.0), torch.tensor(1.0), 1.0, 1.0)[0].item() == 0.0


@pytest.mark.parametrize("gamma", [1.0, 0.001])
def test_k_stays_in_the_unit_interval_and_m_global_is_logged_every_step(gamma, tmp_path):
    """A huge lambda_k pushes k against a bound within a few steps: it must stop there. gamma = 1 asks for fakes
    as hard to reconstruct as real images (k rises from k_0 = 0); gamma = 0.001 for trivial fakes (k falls, from 1
    here)."""
    torch.manual_seed(0)
    model = BEGAN(BEGANConfig(image_size=16, channels=1, width=8, latent_dim=8, hidden_dim=8, gamma=gamma,
                              lambda_k=50.0, batch_size=4))
    assert model.k.item() == 0.0
    start = 0.0 if gamma == 1.0 else 1.0
    model.k.fill_(start)
    images = torch.rand(8, 1, 16, 16) * 2 - 1

    class Batches:
        def next_batch(self):
            return {"images": images}

        def state_dict(self):
            return {}

    Trainer(model, Batches(), None, TrainConfig(str(tmp_path), steps=12, log_every=1, tensorboard=False,
                                                progress=False, device="cpu")).fit()
    lines = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [line["step"] for line in lines] == list(range(1, 13))
    ks = [line["train/k"] for line in lines]
    assert all(0.0 <= k <= 1.0 for k in ks)
    assert 1.0 - start in ks  # it went all the way to the other bound
    assert all(line["train/m_global"] >= line["train/loss_real"] for line in lines)


def test_building_blocks_are_the_papers():
    model = BEGAN(BEGANConfig())
    modules = list(model.modules())
    assert any(isinstance(m, nn.ELU) for m in modules) and not any(isinstance(m, nn.BatchNorm2d) for m in modules)
    upsamples = [m for m in modules if isinstance(m, nn.Upsample)]
    assert upsamples and all(m.mode == "nearest" for m in upsamples)
    strided = [m.out_channels for m in model.disc_encoder.modules() if isinstance(m, nn.Conv2d) and m.stride == (2, 2)]
    assert strided == [128, 192, 256]  # widths grow linearly: n, 2n, 3n, 4n with n = 64
    assert model.disc_encoder.out.out_features == 64 and model.generator.layers[0].in_features == 64
    assert model.generate(2, seed=0).shape == (2, 3, 64, 64)
    d_optimizer, g_optimizer = (optimizer for optimizer, _ in model.configure_optimizers())
    assert d_optimizer.defaults["lr"] == 1e-4 and model.config.lambda_k == 0.001


def test_discriminator_loss_uses_k_and_generator_step_updates_it():
    torch.manual_seed(0)
    model = BEGAN(BEGANConfig(image_size=16, channels=1, width=8, latent_dim=8, hidden_dim=8, lambda_k=0.5))
    batch = {"images": torch.rand(4, 1, 16, 16) * 2 - 1}
    model.k.fill_(0.5)
    out = model.training_step(batch, 0, 0)
    assert out["loss"].item() == pytest.approx((out["loss_real"] - 0.5 * out["loss_fake"]).item())
    out = model.training_step(batch, 0, 1)
    balance = 0.5 * model._real_loss - out["g_loss"]
    assert model.k.item() == pytest.approx(min(1.0, max(0.0, 0.5 + 0.5 * balance.item())), abs=1e-6)
    assert out["m_global"].item() == pytest.approx((model._real_loss + balance.abs()).item())
