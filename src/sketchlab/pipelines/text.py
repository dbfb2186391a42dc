"""StackGAN's verbs as Python functions (the CLI calls these): train a stage on pictures with texts, load a model,
draw pictures for prompts.

Data (`--data`) is any of `pipelines.images.load_image_data`'s: `openmoji` (each emoji's Unicode name is its text),
Quick, Draw! `.ndjson` files or stroke data names (the category name is the text), or a picture folder (the
sub-folder name). Stage I trains at `image_size`; Stage II at `upscale` times that, on top of a Stage-I model folder.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch

from sketchlab.data.texts import TextImageBatches, image_texts
from sketchlab.errors import ConfigError, DataError
from sketchlab.models.pretrained import load_saved
from sketchlab.models.stackgan import STAGE_ONE_FIELDS, StackGAN, StackGANConfig, build_vocabulary
from sketchlab.pipelines.images import channels_of, load_training_images
from sketchlab.render import image_grid
from sketchlab.training.engine import Trainer, TrainConfig, seed_everything


def load_stackgan(path: str | Path, device: str = "cpu") -> StackGAN:
    """A trained StackGAN from its folder (a run folder stands for its best/), in eval mode."""
    return load_saved(path, {StackGAN.model_name: StackGAN},
                      "a stackgan: only a stackgan draws from --prompt", device)


def train_stackgan(data: str, config: StackGANConfig, train_config: TrainConfig,
                   channels: int | None = None) -> StackGAN:
    """Train (or continue) one stage: Stage I from scratch (the vocabulary from the data's texts), or, with
    `config.stage == 2`, Stage II over the frozen Stage-I model in the folder `config.stage_one`, whose
    architecture and vocabulary it takes. No validation (a GAN's losses say nothing about its pictures): best/ is
    the final model."""
    if config.stage == 2:
        if not config.stage_one:
            raise ConfigError("stage 2 refines a trained Stage I: give its model folder (--stage-one)")
        first = load_stackgan(config.stage_one)
        config = dataclasses.replace(config, **{name: getattr(first.config, name) for name in STAGE_ONE_FIELDS})
    elif config.stage_one:
        raise ConfigError("--stage-one is for stage 2 only")
    config.validate()
    dataset, _ = load_training_images(data, config.output_size, channels)
    texts = image_texts(dataset)
    if config.stage == 1:
        config = dataclasses.replace(config, vocabulary=build_vocabulary(texts), channels=channels_of(dataset))
    elif channels_of(dataset) != config.channels:
        raise DataError(f"the Stage-I model draws {config.channels}-channel images, the data has "
                        f"{channels_of(dataset)}: use the same --channels")
    if not config.vocabulary:
        raise DataError(f"the pictures of {data} have no texts to learn from")
    seed_everything(train_config.seed)  # the initial weights depend on the seed alone
    model = StackGAN(config)
    if config.stage == 2:
        model.load_stage_one(first)
    batches = TextImageBatches(dataset, model.tokenize(texts), config.batch_size, seed=train_config.seed)
    Trainer(model, batches, None, train_config).fit()
    return model


def prompt_grid(model: StackGAN, prompts: list[str], n: int = 8, seed: int | None = None,
                stages: bool = False) -> np.ndarray:
    """One row of `n` pictures per prompt; with `stages`, each prompt's Stage-I row (enlarged) above it."""
    if n < 1:
        raise DataError(f"--n must be at least 1, got {n}")
    final, rough = model.generate_stages(n, seed, prompts)
    if not stages or model.config.stage == 1:
        return image_grid(final, ncols=n)
    rough = torch.nn.functional.interpolate(rough, size=final.shape[-1], mode="nearest")
    rows = [part for i in range(len(prompts)) for part in (rough[i * n : (i + 1) * n], final[i * n : (i + 1) * n])]
    return image_grid(torch.cat(rows), ncols=n)
