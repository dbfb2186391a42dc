"""What every pixel model (DCGAN, WAE-MMD, WAE-GAN, BEGAN) must do, on tiny 16x16 versions: shapes and ranges, one
update per player through the engine, exact resume, model folders, TensorBoard pictures, config checks."""

import numpy as np
import pytest
import torch

from sketchlab.data.raster import ImageBatches, RasterSketchDataset
from sketchlab.errors import CheckpointError, ConfigError
from sketchlab.pipelines.images import PIXEL_MODELS, make_config
from sketchlab.training.engine import Trainer, TrainConfig

TINY = {
    "dcgan": dict(width=8, disc_width=8, latent_dim=8),
    "wae-mmd": dict(width=8, latent_dim=4),
    "wae-gan": dict(width=8, latent_dim=4, adversary_width=16, adversary_depth=2),
    "began": dict(width=8, latent_dim=8, hidden_dim=8),
}
# The players in optimiser order (attribute names of their sub-networks).
PLAYERS = {
    "dcgan": [("discriminator",), ("generator",)],
    "wae-mmd": [("encoder", "decoder")],
    "wae-gan": [("adversary",), ("encoder", "decoder")],
    "began": [("disc_encoder", "disc_decoder"), ("generator",)],
}
KINDS = list(TINY)


def tiny(kind: str, channels: int = 1, seed: int = 0):
    torch.manual_seed(seed)
    model_class = PIXEL_MODELS[kind][0]
    return model_class(make_config(kind, image_size=16, channels=channels, batch_size=8, **TINY[kind]))


def player_params(model, names) -> dict[str, torch.Tensor]:
    return {f"{name}.{key}": value.detach().clone() for name in names
            for key, value in getattr(model, name).named_parameters()}


def changed(before: dict[str, torch.Tensor], model) -> set[str]:
    now = dict(model.named_parameters())
    return {key for key, value in before.items() if not torch.equal(value, now[key])}


@pytest.fixture(scope="module")
def sketches():
    """Sixteen random-walk scribbles as 16x16 bitmaps: enough for batches, cheap to render."""
    rng = np.random.default_rng(0)
    drawings = []
    for _ in range(16):
        rows = np.zeros((12, 3), np.float32)
        rows[:, :2] = rng.normal(0, 5, (12, 2))
        rows[[5, 11], 2] = 1
        drawings.append(rows)
    return RasterSketchDataset(drawings, np.zeros(16, np.int64), size=16, line_width=1.0)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("channels", [1, 3])
def test_shapes_and_value_ranges(kind, channels):
    model = tiny(kind, channels)
    images = model.generate(5, seed=1)
    assert images.shape == (5, channels, 16, 16)
    assert images.min() >= -1 and images.max() <= 1 and images.std() > 0
    torch.testing.assert_close(model.generate(5, seed=1), images)  # a seed fixes the images
    assert not torch.equal(model.generate(5, seed=2), images)
    z = model.sample_latent(1000)
    assert z.shape == (1000, model.config.latent_dim)
    if model.config.latent_prior == "uniform":
        assert z.abs().max() <= 1 and z.abs().max() > 0.99
    else:
        assert z.std().item() == pytest.approx(model.latent_scale, rel=0.1)
    if model.can_encode:
        real = torch.rand(3, channels, 16, 16) * 2 - 1
        assert model.encode(real).shape[0] == 3
        reconstructed = model.reconstruct(real)
        assert reconstructed.shape == real.shape and reconstructed.abs().max() <= 1
        errors = model.reconstruction_error(real)
        assert errors.shape == (3,) and (errors > 0).all()


@pytest.mark.parametrize("kind", KINDS)
def test_each_optimiser_moves_its_player_only(kind):
    model = tiny(kind)
    batch = {"images": torch.rand(8, 1, 16, 16) * 2 - 1}
    optimizers = [optimizer for optimizer, _ in model.configure_optimizers()]
    assert len(optimizers) == len(PLAYERS[kind])
    for idx, names in enumerate(PLAYERS[kind]):
        mine = player_params(model, names)
        others = {key: value for key, value in player_params(model, [n for p in PLAYERS[kind] for n in p]).items()
                  if key not in mine}
        optimizers[idx].zero_grad()
        out = model.training_step(batch, 0, idx)
        assert out["loss"].ndim == 0 and torch.isfinite(out["loss"])
        out["loss"].backward()
        optimizers[idx].step()
        assert changed(mine, model) == set(mine), f"player {idx} left some of its weights unchanged"
        assert not changed(others, model), f"player {idx}'s step moved another player's weights"


