"""Pixel models (DCGAN, WAE-MMD, WAE-GAN, BEGAN): `train-image`, `generate` (StackGAN too, with --prompt),
`interpolate-image`, `analogy-image`, `anomaly score`."""

from __future__ import annotations

import argparse
import dataclasses

from sketchlab.cli.options import (
    PIXEL_DATA_HELP,
    Command,
    add_dataclass_options,
    add_model,
    add_png_output,
    dataclass_from_args,
    flag,
    ints,
    print_trained,
    save_picture,
)


def pixel_options_class():
    """One dataclass with every pixel model config's fields, each defaulting to None ("the model's paper value"),
    so `add_dataclass_options` makes a flag for each and `train-image` can tell which ones were given."""
    from sketchlab.pipelines.images import PIXEL_MODELS

    fields = {}
    for _, config_class, _ in PIXEL_MODELS.values():
        for field in dataclasses.fields(config_class):
            if field.name not in ("channels", "penalty"):  # --channels follows the data; --model sets the penalty
                fields.setdefault(field.name, (field.name, field.type, dataclasses.field(default=None)))
    return dataclasses.make_dataclass("PixelModelConfig", list(fields.values()))


def train_image_options(parser: argparse.ArgumentParser) -> None:
    from sketchlab.pipelines.images import PIXEL_MODELS
    from sketchlab.training.engine import TrainConfig

    parser.add_argument("--model", required=True, choices=list(PIXEL_MODELS), dest="pixel_model")
    parser.add_argument("--data", required=True, help=PIXEL_DATA_HELP)
    parser.add_argument("--channels", type=int, choices=[1, 3], default=None,
                        help="3 (RGB) or 1 (grayscale); by default RGB for pictures, grayscale for sketches")
    add_dataclass_options(parser, TrainConfig)
    add_dataclass_options(parser, pixel_options_class())
    parser.epilog = "Each model's options and paper defaults: " + "; ".join(
        f"{kind}: " + ", ".join(f"{flag(f.name)} {f.default}" for f in dataclasses.fields(config_class)
                                if f.name not in ("channels", "penalty"))
        for kind, (_, config_class, _) in PIXEL_MODELS.items())
    parser.set_defaults(run=cmd_train_image)


def generate_options(parser: argparse.ArgumentParser) -> None:
    add_model(parser)
    parser.add_argument("--n", type=int, default=None, help="how many images (default 64; with --prompt: 8 a row)")
    parser.add_argument("--prompt", action="append", default=None, metavar="TEXT",
                        help="a stackgan model: draw a row of --n pictures for this text (repeat for more rows)")
    parser.add_argument("--stages", action="store_true", help="with --prompt: each row's Stage-I pictures above it")
    parser.add_argument("--ncols", type=int, default=None, help="images per row (default: about square)")
    parser.add_argument("--plane", type=int, default=None, metavar="N",
                        help="instead: decode an N x N grid over a 2-D latent plane (a model with --latent-dim 2)")
    add_png_output(parser, "generated.png")
    parser.set_defaults(run=cmd_generate)


def interpolate_image_options(parser: argparse.ArgumentParser) -> None:
    add_model(parser)
    parser.add_argument("--data", default=None, help=PIXEL_DATA_HELP)
    parser.add_argument("--split", default="test", choices=["train", "valid", "test"], help="stroke data's split")
    parser.add_argument("--pairs", default="0:1", help="image index pairs, one row each: 0:1,2:3")
    parser.add_argument("--rows", type=int, default=4, help="without real images: how many pairs of prior samples")
    parser.add_argument("--steps", type=int, default=8, help="decoded codes per row, ends included")
    parser.add_argument("--method", choices=["slerp", "lerp"], default="slerp")
    add_png_output(parser, "interpolation.png")
    parser.set_defaults(run=cmd_interpolate_image)


def analogy_image_options(parser: argparse.ArgumentParser) -> None:
    add_model(parser)
    parser.add_argument("--data", required=True, help=PIXEL_DATA_HELP)
    parser.add_argument("--split", default="test", choices=["train", "valid", "test"], help="stroke data's split")
    parser.add_argument("--a", type=int, required=True, help="index of image A")
    parser.add_argument("--b", type=int, required=True, help="index of image B")
    parser.add_argument("--c", type=ints, required=True, help="indices of the images C, one row each: 2,3,4")
    add_png_output(parser, "analogy.png")
    parser.set_defaults(run=cmd_analogy_image)


