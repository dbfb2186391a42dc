"""Pictures from text with a StackGAN: `train-stackgan` (drawing from prompts is `generate --prompt`)."""

from __future__ import annotations

import argparse

from sketchlab.cli.options import Command, add_dataclass_options, dataclass_from_args, print_trained


def train_stackgan_options(parser: argparse.ArgumentParser) -> None:
    from sketchlab.models.stackgan import StackGANConfig
    from sketchlab.training.engine import TrainConfig

    parser.add_argument("--data", required=True,
                        help="openmoji (texts: the emoji names), Quick, Draw! .ndjson files or stroke data names "
                             "(texts: the category names), or an image folder (texts: its sub-folder names)")
    parser.add_argument("--channels", type=int, choices=[1, 3], default=None,
                        help="3 (RGB) or 1 (grayscale); by default RGB for pictures, grayscale for sketches")
    add_dataclass_options(parser, TrainConfig)
    add_dataclass_options(parser, StackGANConfig, skip=("channels", "vocabulary"))
    parser.set_defaults(run=cmd_train_stackgan)


COMMANDS = {
    "train-stackgan": Command("train a StackGAN stage on pictures with texts (--stage 1, then --stage 2)",
                              train_stackgan_options),
}


def cmd_train_stackgan(args: argparse.Namespace) -> None:
    from sketchlab.models.stackgan import StackGANConfig
    from sketchlab.pipelines.text import train_stackgan
    from sketchlab.training.engine import TrainConfig

    # The data decides the channels (`channels` only picks grayscale or RGB for pictures).
    config = dataclass_from_args(StackGANConfig, args, channels=args.channels or StackGANConfig.channels)
    train_stackgan(args.data, config, dataclass_from_args(TrainConfig, args), channels=args.channels)
    print_trained(args.out_dir)
