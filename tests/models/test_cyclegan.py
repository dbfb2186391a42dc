"""CycleGAN: the paper's architecture and losses, the image pool, the LR schedule, paired batches that resume
exactly, and a tiny model learning circle <-> square doodles through the engine."""

import pytest
import torch
from torch import nn

from sketchlab.data.images import PairedImageBatches
from sketchlab.data.raster import RasterSketchDataset
from sketchlab.errors import ConfigError
from sketchlab.models.cyclegan import CycleGAN, CycleGANConfig, ImagePool, ResidualBlock, patch_size
from sketchlab.training.engine import Trainer, TrainConfig

TINY = dict(image_size=16, width=4, resnet_blocks=1, disc_width=4, batch_size=4)


def test_architecture_and_optimisers_are_the_papers():
    assert patch_size(3) == 70  # the 70x70 PatchGAN
    assert [CycleGANConfig(image_size=s).patch_layers for s in (256, 128, 64, 32)] == [3, 2, 1, 1]
    assert [CycleGANConfig(image_size=s).blocks for s in (256, 128, 64)] == [9, 6, 6]
    torch.manual_seed(0)
    model = CycleGAN(CycleGANConfig(image_size=32, channels_a=1, channels_b=3, width=8, disc_width=8))
    assert sum(isinstance(m, ResidualBlock) for m in model.gen_ab.modules()) == 6
    a, b = torch.rand(2, 1, 32, 32) * 2 - 1, torch.rand(2, 3, 32, 32) * 2 - 1
    fake_b, reconstructed = model(a)
    assert fake_b.shape == (2, 3, 32, 32) and reconstructed.shape == a.shape
    assert fake_b.abs().max() <= 1  # tanh, like the data
    assert model.gen_ba(b).shape == a.shape
    assert model.disc_b(b).shape == (2, 1, 14, 14)  # 32 -> 16 (stride 2) -> 15 -> 14 (stride 1)
    generators, discriminators = (optimizer for optimizer, _ in model.configure_optimizers())
    for optimizer in (generators, discriminators):
        assert optimizer.defaults["lr"] == 2e-4 and optimizer.defaults["betas"] == (0.5, 0.999)
    assert {id(p) for p in generators.param_groups[0]["params"]} == {
        id(p) for p in [*model.gen_ab.parameters(), *model.gen_ba.parameters()]}


def test_cycle_and_identity_losses_vanish_for_identity_generators():
    torch.manual_seed(0)
    model = CycleGAN(CycleGANConfig(channels_a=1, channels_b=1, **TINY))
    a, b = torch.rand(4, 1, 16, 16) * 2 - 1, torch.rand(4, 1, 16, 16) * 2 - 1
    assert model.cycle_loss(a, b, model.gen_ba(b), model.gen_ab(a)) > 0.05  # real generators do not cycle back
    assert model.identity_loss(a, b) > 0.05
    model.gen_ab, model.gen_ba = nn.Identity(), nn.Identity()
    losses, _, _ = model.generator_losses(a, b)
    assert losses["cycle"] == 0 and losses["identity"] == 0


def test_identity_loss_is_left_out_across_channel_counts():
    model = CycleGAN(CycleGANConfig(channels_a=1, channels_b=3, **TINY))
    assert model.identity_loss(torch.zeros(2, 1, 16, 16), torch.zeros(2, 3, 16, 16)) == 0


def test_image_pool_keeps_a_history_and_mixes_it_in_half_the_time():
    torch.manual_seed(0)
    pool = ImagePool(50)
    first = torch.arange(50.0).view(50, 1, 1, 1)
    assert torch.equal(pool.query(first[:30]), first[:30]) and torch.equal(pool.query(first[30:]), first[30:])
    assert len(pool.images) == 50  # filling up returns every image as given
    new = torch.arange(1000.0, 1400.0).view(400, 1, 1, 1)
    out = torch.cat([pool.query(new[i : i + 8]) for i in range(0, 400, 8)]).flatten()
    from_history = out != new.flatten()
    assert 0.43 < from_history.float().mean() < 0.57  # p = 1/2 (400 draws: 0.5 +- 3.5 standard deviations)
    assert len(pool.images) == 50
    stored = {float(image) for image in pool.images}
    assert stored & set(new.flatten().tolist())  # swapped-in new images are remembered
    assert torch.equal(ImagePool(0).query(new[:5]), new[:5])


def test_pool_returns_only_images_it_was_given_before():
    torch.manual_seed(1)
    pool = ImagePool(5)
    given = set()
    for i in range(40):
        image = torch.full((1, 1, 2, 2), float(i))
        returned = float(pool.query(image)[0, 0, 0, 0])
        given.add(float(i))
        assert returned in given
        assert len(pool.images) == min(i + 1, 5)


