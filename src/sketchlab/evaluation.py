"""Judging models: train and test the sketch classifier, then measure a generative model against real drawings.

A Sketch-RNN gets its test-set losses (L_R = L_s + L_p and L_KL, as the paper's Table 1), the recognizability of its
reconstructions (the protocol of the Sketch-RNN analysis paper, `metrics.recognizability`) and of its samples per
temperature, and the Fréchet distance plus precision/recall between real test drawings and its samples in the
classifier's penultimate features. A pixel model's images go to the same classifier (`evaluate_pixel_model`), and
so do a CycleGAN's translations of held-out drawings into the other domain's category (`evaluate_translation`).
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sketchlab.data.datasets import StrokeDataset, iter_batches
from sketchlab.data.npz import StrokeSplits
from sketchlab.data.raster import ImageBatches, iter_image_batches, raster_line_width
from sketchlab.errors import DataError
from sketchlab.metrics import (
    DEFAULT_TEMPERATURES,
    classifier_fn,
    frechet_distance,
    precision_recall,
    reconstruction_recognizability,
    sketch_rnn_decode_fn,
    target_recognizability,
)
from sketchlab.models.classifier import ClassifierConfig, SketchClassifier, raster_set
from sketchlab.models.sketch_rnn import SketchRNN
from sketchlab.pipelines.strokes import load_splits
from sketchlab.training.engine import Trainer, TrainConfig, average_evaluation, seed_everything

SAMPLE_TEMPERATURES = (0.2, 0.4, 0.6, 0.8, 1.0)


# ---------------------------------------------------------------------- the classifier


def train_classifier(data: str | StrokeSplits, config: ClassifierConfig, train_config: TrainConfig,
                     max_len: int = 10**9) -> SketchClassifier:
    """Train a classifier on the train split of `data` (a `--data` value, one class per file, or StrokeSplits) with
    the engine's Trainer; the valid split, when there is one, picks `best/`. Returns the final model (eval mode)."""
    splits = data if isinstance(data, StrokeSplits) else load_splits(data, max_len)
    if len(splits.class_names) < 2:
        raise DataError(f"a classifier needs at least 2 categories, got {splits.class_names}: "
                        "give several files or categories, e.g. --data cat,owl,pig")
    config = dataclasses.replace(config, num_classes=len(splits.class_names), class_names=list(splits.class_names))
    seed_everything(train_config.seed)
    model = SketchClassifier(config)
    batches = ImageBatches(raster_set(splits.train, splits.train_labels, config), config.batch_size,
                           seed=train_config.seed)
    valid = raster_set(splits.valid, splits.valid_labels, config) if splits.valid else None
    validation = (lambda: iter_image_batches(valid, 256)) if valid is not None else None
    Trainer(model, batches, validation, train_config).fit()
    return model.eval()


def score_classifier(classifier: SketchClassifier, drawings: Sequence, labels) -> dict[str, Any]:
    """Top-1 and top-3 accuracy, mean loss and the confusion matrix (rows: true class, columns: predicted)."""
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    if len(labels) != len(drawings):
        raise DataError(f"{len(drawings)} drawings but {len(labels)} labels")
    if len(labels) == 0:
        raise DataError("no test drawings to measure the classifier on")
    n_classes = classifier.config.num_classes
    probs = classifier.classify(drawings)
    ranked = np.argsort(-probs, axis=1, kind="stable")
    confusion = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(confusion, (labels, ranked[:, 0]), 1)
    return {"count": len(labels),
            "top1": float((ranked[:, 0] == labels).mean()),
            "top3": float((ranked[:, :3] == labels[:, None]).any(axis=1).mean()),
            "loss": float(-np.log(np.maximum(probs[np.arange(len(labels)), labels], 1e-12)).mean()),
            "confusion": confusion.tolist(), "class_names": classifier.config.class_names}


