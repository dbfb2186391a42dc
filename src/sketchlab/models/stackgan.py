"""StackGAN: Zhang et al. 2017, "StackGAN: Text to Photo-realistic Image Synthesis with Stacked Generative
Adversarial Networks".

Text: a bag of learned word embeddings phi (the mean over the words of a prompt; the paper uses a pre-trained
char-CNN-RNN encoder, none is shipped here). The vocabulary is built from the training texts and kept in the config;
unknown words map to `<unk>`, whose embedding is zero.

Conditioning augmentation: phi -> linear -> (mu, log sigma^2) -> c = mu + sigma * eps, eps ~ N(0, I), with
lambda * KL(N(mu, sigma^2) || N(0, I)) added to the generator's loss (lambda 1).

Stage I: (z ~ N(0, I), c) -> the DCGAN-style generator of `conv_blocks` -> a rough `image_size` picture (64).
Stage II: the Stage-I picture, encoded down to a quarter of its side, joined with its own conditioning
augmentation's c, residual blocks, then upsampled to `upscale` times the Stage-I side (4: 256 px in the paper).
Each stage has a matching-aware discriminator: image features at 4x4 joined with the (compressed, spatially
replicated) condition mean mu; real image + its text = real, real image + another text = fake, generated image +
its text = fake (loss: real + (wrong + fake) / 2, as the authors' code).

Stages train in turn, as in the paper: `stage=1` trains phi, Stage I's conditioning and generator; `stage=2` takes
them from a trained Stage-I model (`load_stage_one`), frozen, and trains Stage II. A Stage-II model folder holds
both stages. Engine contract: optimiser 0 updates the discriminator, optimiser 1 the generator. Batches are
`{"images": (B, C, S, S) in [-1, 1], "tokens": (B, L) word ids, 0 = padding}` (S: the training stage's size).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sketchlab.errors import ConfigError, DataError
from sketchlab.models.conv_blocks import ConvDecoder, ConvEncoder, conv_depth, dcgan_init
from sketchlab.models.pixel import (
    PREVIEW,
    PixelModel,
    check_common,
    check_positive_floats,
    check_positive_ints,
    evaluating,
)

PAD, UNK = 0, 1
SPECIALS = ("<pad>", "<unk>")
# Words that say nothing about the picture: "an owl" and "owl" should draw the same thing.
STOPWORDS = frozenset({"a", "an", "the", "of", "with", "and"})
# Fields a Stage-II model must share with the Stage-I model it refines.
STAGE_ONE_FIELDS = ("image_size", "channels", "latent_dim", "latent_prior", "width", "embed_dim", "condition_dim",
                    "vocabulary")


def words(text: str) -> list[str]:
    """Lower-case words of a text, stopwords left out."""
    return [w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in STOPWORDS]


def build_vocabulary(texts) -> list[str]:
    """Every word of the texts, sorted (ids follow the special tokens)."""
    return sorted({w for text in texts for w in words(text)})


@dataclass
class StackGANConfig:
    stage: int = 1  # which stage trains: 1, or 2 on top of a trained (frozen) Stage I
    image_size: int = 64  # Stage I's output side
    upscale: int = 4  # Stage II's output side / Stage I's (64 -> 256 in the paper)
    channels: int = 3
    latent_dim: int = 100
    latent_prior: str = "normal"
    embed_dim: int = 128  # word embeddings (phi)
    condition_dim: int = 128  # c, N_g in the paper
    disc_condition_dim: int = 128  # the discriminators' compressed condition, N_d
    width: int = 128  # Stage-I generator: channels before its output layer, doubling towards 4x4
    disc_width: int = 64  # discriminators: channels after the input layer, doubling towards 4x4
    refine_width: int = 128  # Stage-II generator: channels next to its output; 4x that in the residual blocks
    residual_blocks: int = 4  # Stage II (the authors' code)
    kl_weight: float = 1.0  # lambda
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    batch_size: int = 64
    vocabulary: list[str] = field(default_factory=list)  # filled from the training texts
    stage_one: str = ""  # stage 2: the Stage-I model folder it starts from (then a record: its weights are copied)

    @property
    def output_size(self) -> int:
        return self.image_size * (self.upscale if self.stage == 2 else 1)

    def validate(self) -> None:
        """Raise ConfigError (a ValueError) naming the first absurd setting."""
        if self.stage not in (1, 2):
            raise ConfigError(f"stage must be 1 or 2, got {self.stage!r}")
        conv_depth(self.image_size)
        check_common(self)
        check_positive_ints(self, "upscale", "embed_dim", "condition_dim", "disc_condition_dim", "disc_width",
                            "refine_width", "residual_blocks")
        check_positive_floats(self, "kl_weight")
        if self.upscale & (self.upscale - 1) or self.upscale < 2:
            raise ConfigError(f"upscale must be a power of two, at least 2, got {self.upscale!r}")
        if not isinstance(self.vocabulary, list) or not all(isinstance(w, str) and w for w in self.vocabulary):
            raise ConfigError("vocabulary must be a list of words")


class ConditioningAugmentation(nn.Module):
    """phi -> (mu, log sigma^2) -> c = mu + sigma * eps."""

    def __init__(self, embed_dim: int, condition_dim: int) -> None:
        super().__init__()
        self.fc = nn.Linear(embed_dim, 2 * condition_dim)

    def forward(self, phi: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor, Tensor]:
        mu, logvar = F.relu(self.fc(phi)).chunk(2, dim=1)  # the ReLU of the authors' code
        eps = torch.randn(mu.shape, device=mu.device, generator=generator)
        return mu + torch.exp(0.5 * logvar) * eps, mu, logvar


def kl_divergence(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mu, diag exp(logvar)) || N(0, I)), averaged over batch and dimensions as the authors' code does (the
    paper's per-sample KL divided by the dimension, so lambda does not grow with N_g)."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).mean()


class MatchingDiscriminator(nn.Module):
    """(image, condition mean) -> one logit: does the image look real and match the condition?"""

    def __init__(self, channels: int, image_size: int, width: int, condition_dim: int, compressed_dim: int,
                 slope: float = 0.2) -> None:
        super().__init__()
        self.image = ConvEncoder(channels, image_size, width, 1, slope=slope).features  # (B, F, 4, 4)
        features = width * 2 ** (conv_depth(image_size) - 1)
        self.condition = nn.Sequential(nn.Linear(condition_dim, compressed_dim), nn.LeakyReLU(slope, inplace=True))
        self.joint = nn.Sequential(nn.Conv2d(features + compressed_dim, features, 1, bias=False),
                                   nn.BatchNorm2d(features), nn.LeakyReLU(slope, inplace=True),
                                   nn.Conv2d(features, 1, 4))

    def forward(self, images: Tensor, mu: Tensor) -> Tensor:
        h = self.image(images)
        c = self.condition(mu)[:, :, None, None].expand(-1, -1, *h.shape[2:])
        return self.joint(torch.cat([h, c], dim=1)).flatten()


def _up(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]


class ResidualBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(channels, channels, 3, 1, 1, bias=False), nn.BatchNorm2d(channels),
                                  nn.ReLU(inplace=True), nn.Conv2d(channels, channels, 3, 1, 1, bias=False),
                                  nn.BatchNorm2d(channels))

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(x + self.body(x))


class RefinerGenerator(nn.Module):
    """Stage II: (Stage-I image, c) -> an image `upscale` times larger."""

    def __init__(self, channels: int, width: int, condition_dim: int, residual_blocks: int, upscale: int) -> None:
        super().__init__()
        inner = 4 * width
        self.encode = nn.Sequential(nn.Conv2d(channels, width, 3, 1, 1), nn.ReLU(inplace=True),
                                    nn.Conv2d(width, 2 * width, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * width),
                                    nn.ReLU(inplace=True),
                                    nn.Conv2d(2 * width, inner, 4, 2, 1, bias=False), nn.BatchNorm2d(inner),
                                    nn.ReLU(inplace=True))
        self.joint = nn.Sequential(nn.Conv2d(inner + condition_dim, inner, 3, 1, 1, bias=False),
                                   nn.BatchNorm2d(inner), nn.ReLU(inplace=True),
                                   *(ResidualBlock(inner) for _ in range(residual_blocks)))
        # Two upsamplings undo the encoder's quarter, log2(upscale) more enlarge the picture; widths halve to `width`.
        steps = 2 + conv_depth(upscale, smallest=1)
        widths = [max(width, inner // 2**i) for i in range(steps + 1)]
        layers = [m for i in range(steps) for m in _up(widths[i], widths[i + 1])]
        self.decode = nn.Sequential(*layers, nn.Conv2d(widths[-1], channels, 3, 1, 1), nn.Tanh())

    def forward(self, images: Tensor, c: Tensor) -> Tensor:
        h = self.encode(images)
        h = torch.cat([h, c[:, :, None, None].expand(-1, -1, *h.shape[2:])], dim=1)
        return self.decode(self.joint(h))


def mismatched(tokens: Tensor) -> tuple[Tensor, Tensor]:
    """For each row, another row of the batch with a different text (the nearest one after it, cyclically), and
    whether one exists: real images paired with these texts are the discriminator's "wrong" pairs."""
    n = len(tokens)
    rows = torch.arange(n, device=tokens.device)
    if n == 1:
        return rows, torch.zeros(1, dtype=torch.bool, device=tokens.device)
    differs = (tokens[:, None, :] != tokens[None, :, :]).any(-1)  # (B, B)
    candidates = (rows[:, None] + rows[1:]) % n  # row i's others, from i + 1 on
    usable = differs.gather(1, candidates)
    partner = candidates.gather(1, usable.int().argmax(1, keepdim=True)).squeeze(1)
    return partner, usable.any(1)


