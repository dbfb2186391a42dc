"""The pixel models' verbs as Python functions (the CLI calls these): load image data, train, load a model,
generate, interpolate, do latent arithmetic, draw a 2-D latent plane, score anomalies.

Image data (`--data`) is one of: a folder of pictures (`data.images.ImageFolderDataset`); `openmoji` (rendered into
the cache on first use, `data.openmoji`); or stroke data rasterized on the fly, grayscale, ink bright: stroke-3 `.npz`
files or set names as `sources.resolve_data` takes them (aaron_sheep, cat, owl, ...) and Quick, Draw! `.ndjson`
files, comma-separated, one class each.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sketchlab.data.images import ImageFolderDataset
from sketchlab.data.npz import StrokeSplits
from sketchlab.data.raster import ImageBatches, RasterSketchDataset, iter_image_batches, raster_line_width
from sketchlab.errors import ConfigError, DataError
from sketchlab.models.began import BEGAN, BEGANConfig
from sketchlab.models.dcgan import DCGAN, DCGANConfig
from sketchlab.models.pixel import evaluating
from sketchlab.models.pretrained import load_saved
from sketchlab.models.wae import WAE, WAEConfig
from sketchlab.render import image_grid
from sketchlab.training.engine import Trainer, TrainConfig, seed_everything

log = logging.getLogger("sketchlab")

# --model of train-image: the class, its config and the settings the name fixes.
PIXEL_MODELS: dict[str, tuple[type, type, dict[str, Any]]] = {
    "dcgan": (DCGAN, DCGANConfig, {}),
    "wae-mmd": (WAE, WAEConfig, {"penalty": "mmd"}),
    "wae-gan": (WAE, WAEConfig, {"penalty": "gan"}),
    "began": (BEGAN, BEGANConfig, {}),
}
_BY_FOLDER_NAME = {cls.model_name: cls for cls, _, _ in PIXEL_MODELS.values()}
_BY_CONFIG = {config_class: cls for cls, config_class, _ in PIXEL_MODELS.values()}
NDJSON_SUFFIXES = (".ndjson", ".ndjson.gz")


# ----------------------------------------------------------------------------------------------------------- data


def _stroke_splits(spec: str) -> StrokeSplits:
    """Stroke data of every comma-separated item, one class each: `.ndjson` files (all their drawings in `train`),
    the rest through `pipelines.strokes.load_splits` (`.npz` paths and set names)."""
    from sketchlab.data.quickdraw import read_ndjson, simplified_to_stroke3
    from sketchlab.pipelines.strokes import load_splits

    items = [item.strip() for item in spec.split(",") if item.strip()]
    if not items:
        raise DataError("--data is empty: give an image folder, openmoji, or stroke data names")
    parts = {split: [] for split in ("train", "valid", "test")}
    labels: dict[str, list[int]] = {split: [] for split in parts}
    names = []
    for label, item in enumerate(items):
        if item.endswith(NDJSON_SUFFIXES):
            one = {"train": [simplified_to_stroke3(r["drawing"]) for r in read_ndjson(item)], "valid": [], "test": []}
            names.append(Path(item).name.split(".")[0])
        else:
            splits = load_splits(item, 10**9)
            one = {split: getattr(splits, split) for split in parts}
            names.append(splits.class_names[0])
        for split, drawings in one.items():
            parts[split] += drawings
            labels[split] += [label] * len(drawings)
    return StrokeSplits(**parts, **{f"{s}_labels": np.array(v, dtype=np.int64) for s, v in labels.items()},
                        class_names=names)


def picture_folder(spec: str, size: int) -> Path | None:
    """The folder of pictures `--data` names (`openmoji` rendered at `size` on first use), or None for stroke data."""
    path = Path(spec).expanduser()
    if path.is_dir():
        return path
    if spec.strip().lower() == "openmoji":
        from sketchlab.data.openmoji import render_openmoji

        return render_openmoji(size=size).folder
    return None


def _rasterized(splits: StrokeSplits, size: int, channels: int | None, split: str) -> RasterSketchDataset:
    if channels not in (None, 1):
        raise DataError("rasterized sketches are grayscale: use --channels 1 (or leave it out) with stroke data")
    return RasterSketchDataset(splits, size=size, line_width=raster_line_width(size), split=split)


def load_image_data(spec: str, size: int, channels: int | None = None, split: str = "train"):
    """The images of `--data` at `size` x `size`: an `ImageFolderDataset` (folders, openmoji; RGB unless
    `channels=1`; every picture, whatever `split`) or a `RasterSketchDataset` of the stroke data's `split`
    (grayscale). Both have `images(indices)`, `labels` and `class_names`."""
    folder = picture_folder(spec, size)
    if folder is not None:
        return ImageFolderDataset(folder, size=size, channels=channels or 3)
    return _rasterized(_stroke_splits(spec), size, channels, split)


def load_training_images(spec: str, size: int, channels: int | None = None):
    """`(train, valid)`: stroke data's train and valid splits (read once), or a picture folder and None."""
    folder = picture_folder(spec, size)
    if folder is not None:
        return ImageFolderDataset(folder, size=size, channels=channels or 3), None
    splits = _stroke_splits(spec)
    return _rasterized(splits, size, channels, "train"), _rasterized(splits, size, channels, "valid")


