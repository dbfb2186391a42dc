"""StackGAN: shapes at both stages, the conditioning augmentation's KL against a hand computation, matching-aware
pairs, frozen Stage I, and tiny models whose optimisation steps lower their losses on real Quick, Draw! doodles."""

import math

import pytest
import torch

from sketchlab.data.quickdraw import read_ndjson, simplified_to_stroke3
from sketchlab.data.raster import RasterSketchDataset
from sketchlab.data.texts import TextImageBatches, image_texts
from sketchlab.errors import ConfigError, DataError
from sketchlab.models.stackgan import (
    UNK,
    ConditioningAugmentation,
    StackGAN,
    StackGANConfig,
    build_vocabulary,
    kl_divergence,
    mismatched,
)

CATEGORIES = ["owl", "cat", "apple"]


def tiny(**values) -> StackGANConfig:
    settings = dict(image_size=16, upscale=2, channels=1, latent_dim=16, embed_dim=16, condition_dim=8,
                    disc_condition_dim=8, width=16, disc_width=16, refine_width=8, residual_blocks=1, batch_size=12,
                    vocabulary=CATEGORIES)
    return StackGANConfig(**{**settings, **values})


@pytest.fixture(scope="module")
def doodles(data_dir):
    """8 real doodles of each category, and their class names as texts."""
    drawings, labels = [], []
    for label, name in enumerate(CATEGORIES):
        records = list(read_ndjson(data_dir / "quickdraw" / "simplified" / f"{name}.ndjson", limit=8))
        drawings += [simplified_to_stroke3(r["drawing"]) for r in records]
        labels += [label] * len(records)
    return drawings, labels


def rasterized(doodles, size: int) -> RasterSketchDataset:
    drawings, labels = doodles
    return RasterSketchDataset(drawings, labels, size=size, line_width=1.0, class_names=CATEGORIES)


def test_shapes_at_both_stages():
    torch.manual_seed(0)
    one = StackGAN(tiny())
    assert one.generate(3, seed=0, prompts=["an owl", "cat"]).shape == (6, 1, 16, 16)
    two = StackGAN(tiny(stage=2))
    two.load_stage_one(one)
    final, rough = two.generate_stages(3, seed=0, prompts=["apple"])
    assert final.shape == (3, 1, 32, 32) and rough.shape == (3, 1, 16, 16)
    assert torch.equal(rough, one.generate(3, seed=0, prompts=["apple"]))  # Stage II refines Stage I's picture
    assert StackGAN(tiny(stage=2, upscale=4)).generate(1, seed=0, prompts="owl").shape == (1, 1, 64, 64)
    assert final.min() >= -1 and final.max() <= 1
    logits = two.discriminator(final, torch.zeros(3, 8))
    assert logits.shape == (3,)


def test_kl_of_conditioning_augmentation_against_hand_computation():
    mu = torch.tensor([[1.0, 0.0], [0.0, -2.0]])
    logvar = torch.tensor([[0.0, math.log(4.0)], [0.0, 0.0]])
    # KL(N(m, s^2) || N(0, 1)) = (m^2 + s^2 - 1 - log s^2) / 2 per dimension: 0.5, (4 - 1 - log 4) / 2, 0, 2
    per_dimension = [0.5, (3 - math.log(4.0)) / 2, 0.0, 2.0]
    assert kl_divergence(mu, logvar).item() == pytest.approx(sum(per_dimension) / 4, rel=1e-6)
    assert kl_divergence(torch.zeros(5, 3), torch.zeros(5, 3)).item() == 0  # already the prior


def test_conditioning_augmentation_samples_mu_plus_sigma_eps():
    torch.manual_seed(0)
    augment = ConditioningAugmentation(4, 3)
    phi = torch.randn(2, 4)
    c, mu, logvar = augment(phi, torch.Generator().manual_seed(7))
    eps = torch.randn(2, 3, generator=torch.Generator().manual_seed(7))
    assert torch.allclose(c, mu + torch.exp(logvar / 2) * eps)
    assert mu.shape == logvar.shape == (2, 3)


