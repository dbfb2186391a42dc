"""What the pixel models (DCGAN, WAE, BEGAN) share beyond the engine contract: config checks, the latent prior,
generation, reconstruction errors and the image grids they log to TensorBoard.

Images are float tensors (B, C, S, S) in [-1, 1], C = 1 (grayscale) or 3 (RGB); batches are
`{"images": ..., "labels": ...}` as `data.raster.ImageBatches` makes them.

A model provides `decode(z)` (latent -> image, what `generate` samples through). Autoencoders (WAE; BEGAN's
discriminator) also provide `encode(images) -> codes` and `decode_codes(codes) -> images`, which `reconstruct`,
`reconstruction_error` and the latent interpolations use.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, ClassVar

import torch
from torch import Tensor, nn

from sketchlab.errors import ConfigError
from sketchlab.models.pretrained import Pretrained

if TYPE_CHECKING:
    import numpy as np

LATENT_PRIORS = ("uniform", "normal")
PREVIEW = 16  # images per TensorBoard grid


def check_positive_ints(config, *names: str) -> None:
    for name in names:
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{name} must be a positive integer, got {value!r}")


def check_positive_floats(config, *names: str) -> None:
    for name in names:
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise ConfigError(f"{name} must be a positive number, got {value!r}")


def check_common(config) -> None:
    """The settings every pixel model config has: image shape, latent, batch size, learning rate, Adam's betas."""
    check_positive_ints(config, "latent_dim", "batch_size", "width")
    check_positive_floats(config, "lr")
    check_channels(config, "channels")
    if config.latent_prior not in LATENT_PRIORS:
        raise ConfigError(f"latent_prior must be one of {', '.join(LATENT_PRIORS)}, got {config.latent_prior!r}")
    check_betas(config)


def check_channels(config, *names: str) -> None:
    for name in names:
        if getattr(config, name) not in (1, 3):
            raise ConfigError(f"{name} must be 1 (grayscale) or 3 (RGB), got {getattr(config, name)!r}")


def check_betas(config) -> None:
    for name in ("beta1", "beta2"):
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
            raise ConfigError(f"{name} must be in [0, 1), got {value!r}")


def sample_prior(kind: str, n: int, dim: int, scale: float = 1.0, device=None,
                 generator: torch.Generator | None = None) -> Tensor:
    """`n` latent vectors: uniform in [-scale, scale] (DCGAN's, BEGAN's) or normal with std `scale` (WAE's)."""
    if kind == "uniform":
        return (torch.rand(n, dim, device=device, generator=generator) * 2 - 1) * scale
    return torch.randn(n, dim, device=device, generator=generator) * scale


@contextlib.contextmanager
def evaluating(module: nn.Module) -> Iterator[None]:
    """Eval mode (BatchNorm's running statistics) without gradients; the previous mode comes back afterwards."""
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        module.train(was_training)


class PixelModel(Pretrained):
    """Mixin for the pixel models (with `Pretrained`'s model folders); see the module docstring."""

    recon_power: ClassVar[int] = 2  # reconstruction error: mean |x - x'|^p per pixel (the model's training cost)

    @property
    def latent_scale(self) -> float:
        return 1.0

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @property
    def can_encode(self) -> bool:
        return hasattr(self, "encode")

    def sample_latent(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        config = self.config
        return sample_prior(config.latent_prior, n, config.latent_dim, self.latent_scale, self.device, generator)

    def seeded_latent(self, n: int, seed: int | None) -> Tensor:
        """`n` prior samples, the same ones for the same seed (None: from torch's global generator)."""
        generator = None if seed is None else torch.Generator(self.device).manual_seed(seed)
        return self.sample_latent(n, generator)

    def generate(self, n: int, seed: int | None = None) -> Tensor:
        """`n` new images (n, C, S, S) in [-1, 1] decoded from prior samples, in eval mode."""
        with evaluating(self):
            return self.decode(self.seeded_latent(n, seed))

    def reconstruct(self, images: Tensor) -> Tensor:
        """Images through the autoencoder, in eval mode."""
        with evaluating(self):
            return self.decode_codes(self.encode(images.to(self.device)))

    def reconstruction_error(self, images: Tensor) -> Tensor:
        """Per image (B,): mean |x - reconstruction|^recon_power over its pixels, in eval mode."""
        images = images.to(self.device)
        return (images - self.reconstruct(images)).abs().pow(self.recon_power).flatten(1).mean(1)

    def remember_preview(self, images: Tensor) -> None:
        """Keep the first training images seen, to show them (and their reconstructions) in every image log."""
        if getattr(self, "_preview", None) is None:
            self._preview = images[:PREVIEW].detach().clone()

    def log_images(self, step: int) -> dict[str, np.ndarray]:
        """Generated (the same latents every time, so progress shows), real and reconstructed image grids."""
        from sketchlab.render import image_grid

        grids = {"generated": image_grid(self.generate(PREVIEW, seed=0))}
        preview = getattr(self, "_preview", None)
        if preview is not None:
            grids["real"] = image_grid(preview)
            if self.can_encode:
                grids["reconstructed"] = image_grid(self.reconstruct(preview))
        return grids

    def adam(self, parameters, lr: float | None = None) -> torch.optim.Adam:
        return torch.optim.Adam(parameters, lr=lr or self.config.lr, betas=(self.config.beta1, self.config.beta2))
