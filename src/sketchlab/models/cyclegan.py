"""CycleGAN: Zhu, Park, Isola & Efros 2017, "Unpaired Image-to-Image Translation using Cycle-Consistent Adversarial
Networks".

Two generators, G_AB: A -> B and G_BA: B -> A, each a ResNet (Johnson et al.): a 7x7 convolution, two 3x3
convolutions of stride 2, residual blocks (6 below 256 px, 9 from 256 px), two fractionally strided 3x3 convolutions
and a 7x7 convolution to tanh, with instance normalisation and reflection padding. Two PatchGAN discriminators, D_A
and D_B: 4x4 convolutions, `disc_layers` of them with stride 2, then two of stride 1, one score per image patch; three
stride-2 layers see 70x70 patches (the paper's, at 256 px); by default the patch keeps that share of the image side
(34x34 at 128 px, 16x16 at 64 px and below). Losses: least squares for both players, L1 cycle consistency weighted
`lambda_cycle` (10) and the identity loss weighted `lambda_identity` * `lambda_cycle` (0.5 * 10); the discriminators
see generated images through a history pool of 50 (`ImagePool`, checkpointed with the run). Adam (lr 2e-4, beta1
0.5) for both, the learning rate constant for the first half of `lr_schedule_steps` and then linearly down to 0 (the
paper's 100 + 100 epochs).

Engine contract (docs/conventions.md): batches are `{"a": (B, C_A, S, S), "b": (B, C_B, S, S)}` in [-1, 1], two
unpaired images per item (`data.images.PairedImageBatches`); optimiser 0 updates both generators, optimiser 1 both
discriminators on the images the generators made in the same step. The domains may differ in channels (grayscale
doodles -> RGB emoji); the identity loss, which feeds a B image to G_AB, then does not apply and is left out.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sketchlab.errors import ConfigError
from sketchlab.models.conv_blocks import dcgan_init
from sketchlab.models.pixel import check_betas, check_channels, check_positive_floats, check_positive_ints, evaluating
from sketchlab.models.pretrained import Pretrained

DIRECTIONS = ("AtoB", "BtoA")
PREVIEW = 8  # image triplets per TensorBoard grid


@dataclass
class CycleGANConfig:
    image_size: int = 64
    channels_a: int = 3
    channels_b: int = 3
    width: int = 64  # generator: channels of its first convolution, doubled by each of its two downsamplings
    resnet_blocks: int = 0  # 0: the paper's for the image size (9 from 256 px, else 6)
    disc_width: int = 64  # discriminator: channels of its first convolution, doubling up to 8x
    disc_layers: int = 0  # stride-2 convolutions; 0: the patch keeps the paper's 70/256 of the image side
    lambda_cycle: float = 10.0
    lambda_identity: float = 0.5  # times lambda_cycle; 0 turns the identity loss off
    pool_size: int = 50  # generated images the discriminators draw from; 0: only the newest
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    lr_schedule_steps: int = 0  # constant LR for the first half, linear decay to 0 over the second; 0: constant
    batch_size: int = 1

    def validate(self) -> None:
        """Raise ConfigError (a ValueError) naming the first absurd setting."""
        check_positive_ints(self, "image_size", "width", "disc_width", "batch_size")
        check_channels(self, "channels_a", "channels_b")
        check_positive_floats(self, "lr", "lambda_cycle")
        check_betas(self)
        for name in ("resnet_blocks", "disc_layers", "pool_size", "lr_schedule_steps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"{name} must be a non-negative integer, got {value!r}")
        if isinstance(self.lambda_identity, bool) or not isinstance(self.lambda_identity, (int, float)) \
                or not 0 <= self.lambda_identity < float("inf"):
            raise ConfigError(f"lambda_identity must be a non-negative number, got {self.lambda_identity!r}")
        if self.image_size % 4 or self.image_size < 16:
            raise ConfigError(f"image_size must be a multiple of 4, at least 16, got {self.image_size!r}")
        # Two stride-1 4x4 convolutions follow the stride-2 ones, each one pixel smaller: at least 1x1 must remain.
        if self.image_size // 2 ** self.patch_layers < 3:
            raise ConfigError(f"{self.patch_layers} discriminator layers leave no patch of a {self.image_size} px image")

    @property
    def blocks(self) -> int:
        return self.resnet_blocks or (9 if self.image_size >= 256 else 6)

    @property
    def patch_layers(self) -> int:
        if self.disc_layers:
            return self.disc_layers
        fitting = [n for n in range(1, 8) if patch_size(n) <= self.image_size * 70 / 256]
        return max(fitting, default=1)


def patch_size(layers: int) -> int:
    """The side of the image patch one PatchGAN output sees (its receptive field): 70 for 3 stride-2 layers."""
    size = 1 + 3 + 3  # the two stride-1 4x4 convolutions on top
    for _ in range(layers):
        size = size * 2 + 2
    return size


def lsgan_loss(scores: Tensor, real: bool) -> Tensor:
    """Least squares: mean (D(x) - 1)^2 for images to call real, mean D(x)^2 for fakes."""
    return F.mse_loss(scores, torch.full_like(scores, float(real)))


class ImagePool:
    """The paper's history of generated images (Shrivastava et al. 2017): until `size` images are stored, each new
    image is stored and returned; afterwards each is, with probability 1/2, swapped for a random stored image (which
    is returned instead), else returned as is. Draws from torch's global generator, which checkpoints restore; the
    stored images go into checkpoints through `state_dict` (the model's `training_state`), so a resumed run draws
    from the same history as an uninterrupted one."""

    def __init__(self, size: int = 50) -> None:
        self.size = size
        self.images: list[Tensor] = []

    def query(self, images: Tensor) -> Tensor:
        out = []
        for image in images.detach():
            if len(self.images) < self.size:
                self.images.append(image.clone())
                out.append(image)
            elif self.size and torch.rand(()) < 0.5:
                i = int(torch.randint(self.size, ()))
                out.append(self.images[i])
                self.images[i] = image.clone()
            else:
                out.append(image)
        return torch.stack(out)

    def state_dict(self) -> dict[str, Tensor]:
        """The stored images, in order, as one tensor (N, C, H, W) on the CPU; (0,) while empty."""
        return {"images": torch.stack(self.images).cpu() if self.images else torch.zeros(0)}

    def load_state_dict(self, state: dict[str, Tensor], device: torch.device | str = "cpu") -> None:
        self.images = [image.to(device) for image in state["images"]]


def _norm_relu(channels: int) -> list[nn.Module]:
    return [nn.InstanceNorm2d(channels), nn.ReLU(inplace=True)]


class ResidualBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), *_norm_relu(channels),
                                  nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), nn.InstanceNorm2d(channels))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class ResnetGenerator(nn.Sequential):
    """Image (B, c_in, S, S) -> image (B, c_out, S, S) in [-1, 1] (S a multiple of 4)."""

    def __init__(self, c_in: int, c_out: int, width: int, blocks: int) -> None:
        layers = [nn.ReflectionPad2d(3), nn.Conv2d(c_in, width, 7), *_norm_relu(width)]
        for i in range(2):
            layers += [nn.Conv2d(width * 2**i, width * 2 ** (i + 1), 3, 2, 1), *_norm_relu(width * 2 ** (i + 1))]
        layers += [ResidualBlock(width * 4) for _ in range(blocks)]
        for i in reversed(range(2)):
            layers += [nn.ConvTranspose2d(width * 2 ** (i + 1), width * 2**i, 3, 2, 1, output_padding=1),
                       *_norm_relu(width * 2**i)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(width, c_out, 7), nn.Tanh()]
        super().__init__(*layers)


class PatchDiscriminator(nn.Sequential):
    """Image -> (B, 1, P, P) real/fake scores, one per overlapping patch of `patch_size(layers)` pixels."""

    def __init__(self, channels: int, width: int, layers: int, slope: float = 0.2) -> None:
        widths = [width * min(2**i, 8) for i in range(layers + 1)]
        modules: list[nn.Module] = [nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(slope, inplace=True)]
        for i in range(1, layers + 1):
            stride = 2 if i < layers else 1
            modules += [nn.Conv2d(widths[i - 1], widths[i], 4, stride, 1), nn.InstanceNorm2d(widths[i]),
                        nn.LeakyReLU(slope, inplace=True)]
        modules += [nn.Conv2d(widths[-1], 1, 4, 1, 1)]
        super().__init__(*modules)


def _gray_to_rgb(images: Tensor) -> Tensor:
    return images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images


def side_by_side(*columns: Tensor) -> Tensor:
    """Images of the columns interleaved row by row (an `image_grid` with `ncols=len(columns)` shows them as rows),
    grayscale ones as RGB so both domains fit one picture."""
    return torch.stack([_gray_to_rgb(c.detach().cpu()) for c in columns], dim=1).flatten(0, 1)


class CycleGAN(Pretrained, nn.Module):
    """Two generators and two PatchGAN discriminators; `translate(images, "AtoB")` maps images across."""

    model_name = "cyclegan"
    config_class = CycleGANConfig

    def __init__(self, config: CycleGANConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        self.gen_ab = ResnetGenerator(config.channels_a, config.channels_b, config.width, config.blocks)
        self.gen_ba = ResnetGenerator(config.channels_b, config.channels_a, config.width, config.blocks)
        self.disc_a = PatchDiscriminator(config.channels_a, config.disc_width, config.patch_layers)
        self.disc_b = PatchDiscriminator(config.channels_b, config.disc_width, config.patch_layers)
        dcgan_init(self)  # N(0, 0.02), as the paper's code
        self.pool_a, self.pool_b = ImagePool(config.pool_size), ImagePool(config.pool_size)
        self._fakes: tuple[int, Tensor, Tensor] | None = None
        self._preview: tuple[Tensor, Tensor] | None = None

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def forward(self, real_a: Tensor) -> tuple[Tensor, Tensor]:
        """A -> B -> A: the translation and the reconstruction (for TensorBoard's graph)."""
        fake_b = self.gen_ab(real_a)
        return fake_b, self.gen_ba(fake_b)

    def translate(self, images: Tensor, direction: str = "AtoB") -> Tensor:
        """Images of one domain as the other, in eval mode."""
        if direction not in DIRECTIONS:
            raise ConfigError(f"direction must be {' or '.join(DIRECTIONS)}, got {direction!r}")
        generator, channels = ((self.gen_ab, self.config.channels_a) if direction == "AtoB"
                               else (self.gen_ba, self.config.channels_b))
        if images.shape[1] != channels:
            raise ConfigError(f"{direction} takes images with {channels} channel(s), got {images.shape[1]}")
        with evaluating(self):
            return generator(images.to(self.device))

    # ------------------------------------------------------------------ engine contract

    def configure_optimizers(self) -> list[tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]]:
        config = self.config

        def adam(*modules: nn.Module) -> torch.optim.Adam:
            parameters = [p for module in modules for p in module.parameters()]
            return torch.optim.Adam(parameters, lr=config.lr, betas=(config.beta1, config.beta2))

        def linear_decay(step: int) -> float:
            if not config.lr_schedule_steps:
                return 1.0
            constant = config.lr_schedule_steps // 2
            return max(0.0, 1 - max(0, step - constant) / (config.lr_schedule_steps - constant))

        optimizers = [adam(self.gen_ab, self.gen_ba), adam(self.disc_a, self.disc_b)]
        return [(optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, linear_decay)) for optimizer in optimizers]

    def cycle_loss(self, real_a: Tensor, real_b: Tensor, fake_a: Tensor, fake_b: Tensor) -> Tensor:
        """||G_BA(G_AB(a)) - a||_1 + ||G_AB(G_BA(b)) - b||_1 (mean per pixel), given the translations."""
        return F.l1_loss(self.gen_ba(fake_b), real_a) + F.l1_loss(self.gen_ab(fake_a), real_b)

    def identity_loss(self, real_a: Tensor, real_b: Tensor) -> Tensor:
        """||G_BA(a) - a||_1 + ||G_AB(b) - b||_1: each generator should leave its own target domain alone."""
        if self.config.channels_a != self.config.channels_b or not self.config.lambda_identity:
            return real_a.new_zeros(())
        return F.l1_loss(self.gen_ba(real_a), real_a) + F.l1_loss(self.gen_ab(real_b), real_b)

    def generator_losses(self, real_a: Tensor, real_b: Tensor) -> tuple[dict[str, Tensor], Tensor, Tensor]:
        """The generators' losses, and the translations `fake_a = G_BA(b)`, `fake_b = G_AB(a)` they were made on."""
        config = self.config
        fake_b, fake_a = self.gen_ab(real_a), self.gen_ba(real_b)
        adversarial = lsgan_loss(self.disc_b(fake_b), True) + lsgan_loss(self.disc_a(fake_a), True)
        cycle = self.cycle_loss(real_a, real_b, fake_a, fake_b)
        identity = self.identity_loss(real_a, real_b)
        loss = adversarial + config.lambda_cycle * cycle + config.lambda_identity * config.lambda_cycle * identity
        metrics = {"g_adversarial": adversarial.detach(), "cycle": cycle.detach(), "identity": identity.detach()}
        return {"loss": loss, **metrics}, fake_a, fake_b

    def discriminator_losses(self, real_a: Tensor, real_b: Tensor, fake_a: Tensor, fake_b: Tensor) -> dict[str, Tensor]:
        """Each discriminator: (least squares on real + on fake) / 2, the paper's halving that slows D against G."""
        d_a = (lsgan_loss(self.disc_a(real_a), True) + lsgan_loss(self.disc_a(fake_a.detach()), False)) / 2
        d_b = (lsgan_loss(self.disc_b(real_b), True) + lsgan_loss(self.disc_b(fake_b.detach()), False)) / 2
        return {"loss": d_a + d_b, "d_a": d_a.detach(), "d_b": d_b.detach()}

    def training_step(self, batch: dict[str, Tensor], step: int, optimizer_idx: int = 0) -> dict[str, Tensor]:
        real_a, real_b = batch["a"], batch["b"]
        if optimizer_idx == 0:
            if self._preview is None:
                self._preview = (real_a[:PREVIEW].detach().clone(), real_b[:PREVIEW].detach().clone())
            out, fake_a, fake_b = self.generator_losses(real_a, real_b)
            self._fakes = (step, fake_a.detach(), fake_b.detach())
            return out
        if self._fakes is None or self._fakes[0] != step:
            # The discriminators learn on what the generators made this step; without a generator pass, make it.
            with torch.no_grad():
                self._fakes = (step, self.gen_ba(real_b), self.gen_ab(real_a))
        _, fake_a, fake_b = self._fakes
        return self.discriminator_losses(real_a, real_b, self.pool_a.query(fake_a), self.pool_b.query(fake_b))

    def training_state(self) -> dict[str, dict[str, Tensor]]:
        """The two image pools: the discriminators' next inputs depend on them, so the engine checkpoints them."""
        return {"pool_a": self.pool_a.state_dict(), "pool_b": self.pool_b.state_dict()}

    def load_training_state(self, state: dict[str, dict[str, Tensor]]) -> None:
        self.pool_a.load_state_dict(state["pool_a"], self.device)
        self.pool_b.load_state_dict(state["pool_b"], self.device)

    @torch.no_grad()
    def evaluate(self, batch: dict[str, Tensor]) -> dict[str, float]:
        """Both players' losses on held-out pairs (fresh translations, no pool); "loss" is the cycle loss."""
        g, fake_a, fake_b = self.generator_losses(batch["a"], batch["b"])
        d = self.discriminator_losses(batch["a"], batch["b"], fake_a, fake_b)
        return {"loss": float(g["cycle"]), "g_adversarial": float(g["g_adversarial"]),
                "identity": float(g["identity"]), "d_a": float(d["d_a"]), "d_b": float(d["d_b"])}

    def log_images(self, step: int) -> dict:
        """For both directions, rows of real / translated / reconstructed images (the first training images seen)."""
        from sketchlab.render import image_grid

        if self._preview is None:
            return {}
        real_a, real_b = self._preview
        grids = {}
        with evaluating(self):
            for direction, real, there, back in (("AtoB", real_a, self.gen_ab, self.gen_ba),
                                                 ("BtoA", real_b, self.gen_ba, self.gen_ab)):
                translated = there(real)
                grids[direction] = image_grid(side_by_side(real, translated, back(translated)), ncols=3)
        return grids

    def example_input(self) -> Tensor:
        return torch.zeros(1, self.config.channels_a, self.config.image_size, self.config.image_size,
                           device=self.device)
