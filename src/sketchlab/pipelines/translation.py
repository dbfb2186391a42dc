"""CycleGAN's verbs as Python functions (the CLI calls these): name the two domains, train, load a model, pick the
images to translate, draw them beside their translations. Each domain's data is any `--data` of
`pipelines.images.load_image_data`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch

from sketchlab.data.images import PairedImageBatches, load_images
from sketchlab.errors import DataError
from sketchlab.models.cyclegan import CycleGAN, side_by_side
from sketchlab.models.pretrained import load_saved
from sketchlab.pipelines.images import channels_of, load_image_data, picture_folder
from sketchlab.render import image_grid
from sketchlab.training.engine import Trainer, TrainConfig, seed_everything


def translation_domains(data: str | None, data_a: str | None, data_b: str | None) -> tuple[str, str]:
    """The `--data` specs of domains A and B: `data_a` and `data_b`, or `data`'s trainA/ and trainB/ folders (the
    layout of the CycleGAN paper's data sets)."""
    if data is not None and (data_a or data_b):
        raise DataError("give either --data (a folder with trainA/ and trainB/) or --data-a and --data-b, not both")
    if data is not None:
        folders = [Path(data).expanduser() / name for name in ("trainA", "trainB")]
        missing = [str(folder) for folder in folders if not folder.is_dir()]
        if missing:
            raise DataError(f"--data needs the folders trainA/ and trainB/: no {', '.join(missing)}")
        return str(folders[0]), str(folders[1])
    if not data_a or not data_b:
        raise DataError("name both domains: --data-a and --data-b (or --data, a folder with trainA/ and trainB/)")
    return data_a, data_b


def train_translation(data_a: str, data_b: str, config, train_config: TrainConfig, channels_a: int | None = None,
                      channels_b: int | None = None) -> CycleGAN:
    """Train (or continue) a CycleGAN between the images of `data_a` and `data_b` (each any `--data` of
    `load_image_data`; stroke data's train split). The channels are the data's; unless `config.lr_schedule_steps`
    is set, the learning rate decays over the second half of `train_config.steps`. No validation: best/ is the
    final model."""
    config.validate()
    domain_a = load_image_data(data_a, config.image_size, channels_a)
    domain_b = load_image_data(data_b, config.image_size, channels_b)
    config = dataclasses.replace(config, channels_a=channels_of(domain_a), channels_b=channels_of(domain_b),
                                 lr_schedule_steps=config.lr_schedule_steps or train_config.steps)
    seed_everything(train_config.seed)
    model = CycleGAN(config)
    batches = PairedImageBatches(domain_a, domain_b, config.batch_size, seed=train_config.seed)
    Trainer(model, batches, None, train_config).fit()
    return model


def load_translation_model(path: str | Path, device: str = "cpu") -> CycleGAN:
    """A trained CycleGAN from its folder (a run folder stands for its best/), in eval mode."""
    return load_saved(path, {CycleGAN.model_name: CycleGAN}, "a cyclegan", device)


def _domain_channels(model: CycleGAN, domain: str) -> int:
    return model.config.channels_a if domain == "a" else model.config.channels_b


def domain_data(model: CycleGAN, spec: str, domain: str, split: str = "test"):
    """The images of `spec` (any `--data` of `load_image_data`) as the model's domain `domain` ("a" or "b") was
    trained on: stroke data's `split` rasterized at the model's size, pictures resized to it. A DataError when
    there are none, or when stroke data (grayscale) meets a domain of colour pictures."""
    channels = _domain_channels(model, domain)
    if channels != 1 and picture_folder(spec, model.config.image_size) is None:
        raise DataError(f"domain {domain.upper()} of this model is colour pictures: {spec} holds drawings (grayscale)")
    dataset = load_image_data(spec, model.config.image_size, channels, split)
    if not len(dataset):
        hint = " (.ndjson files hold train drawings only: --split train, or `sketchlab data build` a .npz)"
        raise DataError(f"{spec} has no {split} drawings{hint if split != 'train' else ''}")
    return dataset


def translation_inputs(model: CycleGAN, direction: str, files: list[str] | None = None, data: str | None = None,
                       split: str = "test", n: int = 8) -> torch.Tensor:
    """What `translate` translates: the picture `files`, or the first `n` images of `data` (a stroke set's `split`
    rasterized as the model was trained: a doodle becomes what the model makes of its source domain)."""
    if bool(files) == (data is not None):
        raise DataError("give either picture FILEs or --data (drawings or pictures), one of the two")
    source = "a" if direction == "AtoB" else "b"
    if files:
        return load_images(files, model.config.image_size, _domain_channels(model, source))
    if n < 1:
        raise DataError(f"--n must be at least 1, got {n}")
    return domain_data(model, data, source, split).images(slice(0, n))


def translation_grid(model: CycleGAN, images: torch.Tensor, direction: str = "AtoB") -> np.ndarray:
    """One row per image of the model's source domain (`translation_inputs`): the image and its translation."""
    return image_grid(side_by_side(images, model.translate(images, direction)), ncols=2)
