"""The pixel verbs: image data from every source, anomaly scoring on real sketches (with its ROC AUC checked by
hand), interpolation and analogy grids, loading models by folder."""

import numpy as np
import pytest
import torch
from PIL import Image

from sketchlab.data.images import ImageFolderDataset
from sketchlab.data.quickdraw import read_ndjson, simplified_to_stroke3
from sketchlab.data.raster import ImageBatches, RasterSketchDataset
from sketchlab.errors import CheckpointError, DataError
from sketchlab.models.dcgan import DCGAN, DCGANConfig
from sketchlab.models.wae import WAE, WAEConfig
from sketchlab.pipelines.images import (
    analogy_grid,
    anomaly_report,
    anomaly_scores,
    interpolation_grid,
    load_image_data,
    load_pixel_model,
    prior_interpolation_grid,
    roc_auc,
)
from sketchlab.training.engine import Trainer, TrainConfig


def test_roc_auc_by_hand():
    assert roc_auc([0.9, 0.8, 0.1, 0.2], [1, 1, 0, 0]) == 1.0
    assert roc_auc([0.1, 0.2, 0.9, 0.8], [1, 1, 0, 0]) == 0.0
    # positives 0.5, 0.3; negatives 0.4, 0.3: pairs (0.5>0.4) 1, (0.5>0.3) 1, (0.3<0.4) 0, (0.3=0.3) 1/2 -> 2.5 / 4
    assert roc_auc([0.5, 0.3, 0.4, 0.3], [True, True, False, False]) == 0.625
    with pytest.raises(DataError, match="both normal and anomalous"):
        roc_auc([0.1, 0.2], [0, 0])


def drawings(data_dir, category):
    return [simplified_to_stroke3(r["drawing"])
            for r in read_ndjson(data_dir / "quickdraw" / "simplified" / f"{category}.ndjson")]


@pytest.fixture(scope="module")
def trained(data_dir, tmp_path_factory):
    """A tiny WAE trained on 20 real circles, its training set, and a test set: the 5 other circles and 25 stars."""
    torch.set_num_threads(1)
    circles, stars = drawings(data_dir, "circle"), drawings(data_dir, "star")
    train = RasterSketchDataset(circles[:20], np.zeros(20, np.int64), size=16, line_width=1.0,
                                class_names=["circle"])
    test = RasterSketchDataset(circles[20:] + stars, [0] * len(circles[20:]) + [1] * len(stars), size=16,
                               line_width=1.0, class_names=["circle", "star"])
    torch.manual_seed(0)
    model = WAE(WAEConfig(image_size=16, channels=1, width=16, latent_dim=8, batch_size=10))
    out = tmp_path_factory.mktemp("wae")
    Trainer(model, ImageBatches(train, 10, seed=0), None,
            TrainConfig(str(out), steps=150, tensorboard=False, progress=False, device="cpu")).fit()
    return model, train, test, out


def test_anomaly_scores_rank_another_category_above_the_training_one(trained):
    model, train, test, _ = trained
    scores = anomaly_scores(model, test, reference=train)
    anomalous = test.labels.numpy() == 1
    assert set(scores) == {"reconstruction_error", "latent_distance"}
    assert all(values.shape == (len(test),) and (values >= 0).all() for values in scores.values())
    # measured: AUC 1.0 (seeds 0 and 1); chance is 0.5. Reconstruction error is the reliable score: it tracks how
    # much ink a drawing has too, so a sparser category (ladders against cats) can rank below the normal one.
    assert roc_auc(scores["reconstruction_error"], anomalous) >= 0.8
    own = anomaly_scores(model, train, reference=train)["latent_distance"]
    assert np.allclose(own, 0, atol=1e-6)  # each training image's nearest reference code is its own