def classifier_labels(classifier: SketchClassifier, class_names: Sequence[str],
                      override: str | None = None, flag: str = "--class") -> np.ndarray:
    """For each data class, the classifier's index of the same category (by name, or `override` for a one-class
    data set whose file is named otherwise, e.g. aaron_sheep -> sheep). `flag` is the option errors point to."""
    known = classifier.config.class_names or []
    wanted = [override] if override is not None else list(class_names)
    if override is not None and len(class_names) != 1:
        raise DataError(f"{flag} names one category, but the data has {len(class_names)}")
    missing = [name for name in wanted if name not in known]
    if missing:
        raise DataError(f"the classifier does not know {', '.join(map(repr, missing))} (it knows "
                        f"{', '.join(known[:8])}{'...' if len(known) > 8 else ''}); pass {flag} NAME to map the data")
    return np.array([known.index(name) for name in wanted], dtype=np.int64)


def domain_class(classifier: SketchClassifier, class_names: Sequence[str], override: str | None = None,
                 flag: str = "--class") -> int:
    """The classifier's index of a translation domain's one category: `override`, else the name of the data's only
    class (a domain pooled from several files, e.g. face and smiley face, must be named with `flag`)."""
    if override is None and len(class_names) != 1:
        raise DataError(f"the data holds {len(class_names)} categories ({', '.join(class_names)}): "
                        f"name the one the classifier should see with {flag} NAME")
    return int(classifier_labels(classifier, [override or class_names[0]], flag=flag)[0])


# ---------------------------------------------------------------------- generated drawings and images


def judge_generated(probs: np.ndarray, features: np.ndarray, real_features: np.ndarray,
                    targets: Sequence[int]) -> dict[str, Any]:
    """Recognizability of generated items (classifier probabilities) and their distance to the real ones in
    feature space: Fréchet distance, and precision/recall when both sets are large enough."""
    result = target_recognizability(probs, targets)
    result["frechet"] = frechet_distance(real_features, features)
    if min(len(features), len(real_features)) > 3:
        result.update(precision_recall(real_features, features))
    return result


def sketch_rnn_test_losses(model: SketchRNN, drawings: Sequence, labels, batch_size: int = 100) -> dict[str, float]:
    """The paper's losses over a whole split at the final KL weight (mean over drawings)."""
    config = model.config
    dataset = StrokeDataset(list(drawings), labels, config.max_seq_len, config.scale_factor)
    device = model.head.weight.device
    losses = average_evaluation(model, iter_batches(dataset, batch_size),
                                lambda batch: {key: value.to(device) for key, value in batch.items()})
    return {**losses, "count": len(dataset)}


def real_references(classifier: SketchClassifier, splits: StrokeSplits, targets: np.ndarray,
                    rng: np.random.Generator) -> tuple[dict[str, Any], np.ndarray]:
    """What real drawings score, as the yardstick for generated ones: the test drawings' recognizability, and real
    training drawings judged like samples (the floor of the Fréchet distance). Also the test drawings' features."""
    if not splits.test:
        raise DataError("the data has no test drawings to evaluate on")
    test_labels = targets[np.asarray(splits.test_labels)]
    real_probs = classifier.classify(splits.test)
    real_features = classifier.embed(splits.test)
    pick = rng.choice(len(splits.train), size=min(len(splits.train), len(splits.test)), replace=False)
    train = [splits.train[i] for i in pick]
    references = {
        "real_test": {**target_recognizability(real_probs, targets),
                      "true_class_mean": float(real_probs[np.arange(len(test_labels)), test_labels].mean()),
                      "true_class_correct": float((real_probs.argmax(axis=1) == test_labels).mean())},
        "real_train": judge_generated(classifier.classify(train), classifier.embed(train), real_features, targets),
    }
    return references, real_features


