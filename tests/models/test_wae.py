"""WAE specifics: the IMQ MMD estimator (by hand, and on samples), WAE-GAN's latent adversary, a 2-D latent, and a
tiny WAE that overfits a few real rasterized Quick, Draw! sketches."""

import numpy as np
import pytest
import torch

from sketchlab.data.quickdraw import read_ndjson, simplified_to_stroke3
from sketchlab.data.raster import ImageBatches, RasterSketchDataset
from sketchlab.models.wae import KERNEL_SCALES, WAE, WAEConfig, imq_mmd
from sketchlab.pipelines.images import latent_plane_grid
from sketchlab.training.engine import Trainer, TrainConfig


def test_mmd_by_hand_on_two_points_each():
    # d = 1, prior variance 0.5 and one scale: C = 2 * 1 * 0.5 = 1, so k(a, b) = 1 / (1 + (a - b)^2).
    x, y = torch.tensor([[0.0], [1.0]]), torch.tensor([[0.0], [2.0]])
    k_xx = 1 / 2  # k(0, 1), the only off-diagonal pair (counted twice, divided by n (n - 1) = 2)
    k_yy = 1 / 5  # k(0, 2)
    k_xy = (1 + 1 / 5 + 1 / 2 + 1 / 2) / 4  # k(0,0) k(0,2) k(1,0) k(1,2), all four pairs
    expected = k_xx + k_yy - 2 * k_xy
    assert imq_mmd(x, y, prior_var=0.5, scales=(1.0,)).item() == pytest.approx(expected)
    # Two scales are the sum of each: C = 1 and C = 2.
    two = imq_mmd(x, y, prior_var=0.5, scales=(1.0, 2.0)).item()
    k2 = lambda r: 2 / (2 + r * r)  # noqa: E731
    expected_2 = k2(1) + k2(2) - 2 * (k2(0) + k2(2) + k2(1) + k2(1)) / 4
    assert two == pytest.approx(expected + expected_2)


def test_mmd_is_near_zero_for_one_distribution_and_positive_for_shifted_ones():
    generator = torch.Generator().manual_seed(0)
    draw = lambda: torch.randn(300, 8, generator=generator) * 2**0.5  # noqa: E731
    same = imq_mmd(draw(), draw(), prior_var=2.0).item()
    shifted = imq_mmd(draw(), draw() + 1.0, prior_var=2.0).item()
    wider = imq_mmd(draw(), draw() * 2, prior_var=2.0).item()
    # measured (seeds 0-2): |same| <= 0.006, shifted and wider 0.47-0.56
    assert abs(same) < 0.02
    assert shifted > 0.2 and wider > 0.2
    assert shifted > 20 * abs(same)
    assert len(KERNEL_SCALES) == 7


def test_mmd_gradient_is_finite_when_codes_coincide():
    x = torch.zeros(4, 3, requires_grad=True)
    imq_mmd(x, torch.randn(4, 3), prior_var=1.0).backward()
    assert torch.isfinite(x.grad).all()


def test_adversary_exists_only_for_the_gan_penalty():
    mmd = WAE(WAEConfig(image_size=16, width=8, latent_dim=2))
    gan = WAE(WAEConfig(image_size=16, width=8, latent_dim=2, penalty="gan"))
    assert not hasattr(mmd, "adversary") and len(mmd.configure_optimizers()) == 1
    assert isinstance(gan.adversary, torch.nn.Sequential) and len(gan.configure_optimizers()) == 2
    assert sum(isinstance(m, torch.nn.Linear) for m in gan.adversary) == 5  # 4 hidden layers of 512, then the logit
    assert gan.adversary[0].out_features == 512


def test_a_two_dimensional_latent_gives_a_plane_picture():
    torch.manual_seed(0)
    model = WAE(WAEConfig(image_size=16, channels=1, width=8, latent_dim=2))
    plane = latent_plane_grid(model, n=5)
    assert plane.shape == (5 * 18 + 2, 5 * 18 + 2, 3)
    corners = [plane[2:18, 2:18], plane[-18:-2, -18:-2]]
    assert not np.array_equal(*corners)  # different codes, different pictures


@pytest.fixture(scope="module")
def few_cats(data_dir):
    records = read_ndjson(data_dir / "quickdraw" / "simplified" / "cat.ndjson", limit=8)
    drawings = [simplified_to_stroke3(r["drawing"]) for r in records]
    return RasterSketchDataset(drawings, np.zeros(len(drawings), np.int64), size=16, line_width=1.0)


def test_tiny_wae_overfits_a_few_real_sketches(few_cats, tmp_path):
    torch.manual_seed(0)
    model = WAE(WAEConfig(image_size=16, channels=1, width=16, latent_dim=8, batch_size=8))
    images = few_cats.images(slice(None))
    before = model.reconstruction_error(images).mean().item()
    Trainer(model, ImageBatches(few_cats, 8, seed=0), None,
            TrainConfig(str(tmp_path), steps=150, tensorboard=False, progress=False, device="cpu")).fit()
    after = model.reconstruction_error(images).mean().item()
    blank = (images - images.mean()).pow(2).mean().item()  # the error of drawing every pixel in the mean gray
    # measured (seeds 0-2): before 0.69, after 0.030-0.037, blank 0.42
    assert before > 0.4
    assert after < 0.08 and after < blank / 5
