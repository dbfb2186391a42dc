"""BEGAN: Berthelot, Schumm & Metz 2017, "BEGAN: Boundary Equilibrium Generative Adversarial Networks".

The discriminator is an autoencoder; L(v) = mean |v - D(v)| is its L1 reconstruction loss. With k_0 = 0:
    L_D = L(x) - k_t L(G(z_D)),    L_G = L(G(z_G)),
    k_{t+1} = clip(k_t + lambda_k (gamma L(x) - L(G(z_G))), 0, 1),
    M_global = L(x) + |gamma L(x) - L(G(z_G))|   (the convergence measure, logged every step).
gamma (0.5 by default; lower trades diversity for quality) sets the equilibrium E[L(G(z))] = gamma E[L(x)] that k
steers towards; lambda_k = 0.001.

Architecture (the paper's figure 1): 3x3 convolutions with ELUs throughout. The encoder subsamples with stride-2
convolutions, its widths growing linearly (n, 2n, 3n, ...) down to 8x8, then a linear map to the embedding h. The
decoder, and the generator (same architecture, its own weights), map h (or z) linearly to 8x8xn, then repeat two
convolutions and a nearest-neighbour upsampling up to the image size, and end in a 3x3 convolution to the image's
channels. A tanh keeps images in the data's [-1, 1] (the paper does not say which output it used). Adam, lr 1e-4,
beta1 0.5 (the paper halves lr when M_global stalls; here lr stays constant).

Engine contract: optimiser 0 updates the discriminator, optimiser 1 the generator and then k (a buffer, so it is
saved with the weights and resumes exactly).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from sketchlab.errors import ConfigError
from sketchlab.models.conv_blocks import conv_depth
from sketchlab.models.pixel import PixelModel, check_common, check_positive_floats, check_positive_ints


@dataclass
class BEGANConfig:
    image_size: int = 64
    channels: int = 3
    latent_dim: int = 64  # N_z
    hidden_dim: int = 64  # N_h: the discriminator's embedding
    latent_prior: str = "uniform"
    width: int = 64  # n: filters of the first convolutions
    gamma: float = 0.5
    lambda_k: float = 0.001
    lr: float = 1e-4
    beta1: float = 0.5
    beta2: float = 0.999
    batch_size: int = 16

    def validate(self) -> None:
        """Raise ConfigError (a ValueError) naming the first absurd setting."""
        conv_depth(self.image_size, smallest=8)
        check_common(self)
        check_positive_ints(self, "hidden_dim")
        check_positive_floats(self, "lambda_k")
        if isinstance(self.gamma, bool) or not isinstance(self.gamma, (int, float)) or not 0 < self.gamma <= 1:
            raise ConfigError(f"gamma must be in (0, 1], got {self.gamma!r}")


def equilibrium_update(k: Tensor, real_loss: Tensor, fake_loss: Tensor, gamma: float,
                       lambda_k: float) -> tuple[Tensor, Tensor]:
    """k_{t+1} (clipped to [0, 1]) and M_global from L(x) and L(G(z_G)) of one step."""
    balance = gamma * real_loss - fake_loss
    return (k + lambda_k * balance).clamp(0.0, 1.0), real_loss + balance.abs()


def _conv(c_in: int, c_out: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, 3, stride, 1)


def _pair(width: int) -> list[nn.Module]:
    return [_conv(width, width), nn.ELU(inplace=True), _conv(width, width), nn.ELU(inplace=True)]


class BeganEncoder(nn.Module):
    """Image -> embedding: widths n, 2n, 3n, ... at each scale, stride-2 subsampling, 8x8 -> linear."""

    def __init__(self, channels: int, image_size: int, width: int, out_dim: int) -> None:
        super().__init__()
        depth = conv_depth(image_size, smallest=8)
        layers: list[nn.Module] = [_conv(channels, width), nn.ELU(inplace=True)]
        for i in range(depth + 1):
            layers += _pair(width * (i + 1))
            if i < depth:
                layers += [_conv(width * (i + 1), width * (i + 2), stride=2), nn.ELU(inplace=True)]
        self.features = nn.Sequential(*layers)
        self.out = nn.Linear(width * (depth + 1) * 64, out_dim)

    def forward(self, images: Tensor) -> Tensor:
        return self.out(self.features(images).flatten(1))


class BeganDecoder(nn.Module):
    """Vector -> image: linear to 8x8xn, (two convolutions, nearest-neighbour upsampling) per scale, 3x3 to the
    image's channels, tanh."""

    def __init__(self, in_dim: int, channels: int, image_size: int, width: int) -> None:
        super().__init__()
        depth = conv_depth(image_size, smallest=8)
        layers: list[nn.Module] = [nn.Linear(in_dim, width * 64), nn.Unflatten(1, (width, 8, 8))]
        for i in range(depth + 1):
            layers += _pair(width)
            if i < depth:
                layers.append(nn.Upsample(scale_factor=2, mode="nearest"))
        layers += [_conv(width, channels), nn.Tanh()]
        self.layers = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        return self.layers(z)