def channels_of(dataset) -> int:
    return int(dataset.images(slice(0, 1)).shape[1])


# ------------------------------------------------------------------------------------------------------- training


def make_config(kind: str, **values):
    """The config of `--model kind` (dcgan, wae-mmd, wae-gan, began) with `values` over the paper's defaults."""
    if kind not in PIXEL_MODELS:
        raise ConfigError(f"unknown pixel model {kind!r}: use one of {', '.join(PIXEL_MODELS)}")
    _, config_class, fixed = PIXEL_MODELS[kind]
    foreign = sorted(values.keys() - {field.name for field in dataclasses.fields(config_class)})
    if foreign:
        flags = ", ".join("--" + name.replace("_", "-") for name in foreign)
        raise ConfigError(f"{flags} {'is not an option' if len(foreign) == 1 else 'are not options'} of {kind}")
    return config_class(**{**values, **fixed})


def train_pixel_model(data: str, config, train_config: TrainConfig, channels: int | None = None):
    """Train (or, with `train_config.resume`, continue) the model `config` describes on the images of `data`.

    The image channels are the data's. The autoencoders (WAE, BEGAN) validate on stroke data's valid split and keep
    the best model; a DCGAN's losses say nothing about its pictures, so its best/ is its final model, as it is for
    image folders (which have no split).
    """
    config.validate()
    model_class = _BY_CONFIG[type(config)]
    dataset, valid = load_training_images(data, config.image_size, channels)
    config = dataclasses.replace(config, channels=channels_of(dataset))
    seed_everything(train_config.seed)  # the initial weights depend on the seed alone
    model = model_class(config)
    batches = ImageBatches(dataset, config.batch_size, seed=train_config.seed)
    validates = valid is not None and len(valid) and model_class is not DCGAN
    validation = (lambda: iter_image_batches(valid, config.batch_size)) if validates else None
    Trainer(model, batches, validation, train_config).fit()
    return model


def load_pixel_model(path: str | Path, device: str = "cpu"):
    """A trained pixel model from its folder (a run folder stands for its best/), in eval mode."""
    return load_saved(path, _BY_FOLDER_NAME, f"a pixel model ({', '.join(_BY_FOLDER_NAME)})", device)


# -------------------------------------------------------------------------------------------------------- drawing


# Images in one generated picture at most: a 64 x 64 grid (4,096 px a side at 64 px), decoded in one batch.
MAX_GENERATED = 4096


