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
from sketchlab.pipelines.strokes import load_model, load_splits

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
    from sketchlab.data.raster import RasterSketchDataset, raster_line_width
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
    # So do they rendered at 32x32 with the thinner lines a 32-pixel model trains on.
    small = RasterSketchDataset(shape_splits.test, shape_splits.test_labels, size=32,
                                line_width=raster_line_width(32)).images(slice(None))
    faithful_small = evaluate_pixel_model(ImageStub(small), classifier, shape_splits, targets, n_samples=len(small))
    # (Judged as if their lines were 2 pixels wide, as before, their Frechet distance was 604, that of noise 629.)
    assert faithful_small["samples"]["prior"]["frechet"] < 0.2 * noise["samples"]["prior"]["frechet"]
    assert faithful_small["samples"]["prior"]["precision"] > noise["samples"]["prior"]["precision"]
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


# ---------------------------------------------------------------------- a CycleGAN judged by the classifier


@pytest.fixture(scope="module")
def circles_and_squares(shape_splits):
    """All 25 real circle and square doodles of the shared data, rasterized 32x32 as a CycleGAN trains on them."""
    from sketchlab.data.raster import RasterSketchDataset, raster_line_width

    drawings = shape_splits.train + shape_splits.test
    labels = np.concatenate([shape_splits.train_labels, shape_splits.test_labels])
    images = RasterSketchDataset(drawings, labels, size=32, line_width=raster_line_width(32)).images(slice(None))
    return [images[torch.from_numpy(labels == shape_splits.class_names.index(name))] for name in ("circle", "square")]


class FixedImage(torch.nn.Module):
    """A 'generator' that answers every input with the same image."""

    def __init__(self, image):
        super().__init__()
        self.image = image

    def forward(self, images):
        return self.image.expand(len(images), -1, -1, -1)


def identity_translator():
    from sketchlab.models.cyclegan import CycleGAN, CycleGANConfig

    model = CycleGAN(CycleGANConfig(image_size=32, channels_a=1, channels_b=1, width=4, resnet_blocks=1,
                                    disc_width=4))
    model.gen_ab, model.gen_ba = torch.nn.Identity(), torch.nn.Identity()
    return model


def test_an_identity_translator_scores_exactly_its_baseline(shape_classifier, shape_splits, circles_and_squares):
    from sketchlab.evaluation import evaluate_translation

    classifier, _ = shape_classifier
    circle, square = (shape_splits.class_names.index(name) for name in ("circle", "square"))
    result = evaluate_translation(identity_translator(), classifier, *circles_and_squares, circle, square,
                                  line_width=1.0)
    assert [judged["target"] for judged in result["translation"].values()] == ["square", "circle"]
    for judged in result["translation"].values():
        assert judged["count"] == 25 and judged["chance"] == 0.2
        assert judged["translated"] == judged["baseline"] and not judged["above_baseline"]
        # The judge tells circles from squares: few originals are taken for the other (measured: 0.0 and 0.04).
        assert judged["baseline"] <= 0.2
    originals, translations = result["pairs"]["AtoB"]
    assert torch.equal(originals, translations)


def test_a_translator_drawing_one_real_target_scores_near_one(shape_classifier, shape_splits, circles_and_squares,
                                                               tmp_path):
    """G_AB answers every circle with the same real square (the one the judge finds most square): that direction
    scores 1.0, far above its baseline and chance, and above its permuted control: the judge sees a square's shape,
    not its ink (measured: no permuted square is called a square); G_BA, the identity, stays at its baseline."""
    from sketchlab.evaluation import evaluate_translation
    from sketchlab.metrics.report import write_report

    classifier, _ = shape_classifier
    circles, squares = circles_and_squares
    circle, square = (shape_splits.class_names.index(name) for name in ("circle", "square"))
    probs = classifier.classify_images(squares, source_line_width=1.0)
    best = int(probs[:, square].argmax())
    assert probs[best].argmax() == square
    model = identity_translator()
    model.gen_ab = FixedImage(squares[best : best + 1])
    result = evaluate_translation(model, classifier, circles, squares, circle, square, line_width=1.0)
    to_square, to_circle = result["translation"]["AtoB"], result["translation"]["BtoA"]
    assert to_square["translated"] == 1.0 and to_square["above_baseline"] and to_square["above_chance"]
    assert to_square["permuted"] <= 0.2 and to_square["above_control"] and to_square["flips"]
    assert to_circle["translated"] == to_circle["baseline"] and not to_circle["flips"]
    report = write_report(result, tmp_path / "report")
    assert "| AtoB | square | 25 | 0.000 | 1.000 | 0.000 | 0.200 | yes / yes / yes | yes |" in report.read_text()
    # 16 rows of four 32x32 tiles (circle, translated, square, translated), each pixel drawn twice as large.
    assert Image.open(tmp_path / "report" / "translations.png").size == (2 * (4 * 34 + 2), 2 * (16 * 34 + 2))