def test_anomaly_report_writes_a_row_per_image(trained, tmp_path):
    model, train, test, _ = trained
    text = anomaly_report(model, test, tmp_path / "s.csv", anomalous=["star"])
    rows = (tmp_path / "s.csv").read_text().splitlines()
    assert rows[0] == "index,class,reconstruction_error" and len(rows) == len(test) + 1
    assert rows[1].startswith("0,circle,") and rows[-1].startswith(f"{len(test) - 1},star,")
    assert "ROC AUC (reconstruction_error): " in text and "star: 25 images" in text
    with pytest.raises(DataError, match="--anomalous names owl"):
        anomaly_report(model, test, tmp_path / "t.csv", anomalous=["owl"])


def test_interpolation_and_analogy_grids(trained):
    model, _, test, _ = trained
    grid = interpolation_grid(model, test, [(0, 5), (1, 6)], steps=4)
    cell = 16 + 2
    assert grid.shape == (2 * cell + 2, 6 * cell + 2, 3)
    first = test.images(0)[0].numpy()
    np.testing.assert_array_equal(grid[2:18, 2:18, 0], np.rint((first + 1) * 127.5).astype(np.uint8))  # real ends
    assert analogy_grid(model, test, 0, 5, [1, 2, 3]).shape == (3 * cell + 2, 4 * cell + 2, 3)
    assert prior_interpolation_grid(model, rows=3, steps=5, seed=0).shape == (3 * cell + 2, 5 * cell + 2, 3)
    with pytest.raises(DataError, match="out of range"):
        interpolation_grid(model, test, [(0, 999)])
    dcgan = DCGAN(DCGANConfig(image_size=16, channels=1, latent_dim=4, width=4, disc_width=4))
    with pytest.raises(DataError, match="no codes in a dcgan"):
        interpolation_grid(dcgan, test, [(0, 1)])
    with pytest.raises(DataError, match="need an autoencoder"):
        anomaly_scores(dcgan, test)


def test_models_load_from_their_run_folder(trained, tmp_path):
    model, _, test, out = trained
    loaded = load_pixel_model(out)  # the run folder stands for its best/
    torch.testing.assert_close(loaded.generate(3, seed=0), model.generate(3, seed=0))
    with pytest.raises(CheckpointError, match="no model at"):
        load_pixel_model(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="not a pixel model"):
        load_pixel_model(tmp_path / "empty")


def test_image_data_from_every_source(data_dir, sheep_path, tmp_path):
    ndjson = data_dir / "quickdraw" / "simplified"
    both = load_image_data(f"{ndjson / 'circle.ndjson'},{ndjson / 'star.ndjson'}", size=16)
    assert isinstance(both, RasterSketchDataset) and both.class_names == ["circle", "star"]
    assert both.images(slice(None)).shape == (50, 1, 16, 16) and both.labels.tolist() == [0] * 25 + [1] * 25
    sheep = load_image_data(str(sheep_path), size=16, split="valid")
    assert len(sheep) == 300 and sheep.class_names == ["aaron_sheep"]
    Image.new("RGB", (10, 10), "red").save(tmp_path / "a.png")
    folder = load_image_data(str(tmp_path), size=8)
    assert isinstance(folder, ImageFolderDataset) and folder.images(0).shape == (3, 8, 8)
    with pytest.raises(DataError, match="grayscale"):
        load_image_data(str(sheep_path), size=16, channels=3)
    with pytest.raises(DataError, match="no such data file"):
        load_image_data("nowhere/at/all.npz", size=16)


def test_training_on_stroke_data_validates_the_autoencoders(sheep_path, tmp_path):
    import json

    from sketchlab.pipelines.images import make_config, train_pixel_model

    tiny = dict(image_size=16, width=4, latent_dim=2, batch_size=8)
    for kind, validates in (("wae-mmd", True), ("dcgan", False)):
        config = TrainConfig(str(tmp_path / kind), steps=2, eval_every=2, tensorboard=False, progress=False,
                             device="cpu")
        model = train_pixel_model(str(sheep_path), make_config(kind, **tiny), config)
        assert model.config.channels == 1  # taken from the data
        best = json.loads((tmp_path / kind / "best" / "best.json").read_text())
        assert bool(best["metrics"]) == validates, kind
        lines = (tmp_path / kind / "metrics.jsonl").read_text()
        assert ("valid/loss" in lines) == validates