class StackGAN(PixelModel, nn.Module):
    """Both stages of StackGAN; `generate(n, seed, prompts)` draws `n` pictures per prompt."""

    model_name = "stackgan"
    config_class = StackGANConfig

    def __init__(self, config: StackGANConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        self.words = nn.EmbeddingBag(len(SPECIALS) + len(config.vocabulary), config.embed_dim, mode="mean",
                                     padding_idx=PAD)
        self.augment1 = ConditioningAugmentation(config.embed_dim, config.condition_dim)
        self.generator1 = ConvDecoder(config.latent_dim + config.condition_dim, config.channels, config.image_size,
                                      config.width)
        if config.stage == 2:
            self.augment2 = ConditioningAugmentation(config.embed_dim, config.condition_dim)
            self.generator2 = RefinerGenerator(config.channels, config.refine_width, config.condition_dim,
                                               config.residual_blocks, config.upscale)
        self.discriminator = MatchingDiscriminator(config.channels, config.output_size, config.disc_width,
                                                   config.condition_dim, config.disc_condition_dim)
        dcgan_init(self)
        with torch.no_grad():
            # Unknown words never occur in training, so their embedding would stay random: zero adds nothing.
            self.words.weight[UNK].zero_()
        self.ids = {w: i for i, w in enumerate(config.vocabulary, start=len(SPECIALS))}
        if config.stage == 2:
            self.stage_one.requires_grad_(False)
        self.train()

    @property
    def stage_one(self) -> nn.ModuleList:
        return nn.ModuleList([self.words, self.augment1, self.generator1])

    def load_stage_one(self, model: StackGAN) -> None:
        """Take phi, Stage I's conditioning augmentation and generator from a trained Stage-I model."""
        clash = [name for name in STAGE_ONE_FIELDS if getattr(model.config, name) != getattr(self.config, name)]
        if model.config.stage != 1 or clash:
            what = f"differs in {', '.join(clash)}" if clash else "is not a Stage-I model"
            raise ConfigError(f"the Stage-I model {what}")
        self.stage_one.load_state_dict(model.stage_one.state_dict())

    def train(self, mode: bool = True) -> StackGAN:
        super().train(mode)
        if self.config.stage == 2:
            self.stage_one.eval()  # frozen: its BatchNorm statistics must stay those Stage I learned
        return self

    # ------------------------------------------------------------------ text

    def tokenize(self, texts: list[str]) -> Tensor:
        """Word ids (len(texts), longest) padded with 0; unknown words are `<unk>`."""
        ids = [[self.ids.get(w, UNK) for w in words(text)] for text in texts]
        width = max([1, *map(len, ids)])
        return torch.tensor([row + [PAD] * (width - len(row)) for row in ids], dtype=torch.long)

    def condition(self, tokens: Tensor, generator: torch.Generator | None = None):
        """(c, mu, logvar) of the training stage's conditioning augmentation, and Stage I's c."""
        phi = self.words(tokens)
        c1, mu1, logvar1 = self.augment1(phi, generator)
        if self.config.stage == 1:
            return (c1, mu1, logvar1), c1
        return self.augment2(phi, generator), c1

    def draw(self, tokens: Tensor, generator: torch.Generator | None = None):
        """Generated images of the training stage, its (mu, logvar), and the Stage-I images."""
        z = self.sample_latent(len(tokens), generator)
        (c, mu, logvar), c1 = self.condition(tokens, generator)
        rough = self.generator1(torch.cat([z, c1], dim=1))
        images = rough if self.config.stage == 1 else self.generator2(rough, c)
        return images, mu, logvar, rough

    def generate(self, n: int, seed: int | None = None, prompts: list[str] | str | None = None) -> Tensor:
        """`n` images per prompt (prompt after prompt), in eval mode: (n * len(prompts), C, S, S) in [-1, 1]."""
        return self.generate_stages(n, seed, prompts)[0]

    def generate_stages(self, n: int, seed: int | None = None, prompts: list[str] | str | None = None):
        """As `generate`, with the Stage-I pictures the final ones grew from."""
        prompts = [prompts] if isinstance(prompts, str) else list(prompts or [])
        if not prompts:
            raise DataError("StackGAN draws from text: give at least one prompt")
        if any(not words(p) for p in prompts):
            raise DataError("a prompt is empty: give a few words, such as a category name")
        tokens = self.tokenize([p for p in prompts for _ in range(n)]).to(self.device)
        generator = None if seed is None else torch.Generator(self.device).manual_seed(seed)
        with evaluating(self):
            images, _, _, rough = self.draw(tokens, generator)
        return images, rough

    # ------------------------------------------------------------------ engine contract

    def configure_optimizers(self) -> list[tuple[torch.optim.Optimizer, None]]:
        players = [self.words, self.augment1, self.generator1] if self.config.stage == 1 else [
            self.augment2, self.generator2]
        generator = [p for module in players for p in module.parameters()]
        return [(self.adam(self.discriminator.parameters()), None), (self.adam(generator), None)]

    def _bce(self, images: Tensor, mu: Tensor, target: float) -> Tensor:
        logits = self.discriminator(images, mu)
        return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))

    def discriminator_loss(self, real: Tensor, tokens: Tensor) -> dict[str, Tensor]:
        with torch.no_grad():
            fake, mu, _, _ = self.draw(tokens)
        # Real, wrong and fake pairs go through the discriminator as separate batches: its BatchNorm statistics
        # would otherwise tell them apart (see DCGAN.discriminator_loss).
        real_loss = self._bce(real, mu, 1.0)
        fake_loss = self._bce(fake, mu, 0.0)
        partner, usable = mismatched(tokens)
        if usable.any():
            wrong_loss = self._bce(real[partner[usable]], mu[usable], 0.0)
            loss = real_loss + (wrong_loss + fake_loss) / 2
        else:  # one text in the whole batch: no wrong pairs to show
            wrong_loss = torch.zeros_like(real_loss)
            loss = real_loss + fake_loss
        return {"loss": loss, "d_loss": loss.detach(), "d_real": real_loss.detach(), "d_wrong": wrong_loss.detach(),
                "d_fake": fake_loss.detach()}

    def generator_loss(self, tokens: Tensor) -> dict[str, Tensor]:
        fake, mu, logvar, _ = self.draw(tokens)
        adversarial = self._bce(fake, mu.detach(), 1.0)  # non-saturating
        kl = kl_divergence(mu, logvar)
        loss = adversarial + self.config.kl_weight * kl
        return {"loss": loss, "g_loss": adversarial.detach(), "kl": kl.detach()}

    def training_step(self, batch: dict[str, Tensor], step: int, optimizer_idx: int = 0) -> dict[str, Tensor]:
        if optimizer_idx == 0:
            if getattr(self, "_preview", None) is None:
                self._preview_tokens = batch["tokens"][:PREVIEW].detach().clone()
            self.remember_preview(batch["images"])
            return self.discriminator_loss(batch["images"], batch["tokens"])
        return self.generator_loss(batch["tokens"])

    @torch.no_grad()
    def evaluate(self, batch: dict[str, Tensor]) -> dict[str, float]:
        d = self.discriminator_loss(batch["images"], batch["tokens"])
        g = self.generator_loss(batch["tokens"])
        return {"loss": float(d["loss"]), "d_real": float(d["d_real"]), "d_wrong": float(d["d_wrong"]),
                "d_fake": float(d["d_fake"]), "g_loss": float(g["g_loss"]), "kl": float(g["kl"])}

    def log_images(self, step: int) -> dict:
        """The first training images and pictures generated for their texts (the same noise every time)."""
        from sketchlab.render import image_grid

        tokens = getattr(self, "_preview_tokens", None)
        if tokens is None:
            return {}
        with evaluating(self):
            images = self.draw(tokens, torch.Generator(self.device).manual_seed(0))[0]
        return {"generated": image_grid(images), "real": image_grid(self._preview)}
