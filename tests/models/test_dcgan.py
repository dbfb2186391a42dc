"""DCGAN specifics: the paper's architecture at 64x64, and real and fake images in separate discriminator batches."""

import torch
from torch import nn

from sketchlab.models.dcgan import DCGAN, DCGANConfig


def layer_widths(module: nn.Module, kind) -> list[int]:
    return [m.out_channels for m in module.modules() if isinstance(m, kind)]


def test_default_architecture_is_the_papers():
    torch.manual_seed(0)
    model = DCGAN(DCGANConfig())
    assert model.config.latent_dim == 100 and model.config.latent_prior == "uniform"
    project = model.generator.project
    assert project[0].in_features == 100 and project[0].out_features == 4 * 4 * 512
    assert layer_widths(model.generator, nn.ConvTranspose2d) == [256, 128, 64, 3]
    assert isinstance(model.generator.layers[-1], nn.Tanh)
    assert layer_widths(model.discriminator, nn.Conv2d) == [64, 128, 256, 512]
    features = list(model.discriminator.features)
    assert isinstance(features[1], nn.LeakyReLU) and features[1].negative_slope == 0.2  # no BatchNorm on the input
    assert sum(isinstance(m, nn.BatchNorm2d) for m in features) == 3
    assert model.discriminator.out.out_features == 1
    d_optimizer, g_optimizer = (optimizer for optimizer, _ in model.configure_optimizers())
    for optimizer in (d_optimizer, g_optimizer):
        assert optimizer.defaults["lr"] == 2e-4 and optimizer.defaults["betas"] == (0.5, 0.999)
    weights = torch.cat([m.weight.flatten() for m in model.modules() if isinstance(m, nn.Conv2d)])
    assert abs(weights.std().item() - 0.02) < 0.002  # N(0, 0.02) initialisation
    assert model.generate(2, seed=0).shape == (2, 3, 64, 64)


def test_discriminator_sees_real_and_fake_in_separate_batches():
    torch.manual_seed(0)
    model = DCGAN(DCGANConfig(image_size=16, channels=1, latent_dim=8, width=8, disc_width=8))
    real = torch.full((6, 1, 16, 16), 0.75)  # a value the tanh generator's fresh output never equals everywhere
    seen = []
    model.discriminator.register_forward_hook(lambda module, args, out: seen.append(args[0].detach().clone()))
    model.training_step({"images": real}, 0, optimizer_idx=0)
    assert len(seen) == 2 and [len(batch) for batch in seen] == [6, 6]
    is_real = [bool(torch.all(batch == 0.75)) for batch in seen]
    assert is_real == [True, False]  # one all-real batch, then one all-fake batch: never mixed


def test_learns_a_toy_distribution_of_bars():
    """Images with one bright vertical bar at a random place: a working DCGAN draws bright columns within 300 steps.

    (A discriminator with a bias on its input layer failed this: it learned the real background's exact -1.)
    """
    torch.manual_seed(0)
    model = DCGAN(DCGANConfig(image_size=16, channels=1, latent_dim=16, width=16, disc_width=16, batch_size=32))
    optimizers = [optimizer for optimizer, _ in model.configure_optimizers()]
    for step in range(300):
        images = -torch.ones(32, 1, 16, 16)
        for i, x in enumerate(torch.randint(2, 14, (32,)).tolist()):
            images[i, 0, :, x - 1 : x + 1] = 1
        for idx, optimizer in enumerate(optimizers):
            optimizer.zero_grad()
            model.training_step({"images": images}, step, idx)["loss"].backward()
            optimizer.step()
    columns = model.generate(16, seed=0)[:, 0].mean(dim=1)  # (16 images, 16 columns)
    bright = (columns > 0).sum(dim=1)
    # measured (seeds 0-2): 2-11 bright columns of 16 in every image; 0 in all of them with the biased discriminator
    assert (bright >= 1).float().mean() >= 0.75
    assert (bright <= 12).all()  # bars, not bright pictures