class PermutedImage(torch.nn.Module):
    """A 'generator' that answers every input with the pixels of one image shuffled anew: noise with its ink."""

    def __init__(self, image):
        super().__init__()
        self.image = image

    def forward(self, images):
        from sketchlab.evaluation import permute_pixels

        return permute_pixels(self.image.expand(len(images), -1, -1, -1), seed=7)


def test_noise_with_the_target_ink_does_not_flip(shape_classifier, shape_splits, circles_and_squares):
    """G_AB answers every circle with the most square square's pixels, shuffled: the judge does not call that noise a
    square, and the verdict is no."""
    from sketchlab.evaluation import evaluate_translation

    classifier, _ = shape_classifier
    circles, squares = circles_and_squares
    circle, square = (shape_splits.class_names.index(name) for name in ("circle", "square"))
    best = int(classifier.classify_images(squares, source_line_width=1.0)[:, square].argmax())
    model = identity_translator()
    model.gen_ab = PermutedImage(squares[best : best + 1])
    judged = evaluate_translation(model, classifier, circles, squares, circle, square, line_width=1.0)
    _, translations = judged["pairs"]["AtoB"]
    same_pixels = squares[best : best + 1].flatten(1).sort().values.expand(len(translations), -1)
    assert torch.equal(translations.flatten(1).sort().values, same_pixels)
    assert not torch.equal(translations[0], squares[best])
    assert not judged["translation"]["AtoB"]["flips"]


class InkCounter:
    """A 'classifier' of two classes that sees only ink: class 1 when more than a fifth of an image is bright."""

    config = type("Config", (), {"num_classes": 2, "class_names": ["blank", "inky"]})

    def classify_images(self, images, source_line_width=2.0):
        inky = ((images > 0).double().mean(dim=(1, 2, 3)) > 0.2).numpy().astype(float)
        return np.stack([1 - inky, inky], axis=1)


def test_a_judge_of_ink_alone_is_caught_by_the_permuted_control():
    """Blank originals, noise translations with 30% ink: a judge that counts ink calls every translation the target
    (far above the baseline 0 and chance 0.5), but it calls the permuted translations the target just as often, the
    same pixels in other places: not above the control, so no flip."""
    from sketchlab.evaluation import judge_translation, permute_pixels

    n = 40
    originals = -torch.ones(n, 1, 8, 8)
    translations = permute_pixels(torch.where(torch.arange(64) < 20, 1.0, -1.0).view(1, 1, 8, 8).expand(n, -1, -1, -1))
    judged = judge_translation(InkCounter(), originals, translations, target=1, seed=3)
    assert judged["baseline"] == 0.0 and judged["translated"] == judged["permuted"] == 1.0
    assert judged["above_baseline"] and judged["above_chance"] and not judged["above_control"]
    assert not judged["flips"] and judged["control_standard_error"] == 0.0


def test_permute_pixels_keeps_each_image_s_pixels_and_is_seeded():
    from sketchlab.evaluation import permute_pixels

    images = torch.rand(3, 3, 5, 5)
    shuffled = permute_pixels(images, seed=1)
    assert torch.equal(shuffled, permute_pixels(images, seed=1)) and not torch.equal(shuffled, images)
    # Each pixel's colour moves as a whole: the same (R, G, B) triples, in another order.
    for image, moved in zip(images, shuffled):
        assert sorted(map(tuple, image.flatten(1).T.tolist())) == sorted(map(tuple, moved.flatten(1).T.tolist()))