def evaluate_sketch_rnn(model: SketchRNN, classifier: SketchClassifier, splits: StrokeSplits, targets: np.ndarray,
                        temperatures: Sequence[float] = DEFAULT_TEMPERATURES,
                        sample_temperatures: Sequence[float] = SAMPLE_TEMPERATURES, n_samples: int = 200,
                        n_reconstruct: int = 200, seed: int = 0) -> dict[str, Any]:
    """Every measure of the module docstring for a Sketch-RNN trained on `splits` (labels index `targets`, the
    classifier's class of each data class). Samples and the reconstructed drawings are kept under "drawings"."""
    rng = np.random.default_rng(seed)
    references, real_features = real_references(classifier, splits, targets, rng)
    result: dict[str, Any] = {"test_losses": sketch_rnn_test_losses(model, splits.test, splits.test_labels),
                              **references, "samples": {}, "drawings": {"samples": {}}}
    if model.config.conditional:
        pick = np.sort(rng.choice(len(splits.test), size=min(n_reconstruct, len(splits.test)), replace=False))
        originals = [splits.test[i] for i in pick]
        kept: dict[float, list] = {}

        def decode(drawings: list, temperature: float) -> list:
            kept[temperature] = sketch_rnn_decode_fn(model, seed)(drawings, temperature)
            return kept[temperature]

        recon = reconstruction_recognizability(decode, classifier_fn(classifier), originals,
                                               targets[np.asarray(splits.test_labels)[pick]], temperatures)
        best = [kept[t][i] for i, t in enumerate(recon.pop("best_temperature"))]
        recon.pop("best_prob"), recon.pop("correct")
        result["reconstruction"] = recon
        result["drawings"]["originals"], result["drawings"]["reconstructions"] = originals, best
    for temperature in sample_temperatures:
        samples = model.sample(n_samples, temperature=temperature, seed=seed)
        result["samples"][float(temperature)] = judge_generated(classifier.classify(samples),
                                                                classifier.embed(samples), real_features, targets)
        result["drawings"]["samples"][float(temperature)] = samples
    return result


def evaluate_pixel_model(model, classifier: SketchClassifier, splits: StrokeSplits, targets: np.ndarray,
                         n_samples: int = 200, seed: int = 0) -> dict[str, Any]:
    """A pixel model's generated images (`model.generate`, in [-1, 1], ink bright) judged against the real drawings
    of `splits` as `evaluate_sketch_rnn` judges samples, their lines taken to be as wide as the rasterized sketches
    such a model trains on at their size (`raster_line_width`). The images are kept under "images"."""
    references, real_features = real_references(classifier, splits, targets, np.random.default_rng(seed))
    images = model.generate(n_samples, seed=seed)
    line_width = raster_line_width(images.shape[-1])
    judged = judge_generated(classifier.classify_images(images, source_line_width=line_width),
                             classifier.embed_images(images, source_line_width=line_width), real_features, targets)
    return {**references, "samples": {"prior": judged}, "images": images}