@pytest.mark.parametrize("kind", KINDS)
def test_one_engine_step_changes_every_players_weights(kind, sketches, tmp_path):
    model = tiny(kind)
    before = player_params(model, [name for player in PLAYERS[kind] for name in player])
    history = Trainer(model, ImageBatches(sketches, 8), None,
                      TrainConfig(str(tmp_path), steps=1, tensorboard=False, progress=False, device="cpu")).fit()
    assert changed(before, model) == set(before)
    assert all(np.isfinite(value) for value in history[0].values())
    assert (tmp_path / "best" / "model.safetensors").is_file()


@pytest.mark.parametrize("kind", ["wae-gan", "began"])
def test_resumed_training_repeats_the_uninterrupted_run(kind, sketches, tmp_path):
    def run(out, steps, resume=False):
        model = tiny(kind)
        config = TrainConfig(str(out), steps=steps, save_every=2, resume=resume, tensorboard=False, progress=False,
                             device="cpu")
        Trainer(model, ImageBatches(sketches, 4, seed=3), None, config).fit()
        return model.state_dict()

    straight = run(tmp_path / "a", 4)
    run(tmp_path / "b", 2)
    resumed = run(tmp_path / "b", 4, resume=True)
    assert straight.keys() == resumed.keys()
    for key in straight:
        torch.testing.assert_close(resumed[key], straight[key], rtol=0, atol=0, msg=key)


@pytest.mark.parametrize("kind", KINDS)
def test_model_folder_round_trip(kind, tmp_path):
    model = tiny(kind, channels=3)
    if kind == "began":
        model.k.fill_(0.25)  # the equilibrium variable travels with the weights
    model.save_pretrained(tmp_path / "m")
    loaded = type(model).from_pretrained(tmp_path / "m")
    assert loaded.config == model.config
    torch.testing.assert_close(loaded.generate(4, seed=0), model.generate(4, seed=0))
    if kind == "began":
        assert loaded.k.item() == 0.25
    other = "dcgan" if kind != "dcgan" else "began"
    with pytest.raises(CheckpointError, match="does not describe"):
        PIXEL_MODELS[other][0].from_pretrained(tmp_path / "m")


@pytest.mark.parametrize("kind", KINDS)
def test_log_images_show_generated_real_and_reconstructed(kind):
    model = tiny(kind)
    assert set(model.log_images(0)) == {"generated"}  # nothing real seen yet
    model.training_step({"images": torch.rand(8, 1, 16, 16) * 2 - 1}, 0, 0)
    grids = model.log_images(1)
    expected = {"generated", "real"} | ({"reconstructed"} if model.can_encode else set())
    assert set(grids) == expected
    for grid in grids.values():
        assert grid.dtype == np.uint8 and grid.ndim == 3 and grid.shape[2] == 3
    assert model.log_images(2)["generated"].tolist() == grids["generated"].tolist()  # the same latents each time


@pytest.mark.parametrize("kind, values, message", [
    ("dcgan", {"image_size": 48}, "power of two"),
    ("dcgan", {"image_size": 4}, "power of two"),
    ("began", {"image_size": 8}, "at least 16"),
    ("dcgan", {"channels": 2}, "channels"),
    ("wae-mmd", {"latent_prior": "cauchy"}, "latent_prior"),
    ("wae-mmd", {"latent_dim": 0}, "latent_dim"),
    ("began", {"gamma": 1.5}, "gamma"),
    ("dcgan", {"lr": -1.0}, "lr"),
    ("dcgan", {"beta1": 1.0}, "beta1"),
    ("wae-gan", {"prior_std": float("nan")}, "prior_std"),
])
def test_absurd_settings_are_refused(kind, values, message):
    with pytest.raises(ConfigError, match=message):
        make_config(kind, **values).validate()


def test_options_of_another_model_are_refused():
    with pytest.raises(ConfigError, match="--gamma is not an option of dcgan"):
        make_config("dcgan", gamma=0.3)