def anomaly_options(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="anomaly_command", required=True, metavar="ANOMALY_COMMAND")
    score = commands.add_parser("score", help="each image's reconstruction error and latent distance; "
                                "ROC AUC when some classes are named anomalous",
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    score.add_argument("--model", required=True, help="a wae or began model folder (a run folder or its best/)")
    score.add_argument("--device", default="cpu", help="cpu or cuda")
    score.add_argument("--data", required=True, help=PIXEL_DATA_HELP + "; one class per item or sub-folder")
    score.add_argument("--split", default="test", choices=["train", "valid", "test"], help="stroke data's split")
    score.add_argument("--anomalous", default=None, help="class names that are anomalous, comma-separated")
    score.add_argument("--reference", default=None,
                       help="normal images (e.g. the training data, its train split) for latent distances")
    score.add_argument("--out", default="anomaly-scores.csv", help="the .csv to write")
    score.set_defaults(run=cmd_anomaly_score)


COMMANDS = {
    "train-image": Command("train a pixel model (DCGAN, WAE-MMD, WAE-GAN, BEGAN) on pictures or sketches",
                           train_image_options),
    "generate": Command("a grid of new images from a pixel model", generate_options),
    "interpolate-image": Command("decode along latent paths: between real images' codes (wae, began) or two prior "
                                 "samples (dcgan, or without --data)", interpolate_image_options),
    "analogy-image": Command("latent arithmetic: A is to B as C is to ? (wae, began)", analogy_image_options),
    "anomaly": Command("anomaly detection with a pixel autoencoder trained on normal images", anomaly_options),
}


def cmd_train_image(args: argparse.Namespace) -> None:
    from sketchlab.pipelines.images import make_config, train_pixel_model
    from sketchlab.training.engine import TrainConfig

    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(pixel_options_class())
             if getattr(args, f.name) is not None}
    config = make_config(args.pixel_model, **given)
    train_pixel_model(args.data, config, dataclass_from_args(TrainConfig, args), channels=args.channels)
    print_trained(args.out_dir)


def _pixel_model(args: argparse.Namespace):
    from sketchlab.pipelines.images import load_pixel_model

    return load_pixel_model(args.model, args.device)


def _pixel_data(model, spec: str, split: str):
    from sketchlab.pipelines.images import load_image_data

    return load_image_data(spec, model.config.image_size, model.config.channels, split=split)


def cmd_generate(args: argparse.Namespace) -> None:
    from sketchlab.pipelines.images import generate_grid, latent_plane_grid

    if args.prompt is not None:
        from sketchlab.pipelines.text import load_stackgan, prompt_grid

        model = load_stackgan(args.model, args.device)
        save_picture(prompt_grid(model, args.prompt, args.n or 8, args.seed, args.stages), args)
        return
    model = _pixel_model(args)
    if args.plane is not None:
        save_picture(latent_plane_grid(model, args.plane), args)
    else:
        save_picture(generate_grid(model, 64 if args.n is None else args.n, args.seed, args.ncols), args)


def _pairs(text: str) -> list[tuple[int, int]]:
    from sketchlab.errors import DataError

    try:
        return [(int(a), int(b)) for a, b in (item.split(":") for item in text.split(",") if item.strip())]
    except ValueError:
        raise DataError(f"--pairs must look like 0:1,2:3, got {text!r}") from None


def cmd_interpolate_image(args: argparse.Namespace) -> None:
    from sketchlab.pipelines.images import interpolation_grid, prior_interpolation_grid

    model = _pixel_model(args)
    if args.data is not None and model.can_encode:
        grid = interpolation_grid(model, _pixel_data(model, args.data, args.split), _pairs(args.pairs), args.steps,
                                  args.method)
    else:
        grid = prior_interpolation_grid(model, args.rows, args.steps, args.method, args.seed)
    save_picture(grid, args)


def cmd_analogy_image(args: argparse.Namespace) -> None:
    from sketchlab.pipelines.images import analogy_grid

    model = _pixel_model(args)
    save_picture(analogy_grid(model, _pixel_data(model, args.data, args.split), args.a, args.b, args.c), args)


def cmd_anomaly_score(args: argparse.Namespace) -> None:
    from sketchlab.pipelines.images import anomaly_report

    model = _pixel_model(args)
    dataset = _pixel_data(model, args.data, args.split)
    reference = _pixel_data(model, args.reference, "train") if args.reference else None
    anomalous = [name.strip() for name in args.anomalous.split(",")] if args.anomalous else None
    print(anomaly_report(model, dataset, args.out, reference, anomalous))