def generate_grid(model, n: int, seed: int | None = None, ncols: int | None = None) -> np.ndarray:
    """`n` new images in one picture."""
    if not 1 <= n <= MAX_GENERATED:
        raise DataError(f"--n must be from 1 to {MAX_GENERATED:,}, got {n}")
    return image_grid(model.generate(n, seed), ncols)


def pick_images(dataset, indices: list[int]) -> torch.Tensor:
    for i in indices:
        if not -len(dataset) <= i < len(dataset):
            raise DataError(f"image index {i} is out of range: the data has {len(dataset)} images")
    return dataset.images(torch.tensor(indices, dtype=torch.int64))


def _path_rows(decode, ends: torch.Tensor, steps: int, method: str) -> list[torch.Tensor]:
    """Decoded latent paths between the codes ends[2i] and ends[2i + 1], one tensor of images per pair."""
    from sketchlab.sampling import interpolation_path

    return [decode(interpolation_path(ends[i], ends[i + 1], steps, method)) for i in range(0, len(ends), 2)]


def interpolation_grid(model, dataset, pairs: list[tuple[int, int]], steps: int = 8,
                       method: str = "slerp") -> np.ndarray:
    """One row per pair of image indices: the first image, the codes between the two images' codes decoded (ends
    included), the second image. Needs an autoencoder (WAE, BEGAN's discriminator)."""
    if not model.can_encode:
        raise DataError("real images have no codes in a dcgan: interpolate between prior samples instead")
    if not pairs:
        raise DataError("nothing to interpolate: give at least one pair")
    images = pick_images(dataset, [i for pair in pairs for i in pair]).to(model.device)
    with evaluating(model):
        paths = _path_rows(model.decode_codes, model.encode(images), steps, method)
    rows = [torch.cat([images[2 * i : 2 * i + 1], path, images[2 * i + 1 : 2 * i + 2]]) for i, path in enumerate(paths)]
    return image_grid(torch.cat(rows), ncols=steps + 2)


def prior_interpolation_grid(model, rows: int = 4, steps: int = 8, method: str = "slerp",
                             seed: int | None = 0) -> np.ndarray:
    """`rows` rows, each decoded along the path between two prior samples drawn from `seed` (any pixel model)."""
    if rows < 1:
        raise DataError(f"--rows must be at least 1, got {rows}")
    with evaluating(model):
        paths = _path_rows(model.decode, model.seeded_latent(2 * rows, seed), steps, method)
    return image_grid(torch.cat(paths), ncols=steps)


def analogy_grid(model, dataset, a: int, b: int, others: list[int]) -> np.ndarray:
    """Latent arithmetic "a is to b as c is to ?": one row per c of `others`: a, b, c, decode(code_c + code_b -
    code_a). Needs an autoencoder."""
    if not model.can_encode:
        raise DataError("analogies need an autoencoder's codes of real images: use a wae or began model")
    if not others:
        raise DataError("give at least one image to apply the analogy to")
    images = pick_images(dataset, [a, b, *others]).to(model.device)
    with evaluating(model):
        codes = model.encode(images)
        answers = model.decode_codes(codes[2:] + codes[1] - codes[0])
    rows = [torch.stack([images[0], images[1], images[2 + i], answers[i]]) for i in range(len(others))]
    return image_grid(torch.cat(rows), ncols=4)


def latent_plane_grid(model, n: int = 15, extent: float = 2.0) -> np.ndarray:
    """A model with a 2-D latent decoded on an n x n grid over [-extent, extent]^2 prior standard deviations (a
    uniform prior: its whole square), first coordinate left to right, second top to bottom."""
    if model.config.latent_dim != 2:
        raise DataError(f"the latent plane needs a model with a 2-D latent, this one has {model.config.latent_dim}")
    if n < 2:
        raise DataError(f"the plane needs at least 2 steps a side, got {n}")
    reach = model.latent_scale * (extent if model.config.latent_prior == "normal" else 1.0)
    ticks = torch.linspace(-reach, reach, n, device=model.device)
    grid = torch.stack(torch.meshgrid(ticks, ticks, indexing="xy"), dim=-1).reshape(-1, 2)
    with evaluating(model):
        return image_grid(model.decode(grid), ncols=n)