class BEGAN(PixelModel, nn.Module):
    """Generator, autoencoder discriminator and the equilibrium variable k."""

    model_name = "began"
    config_class = BEGANConfig
    recon_power = 1

    def __init__(self, config: BEGANConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        self.generator = BeganDecoder(config.latent_dim, config.channels, config.image_size, config.width)
        self.disc_encoder = BeganEncoder(config.channels, config.image_size, config.width, config.hidden_dim)
        self.disc_decoder = BeganDecoder(config.hidden_dim, config.channels, config.image_size, config.width)
        self.register_buffer("k", torch.zeros(()))
        self._real_loss: Tensor | None = None  # L(x) of the discriminator's step, for the k update that follows

    def decode(self, z: Tensor) -> Tensor:
        return self.generator(z)

    def encode(self, images: Tensor) -> Tensor:
        return self.disc_encoder(images)

    def decode_codes(self, codes: Tensor) -> Tensor:
        return self.disc_decoder(codes)

    def autoencoder_loss(self, images: Tensor) -> Tensor:
        """L(v): the discriminator's mean absolute reconstruction error."""
        return (images - self.disc_decoder(self.disc_encoder(images))).abs().mean()

    def forward(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """Images from z and the discriminator's reconstructions of them: both players in one graph."""
        images = self.generator(z)
        return images, self.disc_decoder(self.disc_encoder(images))

    # ------------------------------------------------------------------ engine contract

    def configure_optimizers(self) -> list[tuple[torch.optim.Optimizer, None]]:
        discriminator = [*self.disc_encoder.parameters(), *self.disc_decoder.parameters()]
        return [(self.adam(discriminator), None), (self.adam(self.generator.parameters()), None)]

    def training_step(self, batch: dict[str, Tensor], step: int, optimizer_idx: int = 0) -> dict[str, Tensor]:
        images = batch["images"]
        if optimizer_idx == 0:
            self.remember_preview(images)
            real_loss = self.autoencoder_loss(images)
            fake_loss = self.autoencoder_loss(self.generator(self.sample_latent(len(images))).detach())
            self._real_loss = real_loss.detach()
            return {"loss": real_loss - self.k * fake_loss, "loss_real": self._real_loss,
                    "loss_fake": fake_loss.detach()}
        fake_loss = self.autoencoder_loss(self.generator(self.sample_latent(len(images))))
        with torch.no_grad():
            k, m_global = equilibrium_update(self.k, self._real_loss, fake_loss.float(), self.config.gamma,
                                             self.config.lambda_k)
            self.k.copy_(k)
        return {"loss": fake_loss, "g_loss": fake_loss.detach(), "k": self.k.clone(), "m_global": m_global}

    @torch.no_grad()
    def evaluate(self, batch: dict[str, Tensor]) -> dict[str, float]:
        """M_global on held-out images and fresh samples (lower is better: the paper's convergence measure)."""
        images = batch["images"]
        real_loss = self.autoencoder_loss(images)
        fake_loss = self.autoencoder_loss(self.generator(self.sample_latent(len(images))))
        _, m_global = equilibrium_update(self.k, real_loss, fake_loss, self.config.gamma, self.config.lambda_k)
        return {"loss": float(m_global), "loss_real": float(real_loss), "loss_fake": float(fake_loss)}

    def example_input(self) -> Tensor:
        return self.sample_latent(2)
