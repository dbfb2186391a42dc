"""Evaluation end to end: `classifier train` on real categories, `evaluate` of a tiny Sketch-RNN, the report files."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from sketchlab.cli import main
from sketchlab.data.datasets import StrokeDataset, make_batch
from sketchlab.evaluation import classifier_labels, evaluate_sketch_rnn, sketch_rnn_test_losses
from sketchlab.models.sketch_rnn import SketchRNN, SketchRNNConfig
from sketchlab.pipelines import load_model, load_splits

TINY = ["--enc-hidden", "16", "--dec-hidden", "32", "--z-size", "8", "--num-mixture", "3", "--batch-size", "16"]
QUIET = ["--no-progress", "--no-tensorboard"]


def run_cli(*args) -> None:
    main([str(a) for a in args])


@pytest.fixture(scope="module")
def shape_files(tmp_path_factory, data_dir):
    """Two real categories as stroke-3 .npz files with train/valid/test splits, in one folder."""
    folder = tmp_path_factory.mktemp("shapes")
    for name in ("circle", "square"):
        run_cli("data", "build", data_dir / "quickdraw" / "raw" / f"{name}.ndjson", "--out", folder / f"{name}.npz",
                "--valid-fraction", "0.1", "--test-fraction", "0.3")
    return folder


@pytest.fixture(scope="module")
def runs(shape_files, tmp_path_factory):
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("runs")
    run_cli("classifier", "train", "--data", shape_files, "--out-dir", out / "classifier", "--steps", 60,
            "--eval-every", 30, *QUIET)
    run_cli("train", "--data", shape_files / "circle.npz", "--out-dir", out / "circle", "--steps", 4,
            "--eval-every", 0, *QUIET, *TINY)
    return out


def test_classifier_train_writes_a_model_and_its_test_report(runs):
    folder = runs / "classifier"
    assert (folder / "best" / "model.safetensors").is_file()
    report = json.loads((folder / "classifier.json").read_text())
    assert report["class_names"] == ["circle", "square"]
    assert np.sum(report["confusion"]) == report["count"] > 0
    assert report["top1"] >= 0.75  # circles and squares apart after 60 steps (measured: 1.0)
    assert report["top3"] == 1.0  # two classes: always within the top 3
    assert Image.open(folder / "confusion.png").format == "PNG"
    assert "top-1" in (folder / "classifier.md").read_text()


def test_evaluate_writes_report_plots_and_json(runs, shape_files, tmp_path):
    out = tmp_path / "report"
    run_cli("evaluate", "--model", runs / "circle", "--classifier", runs / "classifier", "--data",
            shape_files / "circle.npz", "--n-samples", 6, "--n-reconstruct", 4, "--temperatures", "0.3,1.0",
            "--sample-temperatures", "0.5,1.0", "--seed", 3, "--out", out)
    numbers = json.loads((out / "report.json").read_text())
    assert numbers["data"]["as"] == ["circle"]
    assert numbers["classifier"]["top1"] >= 0.75  # read from the classifier.json beside the model
    assert np.isfinite([numbers["test_losses"][key] for key in ("l_r", "l_s", "l_p", "l_kl")]).all()
    recon = numbers["reconstruction"]
    assert recon["count"] == 4 and 0 <= recon["mean"] <= 1 and sum(recon["histogram"].values()) == 4
    assert set(recon["by_temperature"]) == {"0.3", "1.0"}
    for temperature in ("0.5", "1.0"):
        samples = numbers["samples"][temperature]
        assert samples["count"] == 6 and 0 <= samples["fraction_correct"] <= 1 and samples["frechet"] >= 0
    for name in ("report.md", "temperatures.png", "histogram.png", "samples_t0.5.png", "reconstructions.png"):
        assert (out / name).is_file(), name
    text = (out / "report.md").read_text()
    assert "sketchlab evaluate" in text and "L_KL" in text and "![temperature curves](temperatures.png)" in text


def test_evaluate_refuses_a_category_the_classifier_does_not_know(runs, sheep_path, capsys):
    with pytest.raises(SystemExit):
        run_cli("evaluate", "--model", runs / "circle", "--classifier", runs / "classifier", "--data", sheep_path)
    message = capsys.readouterr().err.strip()
    assert message.startswith("error: the classifier does not know 'aaron_sheep'") and "--class" in message
    assert "\n" not in message


def test_test_losses_weigh_every_drawing_equally(runs, shape_files):
    """The mean over batches of 3 equals the losses of one batch holding every test drawing."""
    model = load_model(runs / "circle")
    splits = load_splits(str(shape_files / "circle.npz"), model.config.max_seq_len)
    # One batch, built by hand; the per-batch seeded z noise differs, so compare an unconditional twin instead.
    uncond = SketchRNN(SketchRNNConfig(**{**vars(model.config), "conditional": False})).eval()
    batched = sketch_rnn_test_losses(uncond, splits.test, splits.test_labels, batch_size=3)
    assert batched["count"] == len(splits.test) > 3
    data = StrokeDataset(splits.test, splits.test_labels, uncond.config.max_seq_len, uncond.config.scale_factor)
    whole = uncond.evaluate(make_batch(data.strokes, data.lengths, data.labels))
    for key in ("l_r", "l_s", "l_p"):
        assert batched[key] == pytest.approx(whole[key], rel=1e-5)


def test_evaluate_sketch_rnn_maps_several_classes(runs, shape_files):
    from sketchlab.models.classifier import SketchClassifier

    classifier = SketchClassifier.from_pretrained(runs / "classifier")
    splits = load_splits(f"{shape_files / 'square.npz'},{shape_files / 'circle.npz'}", 250)
    targets = classifier_labels(classifier, splits.class_names)
    np.testing.assert_array_equal(targets, [1, 0])  # data order square, circle; classifier order circle, square
    model = load_model(runs / "circle")
    result = evaluate_sketch_rnn(model, classifier, splits, targets, temperatures=[0.5], sample_temperatures=[0.5],
                                 n_samples=4, n_reconstruct=3)
    # Real test drawings scored on their own classes: the trained classifier mostly agrees.
    assert result["real_test"]["true_class_correct"] >= 0.75
    assert result["real_test"]["fraction_correct"] == 1.0  # both classes are targets: any prediction counts
    assert len(result["drawings"]["reconstructions"]) == 3


class ImageStub:
    """A pixel 'model' whose generate returns fixed images (N, 1, 64, 64) in [-1, 1]."""

    def __init__(self, images):
        self.images = images

    def generate(self, n, seed=None):
        return self.images[:n]


def test_pixel_model_images_go_straight_to_the_classifier(shape_classifier, shape_splits, tmp_path):
    from sketchlab.data.raster import RasterSketchDataset
    from sketchlab.evaluation import evaluate_pixel_model
    from sketchlab.metrics.report import write_report

    classifier, _ = shape_classifier
    targets = np.arange(len(shape_splits.class_names))
    real = RasterSketchDataset(shape_splits.test, shape_splits.test_labels, size=64).images(slice(None))
    faithful = evaluate_pixel_model(ImageStub(real), classifier, shape_splits, targets, n_samples=len(real))
    noise = evaluate_pixel_model(ImageStub(torch.rand(len(real), 1, 64, 64) * 2 - 1), classifier, shape_splits,
                                 targets, n_samples=len(real))
    # The test drawings rendered at 64x64 and shrunk by the classifier look like its own 28x28 renderings.
    assert faithful["samples"]["prior"]["frechet"] < 0.2 * noise["samples"]["prior"]["frechet"]
    assert faithful["samples"]["prior"]["precision"] > noise["samples"]["prior"]["precision"]
    report = write_report(faithful, tmp_path / "pixel")
    assert (tmp_path / "pixel" / "samples.png").is_file() and "prior" in report.read_text()


def test_evaluate_takes_a_pixel_model(runs, shape_files, tmp_path, capsys):
    run_cli("train-image", "--model", "dcgan", "--data", shape_files / "circle.npz", "--image-size", 32, "--width", 8,
            "--disc-width", 8, "--batch-size", 8, "--steps", 2, "--out-dir", tmp_path / "dcgan", *QUIET)
    run_cli("evaluate", "--model", tmp_path / "dcgan", "--classifier", runs / "classifier", "--data",
            shape_files / "circle.npz", "--n-samples", 8, "--out", tmp_path / "report")
    assert "samples classified as the category" in capsys.readouterr().out
    numbers = json.loads((tmp_path / "report" / "report.json").read_text())
    assert numbers["model"]["kind"] == "dcgan" and numbers["samples"]["prior"]["count"] == 8
    assert "test_losses" not in numbers
    assert Image.open(tmp_path / "report" / "samples.png").size[0] >= 8 * 32