def permute_pixels(images: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """Each image (N, C, H, W) with its pixel positions shuffled (one seeded permutation per image, the same for all
    its channels): the same ink and colour histogram, no shape. The control of `judge_translation`."""
    n, channels, height, width = images.shape
    order = torch.rand(n, height * width, generator=torch.Generator().manual_seed(seed)).argsort(dim=1)
    flat = images.reshape(n, channels, height * width)
    return flat.gather(2, order[:, None].expand(-1, channels, -1).to(flat.device)).reshape(images.shape)


def judge_translation(classifier: SketchClassifier, originals, translations, target: int,
                      line_width: float | None = 2.0, seed: int = 0) -> dict[str, Any]:
    """Does translating drawings make the judge see the target category? The fraction of `translations` classified
    as `target` against three references: the fraction of their `originals` (the judge's own error on the source
    category: the baseline), chance (1 / classes), and the fraction of the translations with their pixels permuted
    (`permute_pixels`, seeded: the control, what ink amount and grey levels alone earn); both images (N, C, S, S) in
    [-1, 1], lines `line_width` wide. The translations "flip to the target" only when above all three.

    "above" means more than 3 binomial standard errors: for the baseline and the control, of the difference of two
    fractions each measured on n images (unpooled; pairing the same drawings would only make it smaller); for
    chance, a known rate, of the translated fraction under it."""
    n = len(originals)
    if n == 0 or len(translations) != n:
        raise DataError(f"{n} originals and {len(translations)} translations: need the same number, at least one")

    def as_target(images) -> float:
        return float((classifier.classify_images(images, source_line_width=line_width).argmax(axis=1)
                      == target).mean())

    def difference_error(first: float, second: float) -> float:
        return math.sqrt((first * (1 - first) + second * (1 - second)) / n)

    baseline, translated = as_target(originals), as_target(translations)
    permuted = as_target(permute_pixels(translations, seed))
    chance = 1 / classifier.config.num_classes
    error, control_error = difference_error(baseline, translated), difference_error(permuted, translated)
    chance_error = math.sqrt(chance * (1 - chance) / n)
    above = {"above_baseline": translated - baseline > 3 * error,
             "above_chance": translated - chance > 3 * chance_error,
             "above_control": translated - permuted > 3 * control_error}
    return {"count": n, "target": (classifier.config.class_names or [str(target)])[target], "baseline": baseline,
            "translated": translated, "standard_error": error, "chance": chance, "chance_standard_error": chance_error,
            "permuted": permuted, "control_standard_error": control_error, **above, "flips": all(above.values())}


def translate_all(model, images: torch.Tensor, direction: str, batch_size: int = 64) -> torch.Tensor:
    """`model.translate` over any number of images, a batch at a time, back on the CPU."""
    return torch.cat([model.translate(chunk, direction).cpu() for chunk in images.split(batch_size)])


def evaluate_translation(model, classifier: SketchClassifier, domain_a, domain_b, target_a: int, target_b: int,
                         line_width: float | None = 2.0, seed: int = 0) -> dict[str, Any]:
    """A CycleGAN's held-out images of both domains (N, C, S, S) translated A -> B and B -> A, each direction
    judged by `judge_translation` with the other domain's category (the classifier's index `target_b` / `target_a`)
    as the target (`seed`: the permuted control's). The originals and translations are kept under "pairs" for the
    report's grid."""
    result: dict[str, Any] = {"translation": {}, "pairs": {}}
    for direction, originals, target in (("AtoB", domain_a, target_b), ("BtoA", domain_b, target_a)):
        translations = translate_all(model, originals, direction)
        result["translation"][direction] = judge_translation(classifier, originals, translations, target,
                                                             line_width, seed)
        result["pairs"][direction] = (originals, translations)
    return result


def model_summary(path: str | Path, model) -> dict[str, Any]:
    """What a report says about a model: where it came from and its configuration."""
    return {"path": str(path), "kind": model.model_name, "config": dataclasses.asdict(model.config),
            "parameters": sum(p.numel() for p in model.parameters())}


def classifier_summary(path: str | Path, classifier: SketchClassifier) -> dict[str, Any]:
    """What a report says about its classifier, with the test accuracy `classifier train` wrote beside it (or, for a
    zoo model, its card's)."""
    from sketchlab.zoo import CARD_FILE, resolve_model_path

    folder = resolve_model_path(path)
    summary: dict[str, Any] = {"path": str(path), "class_names": classifier.config.class_names}
    for scores in (folder / "classifier.json", folder.parent / "classifier.json", folder / CARD_FILE):
        if scores.is_file():
            try:
                found = json.loads(scores.read_text())
            except (OSError, json.JSONDecodeError, UnicodeDecodeError):
                break  # a damaged score file only costs the report a number
            found = found.get("test", found)  # a card keeps them under "test"
            summary.update(top1=found.get("top1"), top3=found.get("top3"))
            break
    return summary
