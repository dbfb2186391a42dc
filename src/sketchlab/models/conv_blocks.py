"""DCGAN-style convolution stacks shared by the pixel models (Radford et al. 2016, section 3 and figure 1).

`ConvEncoder`: image (B, C, S, S) -> 4x4 convolutions of stride 2, each halving the side and doubling the width, down
to 4x4 -> a linear map to `out_dim`. `ConvDecoder` mirrors it: a linear map to 4x4 -> transposed 4x4 convolutions of
stride 2 up to S x S -> tanh, so images come out in [-1, 1] like the data. With `width=64` and S=64 the hidden widths
are 64, 128, 256, 512: the DCGAN paper's. The image side must be a power of two, at least 8.

`dcgan_init` is the paper's weight initialisation.
"""

from __future__ import annotations

import math

from torch import Tensor, nn

from sketchlab.errors import ConfigError


def conv_depth(image_size: int, smallest: int = 4) -> int:
    """How many halvings take `image_size` down to `smallest` (ConfigError unless a power of two above it)."""
    valid = isinstance(image_size, int) and not isinstance(image_size, bool) and image_size > 0
    depth = math.log2(image_size / smallest) if valid else -1
    if depth < 1 or depth != int(depth):
        raise ConfigError(f"image_size must be a power of two, at least {2 * smallest}, got {image_size!r}")
    return int(depth)


def dcgan_init(module: nn.Module) -> None:
    """The DCGAN paper's initialisation: weights from N(0, 0.02); BatchNorm scales from N(1, 0.02), shifts 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def _activation(slope: float) -> nn.Module:
    return nn.LeakyReLU(slope, inplace=True) if slope > 0 else nn.ReLU(inplace=True)


class ConvEncoder(nn.Module):
    """Image -> vector: strided 4x4 convolutions (BatchNorm, ReLU or LeakyReLU of `slope`) down to 4x4, then linear.

    `norm_first=False` leaves the first layer without BatchNorm, as the DCGAN discriminator's input layer.
    """

    def __init__(self, channels: int, image_size: int, width: int, out_dim: int, slope: float = 0.2,
                 norm_first: bool = False) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = channels
        for i in range(conv_depth(image_size)):
            c_out = width * 2**i
            norm = norm_first or i > 0
            # No bias even without BatchNorm: with one, a DCGAN discriminator learns a threshold just above -1 and tells
            # real images (background exactly -1) from tanh outputs (never exactly -1) by that alone, leaving the
            # generator no useful gradient (the DCGAN code has no biases either).
            layers += [nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False)]
            layers += [nn.BatchNorm2d(c_out)] if norm else []
            layers += [_activation(slope)]
            c_in = c_out
        self.features = nn.Sequential(*layers)
        self.out = nn.Linear(c_in * 16, out_dim)

    def forward(self, images: Tensor) -> Tensor:
        return self.out(self.features(images).flatten(1))


class ConvDecoder(nn.Module):
    """Vector -> image in [-1, 1]: linear to 4x4 (BatchNorm, ReLU), transposed 4x4 convolutions of stride 2 with
    BatchNorm and ReLU, the last one to `channels` with tanh (no BatchNorm on the output, as in DCGAN)."""

    def __init__(self, in_dim: int, channels: int, image_size: int, width: int) -> None:
        super().__init__()
        depth = conv_depth(image_size)
        self.top = width * 2 ** (depth - 1)
        # The projection keeps its bias, one per channel and position (BatchNorm only shifts whole channels): without
        # it the code 0, a normal prior's mode, decodes to a blank picture (seen in a 2-D WAE's latent plane).
        self.project = nn.Sequential(nn.Linear(in_dim, self.top * 16), nn.Unflatten(1, (self.top, 4, 4)),
                                     nn.BatchNorm2d(self.top), nn.ReLU(inplace=True))
        layers: list[nn.Module] = []
        for i in reversed(range(depth - 1)):
            c_in, c_out = width * 2 ** (i + 1), width * 2**i
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out),
                       nn.ReLU(inplace=True)]
        layers += [nn.ConvTranspose2d(width, channels, 4, 2, 1), nn.Tanh()]
        self.layers = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        return self.layers(self.project(z))