class Thresholds:
    """A 'classifier' of two classes: class 1 when an image's first pixel is bright."""

    config = type("Config", (), {"num_classes": 2, "class_names": ["dark", "bright"]})

    def classify_images(self, images, source_line_width=2.0):
        bright = (images[:, 0, 0, 0] > 0).double().numpy()
        return np.stack([1 - bright, bright], axis=1)


@pytest.mark.parametrize("n, above", [(10, False), (40, True)])
def test_above_baseline_means_more_than_three_standard_errors(n, above):
    """Baseline 0.2, translated 0.6: the difference 0.4 against 3 SE = 3 sqrt((0.2 * 0.8 + 0.6 * 0.4) / n), which is
    0.6 for 10 images and 0.3 for 40."""
    from sketchlab.evaluation import judge_translation

    def images(fraction_bright):
        bright = torch.arange(n) < round(fraction_bright * n)
        return torch.where(bright, 1.0, -1.0).view(n, 1, 1, 1).expand(n, 1, 4, 4)

    judged = judge_translation(Thresholds(), images(0.2), images(0.6), target=1)
    assert judged["baseline"] == pytest.approx(0.2) and judged["translated"] == pytest.approx(0.6)
    assert judged["standard_error"] == pytest.approx(np.sqrt(0.4 / n))
    assert judged["above_baseline"] is above and judged["target"] == "bright"
    assert judged["chance_standard_error"] == pytest.approx(np.sqrt(0.25 / n)) and judged["above_chance"] is False
    assert judged["flips"] is False  # never above chance here


def test_evaluate_judges_a_cyclegan_in_both_directions(runs, shape_files, sheep_path, tmp_path, capsys):
    """End to end: a tiny CycleGAN circle <-> square, its test drawings translated and judged; one-line errors for
    categories the classifier does not know and for missing domains."""
    model = tmp_path / "cyclegan"
    run_cli("train-translate", "--data-a", shape_files / "circle.npz", "--data-b", shape_files / "square.npz",
            "--image-size", 32, "--width", 4, "--resnet-blocks", 1, "--disc-width", 4, "--steps", 2,
            "--out-dir", model, *QUIET)
    domains = ["--data-a", shape_files / "circle.npz", "--data-b", shape_files / "square.npz"]
    run_cli("evaluate", "--model", model, "--classifier", runs / "classifier", *domains, "--out", tmp_path / "report")
    printed = capsys.readouterr().out
    assert "AtoB:" in printed and "BtoA:" in printed and "report:" in printed and "permuted translations" in printed
    numbers = json.loads((tmp_path / "report" / "report.json").read_text())
    assert numbers["model"]["kind"] == "cyclegan" and numbers["data"]["as"] == ["circle", "square"]
    for direction, source, target in (("AtoB", "circle", "square"), ("BtoA", "square", "circle")):
        judged = numbers["translation"][direction]
        assert judged["count"] == len(load_splits(str(shape_files / f"{source}.npz"), 10**9).test) > 0
        assert judged["target"] == target and judged["chance"] == 0.5 and 0 <= judged["translated"] <= 1
        assert 0 <= judged["permuted"] <= 1 and judged["control_standard_error"] >= 0 and judged["flips"] is not None
    assert "translations as target" in (tmp_path / "report" / "report.md").read_text()
    assert Image.open(tmp_path / "report" / "translations.png").format == "PNG"
    for args, message in ((["--class-a", "owl"], "the classifier does not know 'owl'"),
                          (["--data-b", sheep_path], "pass --class-b NAME"),
                          (["--data", shape_files / "circle.npz"], "give --data-a and --data-b")):
        with pytest.raises(SystemExit):
            run_cli("evaluate", "--model", model, "--classifier", runs / "classifier", *domains, *args)
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
    run_cli("evaluate", "--model", model, "--classifier", runs / "classifier", *domains[:2], "--data-b", sheep_path,
            "--class-b", "square", "--out", tmp_path / "sheep-as-squares")
    assert json.loads((tmp_path / "sheep-as-squares" / "report.json").read_text())["data"]["as"][1] == "square"
