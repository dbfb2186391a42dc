"""Image-to-image translation with a CycleGAN: `train-translate`, `translate`."""

from __future__ import annotations

import argparse

from sketchlab.cli.options import (
    PIXEL_DATA_HELP,
    Command,
    add_dataclass_options,
    add_model,
    add_png_output,
    dataclass_from_args,
    print_trained,
    save_picture,
)


def train_translate_options(parser: argparse.ArgumentParser) -> None:
    from sketchlab.models.cyclegan import CycleGANConfig
    from sketchlab.training.engine import TrainConfig

    parser.add_argument("--data", default=None, help="a folder with trainA/ and trainB/ picture folders")
    parser.add_argument("--data-a", default=None, help="instead: domain A, " + PIXEL_DATA_HELP)
    parser.add_argument("--data-b", default=None, help="and domain B, the same kinds")
    for domain in ("a", "b"):
        parser.add_argument(f"--channels-{domain}", type=int, choices=[1, 3], default=None,
                            help=f"domain {domain.upper()}: 3 (RGB) or 1; by default RGB for pictures, 1 for sketches")
    add_dataclass_options(parser, TrainConfig)
    add_dataclass_options(parser, CycleGANConfig, skip=("channels_a", "channels_b"))
    parser.set_defaults(run=cmd_train_translate)


def translate_options(parser: argparse.ArgumentParser) -> None:
    from sketchlab.models.cyclegan import DIRECTIONS

    add_model(parser)
    parser.add_argument("--direction", choices=DIRECTIONS, default="AtoB")
    parser.add_argument("files", nargs="*", metavar="FILE", help="pictures of the source domain (PNG/JPEG/WebP)")
    parser.add_argument("--data", default=None, help="instead of FILEs: the first --n items of " + PIXEL_DATA_HELP
                        + "; drawings are rasterized as the model's source domain was")
    parser.add_argument("--split", default="test", choices=["train", "valid", "test"], help="stroke data's split")
    parser.add_argument("--n", type=int, default=8, help="with --data: how many")
    add_png_output(parser, "translated.png")
    parser.set_defaults(run=cmd_translate)


COMMANDS = {
    "train-translate": Command("train a CycleGAN to translate between two unpaired image domains",
                               train_translate_options),
    "translate": Command("translate pictures or drawings with a CycleGAN: one row each, input and output",
                         translate_options),
}


def cmd_train_translate(args: argparse.Namespace) -> None:
    from sketchlab.models.cyclegan import CycleGANConfig
    from sketchlab.pipelines.translation import train_translation, translation_domains
    from sketchlab.training.engine import TrainConfig

    data_a, data_b = translation_domains(args.data, args.data_a, args.data_b)
    # --channels-a/-b pick how the data is read; the config's channels then come from the data, so the defaults
    # stand in here rather than the flags' None.
    config = dataclass_from_args(CycleGANConfig, args, channels_a=CycleGANConfig.channels_a,
                                 channels_b=CycleGANConfig.channels_b)
    train_translation(data_a, data_b, config, dataclass_from_args(TrainConfig, args), channels_a=args.channels_a,
                      channels_b=args.channels_b)
    print_trained(args.out_dir)


def cmd_translate(args: argparse.Namespace) -> None:
    from sketchlab.pipelines.translation import load_translation_model, translation_grid, translation_inputs

    model = load_translation_model(args.model, args.device)
    images = translation_inputs(model, args.direction, args.files, args.data, args.split, args.n)
    save_picture(translation_grid(model, images, args.direction), args)