def test_pool_state_round_trips_through_a_weights_only_file(tmp_path):
    """A pool restored from its state answers the same queries with the same images, and an empty one stays empty."""
    model = CycleGAN(CycleGANConfig(channels_a=1, channels_b=3, **{**TINY, "pool_size": 4}))
    torch.manual_seed(0)
    model.pool_a.query(torch.rand(6, 1, 16, 16))
    torch.save(model.training_state(), tmp_path / "pools.pt")
    restored = CycleGAN(CycleGANConfig(channels_a=1, channels_b=3, **{**TINY, "pool_size": 4}))
    restored.load_training_state(torch.load(tmp_path / "pools.pt", weights_only=True))
    assert len(restored.pool_a.images) == 4 and restored.pool_b.images == []
    new = torch.rand(8, 1, 16, 16)
    torch.manual_seed(1)
    expected = model.pool_a.query(new)
    torch.manual_seed(1)
    assert torch.equal(restored.pool_a.query(new), expected) and not torch.equal(expected, new)


def test_learning_rate_is_constant_then_decays_linearly_to_zero():
    model = CycleGAN(CycleGANConfig(lr_schedule_steps=10, **TINY))
    optimizer, scheduler = model.configure_optimizers()[0]
    lrs = []
    for _ in range(10):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert lrs[:6] == [2e-4] * 6
    assert lrs[5:] == pytest.approx([2e-4 * (1 - k / 5) for k in range(5)])
    assert optimizer.param_groups[0]["lr"] == 0


@pytest.mark.parametrize("field, value", [("image_size", 18), ("channels_b", 2), ("lambda_cycle", 0),
                                          ("pool_size", -1), ("disc_layers", 4), ("beta1", 1.0)])
def test_absurd_settings_are_one_line_errors(field, value):
    with pytest.raises(ConfigError, match=field if field != "disc_layers" else "discriminator layers"):
        CycleGAN(CycleGANConfig(**{**TINY, field: value}))


def test_translate_checks_direction_and_channels():
    model = CycleGAN(CycleGANConfig(channels_a=1, channels_b=3, **TINY))
    assert model.translate(torch.zeros(2, 3, 16, 16), "BtoA").shape == (2, 1, 16, 16)
    with pytest.raises(ConfigError, match="direction"):
        model.translate(torch.zeros(2, 1, 16, 16), "AtoC")
    with pytest.raises(ConfigError, match="1 channel"):
        model.translate(torch.zeros(2, 3, 16, 16), "AtoB")


@pytest.fixture(scope="module")
def circles_and_squares(shape_splits):
    """The shared data's real circle and square doodles (20 each), rasterized 16x16."""
    labels = torch.as_tensor(shape_splits.train_labels)
    domains = []
    for name in ("circle", "square"):
        dataset = RasterSketchDataset(shape_splits, size=16, line_width=1.0, split="train")
        keep = labels == shape_splits.class_names.index(name)
        dataset.pixels, dataset.labels = dataset.pixels[keep], dataset.labels[keep]
        domains.append(dataset)
    return domains


def test_paired_batches_resume_exactly(circles_and_squares):
    batches = PairedImageBatches(*circles_and_squares, batch_size=6, seed=3)
    for _ in range(5):
        batches.next_batch()
    state = batches.state_dict()
    expected = [batches.next_batch() for _ in range(4)]
    resumed = PairedImageBatches(*circles_and_squares, batch_size=6, seed=99)
    resumed.load_state_dict(state)
    for want in expected:
        got = resumed.next_batch()
        assert torch.equal(got["a"], want["a"]) and torch.equal(got["b"], want["b"])
    assert not torch.equal(expected[0]["a"], expected[0]["b"])  # the two domains are different images


def test_tiny_model_lowers_its_losses_on_circles_and_squares(circles_and_squares, tmp_path):
    """40 engine steps of 4 real doodle pairs (16x16): the cycle, identity and discriminator losses fall."""
    torch.manual_seed(0)
    config = CycleGANConfig(channels_a=1, channels_b=1, **{**TINY, "width": 8, "disc_width": 8})
    model = CycleGAN(config)
    batches = PairedImageBatches(*circles_and_squares, batch_size=4, seed=0)
    history = Trainer(model, batches, None, TrainConfig(out_dir=str(tmp_path), steps=40, device="cpu", log_every=1,
                                                        tensorboard=False, progress=False)).fit()

    def mean(key, part):
        return sum(record[f"train/{key}"] for record in part) / len(part)

    start, end = history[:5], history[-5:]
    for key in ("cycle", "identity", "d_a", "d_b"):
        assert mean(key, end) < 0.8 * mean(key, start), key
    grids = model.log_images(40)
    assert set(grids) == {"AtoB", "BtoA"}
    assert grids["AtoB"].shape == (4 * 18 + 2, 3 * 18 + 2, 3)  # 4 rows of real / translated / reconstructed
    model.save_pretrained(tmp_path / "model")
    loaded = CycleGAN.from_pretrained(tmp_path / "model")
    images = circles_and_squares[0].images(slice(0, 2))
    assert torch.equal(loaded.translate(images), model.translate(images))