def test_texts_tokens_and_mismatched_pairs():
    assert build_vocabulary(["Cat face", "grinning face with smiling eyes"]) == [
        "cat", "eyes", "face", "grinning", "smiling"]
    model = StackGAN(tiny())
    tokens = model.tokenize(["an owl", "owl", "zebra owl", "apple", "cat"])
    assert torch.equal(tokens[0], tokens[1])  # stopwords say nothing
    assert tokens[2, 0] == UNK and tokens[2, 1] == tokens[0, 0]
    partner, usable = mismatched(tokens)
    assert usable.all()
    assert all(not torch.equal(tokens[i], tokens[j]) for i, j in enumerate(partner.tolist()))
    _, usable = mismatched(model.tokenize(["owl", "an owl"]))
    assert not usable.any()  # one text only: no wrong pairs exist


def test_bad_input_is_a_one_line_error():
    model = StackGAN(tiny())
    with pytest.raises(DataError, match="empty"):
        model.generate(1, prompts=["the"])
    with pytest.raises(DataError, match="prompt"):
        model.generate(1)
    with pytest.raises(ConfigError, match="stage must be 1 or 2"):
        StackGAN(tiny(stage=3))
    with pytest.raises(ConfigError, match="upscale"):
        StackGAN(tiny(upscale=3))
    with pytest.raises(ConfigError, match="differs in width"):
        StackGAN(tiny(stage=2, width=8)).load_stage_one(model)


def losses(model, batch, idx: int, seed: int) -> torch.Tensor:
    torch.manual_seed(seed)  # the same noise before and after a step
    return model.training_step(batch, 0, idx)["loss"]


def steps_lower_losses(model, batches, steps: int) -> None:
    """Each optimiser's step lowers its own loss on the batch and noise it was taken on, in most steps, and the
    discriminator learns to tell real matching pairs from the rest."""
    optimizers = [optimizer for optimizer, _ in model.configure_optimizers()]
    lowered, first, last = [], None, None
    for step in range(steps):
        batch = batches.next_batch()
        for idx, optimizer in enumerate(optimizers):
            optimizer.zero_grad()
            before = losses(model, batch, idx, step)
            before.backward()
            optimizer.step()
            with torch.no_grad():
                lowered.append(losses(model, batch, idx, step).item() < before.item())
        d = model.evaluate(batch)
        first = first or d
        last = d
    assert sum(lowered) >= 0.9 * len(lowered), lowered
    assert last["loss"] < first["loss"]


def test_tiny_stages_lower_their_losses_on_real_doodles(doodles):
    torch.manual_seed(0)
    small = rasterized(doodles, 16)
    vocabulary = build_vocabulary(image_texts(small))
    assert vocabulary == sorted(CATEGORIES)
    one = StackGAN(tiny(vocabulary=vocabulary))
    steps_lower_losses(one, TextImageBatches(small, one.tokenize(image_texts(small)), 12, seed=0), steps=15)

    two = StackGAN(tiny(stage=2, vocabulary=vocabulary))
    two.load_stage_one(one)
    frozen = {k: v.clone() for k, v in two.state_dict().items() if k.startswith(("words", "augment1", "generator1"))}
    large = rasterized(doodles, 32)
    steps_lower_losses(two, TextImageBatches(large, two.tokenize(image_texts(large)), 12, seed=0), steps=15)
    assert all(torch.equal(frozen[k], v) for k, v in two.state_dict().items() if k in frozen)  # Stage I stays
    assert frozen


def test_stage_two_folder_round_trip(tmp_path):
    torch.manual_seed(0)
    two = StackGAN(tiny(stage=2))
    two.save_pretrained(tmp_path)
    loaded = StackGAN.from_pretrained(tmp_path)
    assert loaded.config == two.config
    assert torch.equal(loaded.generate(2, seed=1, prompts="cat"), two.generate(2, seed=1, prompts="cat"))