# -------------------------------------------------------------------------------------------------- anomalies


def _encoded(model, dataset, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Reconstruction errors (N,) and codes (N, D) of every image, in eval mode."""
    errors, codes = [], []
    with evaluating(model):
        for batch in iter_image_batches(dataset, batch_size):
            images = batch["images"].to(model.device)
            errors.append(model.reconstruction_error(images).double().cpu())
            codes.append(model.encode(images).double().cpu())
    return torch.cat(errors).numpy(), torch.cat(codes).numpy()


def anomaly_scores(model, dataset, reference=None, batch_size: int = 256) -> dict[str, np.ndarray]:
    """Per image of `dataset`: `reconstruction_error` (the model's own cost: squared for a WAE, absolute for BEGAN,
    per pixel) and, given `reference` images (normal ones, e.g. the training data), `latent_distance`, the
    Euclidean distance from its code to the nearest reference code. Higher means more anomalous."""
    if not model.can_encode:
        raise DataError("anomaly scores need an autoencoder: use a wae-mmd, wae-gan or began model")
    errors, codes = _encoded(model, dataset, batch_size)
    scores = {"reconstruction_error": errors}
    if reference is not None:
        _, reference_codes = _encoded(model, reference, batch_size)
        distances = torch.cdist(torch.from_numpy(codes), torch.from_numpy(reference_codes))
        scores["latent_distance"] = distances.min(dim=1).values.numpy()
    return scores


def roc_auc(scores, anomalous) -> float:
    """Area under the ROC curve of `scores` (higher = more anomalous) against boolean labels: the probability that
    an anomalous item scores above a normal one, ties counting half (the Mann-Whitney U statistic)."""
    scores, anomalous = np.asarray(scores, np.float64), np.asarray(anomalous, bool)
    if scores.shape != anomalous.shape or scores.ndim != 1:
        raise DataError(f"{scores.shape} scores for {anomalous.shape} labels")
    n_pos = int(anomalous.sum())
    n_neg = len(anomalous) - n_pos
    if not n_pos or not n_neg:
        raise DataError("ROC AUC needs both normal and anomalous images")
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    ranks = (np.cumsum(counts) - (counts - 1) / 2)[inverse]  # 1-based, tied scores sharing their mean rank
    return float((ranks[anomalous].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def anomaly_report(model, dataset, out: str | Path, reference=None, anomalous: list[str] | None = None) -> str:
    """Score every image (`anomaly_scores`), write one CSV row each (index, class, scores, file for picture
    folders) to `out`, and return a summary: the mean scores per class and, when `anomalous` names classes of the
    data, the ROC AUC of each score for telling them from the rest."""
    import csv

    scores = anomaly_scores(model, dataset, reference)
    names = list(dataset.class_names or [])
    classes = [names[int(label)] for label in dataset.labels]
    unknown = sorted(set(anomalous or []) - set(names))
    if unknown:
        raise DataError(f"--anomalous names {', '.join(unknown)}, but the data's classes are {', '.join(names)}")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    paths = getattr(dataset, "paths", None)
    with open(out, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["index", "class", *scores, *(["file"] if paths else [])])
        for i, name in enumerate(classes):
            row = [i, name, *(f"{values[i]:.6g}" for values in scores.values())]
            writer.writerow(row + ([paths[i]] if paths else []))
    lines = [f"{len(classes)} images scored: {out}"]
    for name in names:
        mask = np.array([c == name for c in classes])
        means = ", ".join(f"{key} {values[mask].mean():.4g}" for key, values in scores.items())
        lines.append(f"  {name}: {int(mask.sum())} images, mean {means}")
    if anomalous:
        labels = np.array([c in anomalous for c in classes])
        lines += [f"ROC AUC ({key}): {roc_auc(values, labels):.3f}" for key, values in scores.items()]
    return "\n".join(lines)
