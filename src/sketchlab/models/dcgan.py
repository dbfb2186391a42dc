"""DCGAN: Radford, Metz & Chintala 2016, "Unsupervised Representation Learning with Deep Convolutional Generative
Adversarial Networks".

Generator: z (100, uniform in [-1, 1]) -> linear -> 4x4x512 -> transposed 4x4 convolutions of stride 2 with BatchNorm
and ReLU -> 64x64 with tanh. Discriminator: the mirror image, strided convolutions with LeakyReLU (slope 0.2) and
BatchNorm (none on its input layer) -> one logit. Both trained with Adam (lr 2e-4, beta1 0.5; 1e-4 is the usual
gentler choice) on the standard non-saturating losses; weights start from N(0, 0.02).

Engine contract (docs/conventions.md): optimiser 0 updates the discriminator, optimiser 1 the generator, each on its
own fresh latent batch. Batches are `{"images": (B, C, S, S) in [-1, 1], ...}`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sketchlab.models.conv_blocks import ConvDecoder, ConvEncoder, conv_depth, dcgan_init
from sketchlab.models.pixel import PixelModel, check_common, check_positive_floats, check_positive_ints


@dataclass
class DCGANConfig:
    image_size: int = 64
    channels: int = 3
    latent_dim: int = 100
    latent_prior: str = "uniform"  # uniform in [-1, 1] (the paper) | normal
    width: int = 64  # generator: channels before its output layer, doubling towards 4x4 (512 at 64x64)
    disc_width: int = 64  # discriminator: channels after its input layer, doubling towards 4x4
    leaky_slope: float = 0.2
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    batch_size: int = 128

    def validate(self) -> None:
        """Raise ConfigError (a ValueError) naming the first absurd setting."""
        conv_depth(self.image_size)
        check_common(self)
        check_positive_ints(self, "disc_width")
        check_positive_floats(self, "leaky_slope")


class DCGAN(PixelModel, nn.Module):
    """Generator and discriminator of the DCGAN paper; `generate(n)` draws images."""

    model_name = "dcgan"
    config_class = DCGANConfig

    def __init__(self, config: DCGANConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        self.generator = ConvDecoder(config.latent_dim, config.channels, config.image_size, config.width)
        self.discriminator = ConvEncoder(config.channels, config.image_size, config.disc_width, 1,
                                         slope=config.leaky_slope, norm_first=False)
        dcgan_init(self)

    def decode(self, z: Tensor) -> Tensor:
        return self.generator(z)

    def forward(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """Images from z and the discriminator's logits on them: both players in one graph (for TensorBoard)."""
        images = self.generator(z)
        return images, self.discriminator(images).squeeze(1)

    # ------------------------------------------------------------------ engine contract

    def configure_optimizers(self) -> list[tuple[torch.optim.Optimizer, None]]:
        return [(self.adam(self.discriminator.parameters()), None), (self.adam(self.generator.parameters()), None)]

    def discriminator_loss(self, real: Tensor) -> dict[str, Tensor]:
        fake = self.generator(self.sample_latent(len(real))).detach()
        # Real and fake go through the discriminator as two separate batches. Its BatchNorm normalises with the
        # statistics of the batch it sees: in a mixed batch those statistics would carry the real/fake proportion
        # and let each image's output depend on the others' class, a shortcut the generator's all-fake batches
        # never offer; separate batches keep both players seeing the same kind of statistics (Radford et al.;
        # Chintala's "GAN hacks").
        real_logits = self.discriminator(real).squeeze(1)
        fake_logits = self.discriminator(fake).squeeze(1)
        loss = (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
                + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))
        return {"loss": loss, "d_loss": loss.detach(), "d_real": torch.sigmoid(real_logits).mean().detach(),
                "d_fake": torch.sigmoid(fake_logits).mean().detach()}

    def generator_loss(self, n: int) -> dict[str, Tensor]:
        logits = self.discriminator(self.generator(self.sample_latent(n))).squeeze(1)
        # Non-saturating: maximise log D(G(z)) rather than minimise log(1 - D(G(z))), which has no gradient early on.
        loss = F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))
        return {"loss": loss, "g_loss": loss.detach()}

    def training_step(self, batch: dict[str, Tensor], step: int, optimizer_idx: int = 0) -> dict[str, Tensor]:
        real = batch["images"]
        if optimizer_idx == 0:
            self.remember_preview(real)
            return self.discriminator_loss(real)
        return self.generator_loss(len(real))

    @torch.no_grad()
    def evaluate(self, batch: dict[str, Tensor]) -> dict[str, float]:
        """The discriminator's loss on held-out real images and fresh fakes (a discriminator that memorised the
        training images shows here), and the generator's."""
        d = self.discriminator_loss(batch["images"])
        g = self.generator_loss(len(batch["images"]))
        return {"loss": float(d["loss"]), "d_real": float(d["d_real"]), "d_fake": float(d["d_fake"]),
                "g_loss": float(g["loss"])}

    def example_input(self) -> Tensor:
        return self.sample_latent(2)
