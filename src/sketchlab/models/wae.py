"""Wasserstein Auto-Encoders: Tolstikhin, Bousquet, Gelly & Schölkopf 2018, "Wasserstein Auto-Encoders".

A deterministic encoder Q(z|x) and decoder G(z) (DCGAN-style convolution stacks, models/conv_blocks.py) minimise
    c(x, G(Q(x))) + lambda * D_Z(Q_Z, P_Z),
a reconstruction cost (squared L2, times 0.05 as in the authors' code) plus a penalty that pulls the *aggregate*
distribution of codes Q_Z towards the prior P_Z = N(0, sigma_z^2 I) (sigma_z^2 = 2, the paper's CelebA setting). The
penalty is either
- WAE-MMD: the unbiased estimate of the maximum mean discrepancy with the inverse multiquadric kernel
  k(x, y) = C / (C + |x - y|^2), C = 2 d sigma_z^2 s, summed over the scales s in KERNEL_SCALES (lambda 100); or
- WAE-GAN: a latent discriminator (an MLP, 4 x 512 ReLU) tells prior samples from codes; the encoder is paid for
  fooling it (non-saturating, lambda 1). Optimiser 0 updates that adversary, optimiser 1 the autoencoder.
Adam with beta1 0.5; lr 1e-3 (the paper's WAE-GAN used 3e-4 for the autoencoder, 1e-3 for the adversary). The
latent may have any size; with 2 the code plane can be drawn.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sketchlab.errors import ConfigError
from sketchlab.models.conv_blocks import ConvDecoder, ConvEncoder, conv_depth, dcgan_init
from sketchlab.models.pixel import PixelModel, check_common, check_positive_floats, check_positive_ints

PENALTIES = ("mmd", "gan")
KERNEL_SCALES = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)


@dataclass
class WAEConfig:
    image_size: int = 64
    channels: int = 3
    latent_dim: int = 64
    latent_prior: str = "normal"
    prior_std: float = math.sqrt(2.0)  # sigma_z
    penalty: str = "mmd"  # mmd | gan
    mmd_weight: float = 100.0  # lambda of WAE-MMD
    gan_weight: float = 1.0  # lambda of WAE-GAN
    recon_weight: float = 0.05  # scales the per-image sum of squared errors
    width: int = 128  # encoder: channels after its first layer, doubling towards 4x4; the decoder mirrors it
    adversary_width: int = 512
    adversary_depth: int = 4
    lr: float = 1e-3
    adversary_lr: float = 1e-3
    beta1: float = 0.5
    beta2: float = 0.999
    batch_size: int = 100

    def validate(self) -> None:
        """Raise ConfigError (a ValueError) naming the first absurd setting."""
        conv_depth(self.image_size)
        check_common(self)
        check_positive_ints(self, "adversary_width", "adversary_depth")
        check_positive_floats(self, "prior_std", "mmd_weight", "gan_weight", "recon_weight", "adversary_lr")
        if self.penalty not in PENALTIES:
            raise ConfigError(f"penalty must be one of {', '.join(PENALTIES)}, got {self.penalty!r}")


def imq_mmd(x: Tensor, y: Tensor, prior_var: float, scales: tuple[float, ...] = KERNEL_SCALES) -> Tensor:
    """Unbiased estimate of MMD^2 between the samples x (n, d) and y (m, d), n, m >= 2, with the inverse multiquadric
    kernel C / (C + |a - b|^2), C = 2 d prior_var s, summed over `scales` (the WAE paper's estimator).

    Near 0 (either sign) for two samples of one distribution; positive when they differ.
    """
    n, m, d = len(x), len(y), x.shape[1]
    if n < 2 or m < 2:
        raise ValueError(f"the MMD estimate needs at least 2 samples on each side, got {n} and {m}")
    # Differences rather than torch.cdist: cdist's gradient is undefined at the zero distances of the diagonals.
    xx = (x[:, None] - x[None]).pow(2).sum(-1)
    yy = (y[:, None] - y[None]).pow(2).sum(-1)
    xy = (x[:, None] - y[None]).pow(2).sum(-1)
    total = x.new_zeros(())
    for scale in scales:
        c = 2 * d * prior_var * scale
        kxx, kyy, kxy = c / (c + xx), c / (c + yy), c / (c + xy)
        total = total + (kxx.sum() - kxx.diagonal().sum()) / (n * (n - 1)) \
            + (kyy.sum() - kyy.diagonal().sum()) / (m * (m - 1)) - 2 * kxy.mean()
    return total


class WAE(PixelModel, nn.Module):
    """Encoder, decoder and (WAE-GAN) latent adversary; `encode`, `decode`, `reconstruct`, `generate`."""

    model_name = "wae"
    config_class = WAEConfig

    def __init__(self, config: WAEConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        # The encoder normalises its input layer too (the WAE paper's encoder has BatchNorm after every convolution).
        self.encoder = ConvEncoder(config.channels, config.image_size, config.width, config.latent_dim, slope=0.0,
                                   norm_first=True)
        self.decoder = ConvDecoder(config.latent_dim, config.channels, config.image_size, config.width)
        if config.penalty == "gan":
            layers: list[nn.Module] = []
            width = config.latent_dim
            for _ in range(config.adversary_depth):
                layers += [nn.Linear(width, config.adversary_width), nn.ReLU(inplace=True)]
                width = config.adversary_width
            self.adversary = nn.Sequential(*layers, nn.Linear(width, 1))
        dcgan_init(self)

    @property
    def latent_scale(self) -> float:
        return self.config.prior_std

    def encode(self, images: Tensor) -> Tensor:
        return self.encoder(images)

    def decode(self, z: Tensor) -> Tensor:
        return self.decoder(z)

    def decode_codes(self, codes: Tensor) -> Tensor:
        return self.decoder(codes)

    def forward(self, images: Tensor) -> Tensor:
        return self.decoder(self.encoder(images))

    # ------------------------------------------------------------------ losses

    def reconstruction_cost(self, images: Tensor, codes: Tensor) -> tuple[Tensor, Tensor]:
        """The weighted cost c(x, G(z)) (mean over the batch of each image's summed squared error) and the plain
        mean squared error per pixel (for the logs)."""
        squared = (images - self.decoder(codes)).pow(2).flatten(1)
        return self.config.recon_weight * squared.sum(1).mean(), squared.mean().detach()

    def adversary_logits(self, z: Tensor) -> Tensor:
        return self.adversary(z).squeeze(1)

    def penalty(self, codes: Tensor) -> tuple[Tensor, str]:
        """lambda * D_Z(Q_Z, P_Z) as the autoencoder's loss sees it, and its name in the logs."""
        config = self.config
        if config.penalty == "mmd":
            prior = self.sample_latent(len(codes))
            return config.mmd_weight * imq_mmd(codes, prior, config.prior_std**2), "mmd"
        logits = self.adversary_logits(codes)
        return config.gan_weight * F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits)), "gan_penalty"

    def adversary_loss(self, codes: Tensor) -> Tensor:
        """The latent discriminator's loss: prior samples are real (1), codes fake (0)."""
        prior_logits = self.adversary_logits(self.sample_latent(len(codes)))
        code_logits = self.adversary_logits(codes.detach())
        return (F.binary_cross_entropy_with_logits(prior_logits, torch.ones_like(prior_logits))
                + F.binary_cross_entropy_with_logits(code_logits, torch.zeros_like(code_logits)))

    def autoencoder_loss(self, images: Tensor) -> dict[str, Tensor]:
        codes = self.encoder(images)
        recon, mse = self.reconstruction_cost(images, codes)
        penalty, name = self.penalty(codes)
        return {"loss": recon + penalty, "recon": recon.detach(), name: penalty.detach(), "mse": mse}

    # ------------------------------------------------------------------ engine contract

    def configure_optimizers(self) -> list[tuple[torch.optim.Optimizer, None]]:
        autoencoder = self.adam([*self.encoder.parameters(), *self.decoder.parameters()])
        if self.config.penalty == "mmd":
            return [(autoencoder, None)]
        return [(self.adam(self.adversary.parameters(), self.config.adversary_lr), None), (autoencoder, None)]

    def training_step(self, batch: dict[str, Tensor], step: int, optimizer_idx: int = 0) -> dict[str, Tensor]:
        images = batch["images"]
        self.remember_preview(images)
        if self.config.penalty == "gan" and optimizer_idx == 0:
            loss = self.adversary_loss(self.encoder(images))
            return {"loss": loss, "adversary_loss": loss.detach()}
        return self.autoencoder_loss(images)

    @torch.no_grad()
    def evaluate(self, batch: dict[str, Tensor]) -> dict[str, float]:
        """The autoencoder's objective on held-out images. The MMD needs two codes: a lone image (the tail of a
        validation set) counts with its reconstruction cost alone."""
        images = batch["images"]
        if self.config.penalty == "mmd" and len(images) < 2:
            recon, mse = self.reconstruction_cost(images, self.encoder(images))
            return {"loss": float(recon), "recon": float(recon), "mmd": 0.0, "mse": float(mse)}
        return {key: float(value) for key, value in self.autoencoder_loss(images).items()}

    def example_input(self) -> Tensor:
        size = self.config.image_size
        return self.decoder.project[0].weight.new_zeros(2, self.config.channels, size, size)
