"""Drawing with a Sketch-RNN: train, sample, reconstruct, interpolate, complete."""

from __future__ import annotations

import argparse
from pathlib import Path

from sketchlab.cli.options import (
    Command,
    add_dataclass_options,
    add_drawing_source,
    add_model,
    add_output,
    dataclass_from_args,
    floats,
    ints,
    print_trained,
)


def train_options(parser: argparse.ArgumentParser) -> None:
    from sketchlab.models.sketch_rnn import SketchRNNConfig
    from sketchlab.training.engine import TrainConfig

    parser.add_argument("--data", required=True,
                        help="stroke-3 .npz path(s) or names (aaron_sheep, cat, ...), comma-separated")
    parser.add_argument("--init", default=None,
                        help="fine-tune: start from this model's weights (a folder, zoo name or magenta:NAME), keeping "
                             "its architecture and scale factor; the options below then set only the training")
    add_dataclass_options(parser, TrainConfig)
    add_dataclass_options(parser, SketchRNNConfig, skip=("scale_factor",))
    parser.set_defaults(run=cmd_train)


def sample_options(parser: argparse.ArgumentParser) -> None:
    add_model(parser)
    parser.add_argument("--n", type=int, default=16, help="how many drawings (decoded together)")
    parser.add_argument("--temperature", type=float, default=0.5, help="tau; 0 draws greedily")
    add_output(parser, "samples.svg")
    parser.set_defaults(run=cmd_sample)


def reconstruct_options(parser: argparse.ArgumentParser) -> None:
    add_model(parser)
    add_drawing_source(parser)
    parser.add_argument("--index", type=ints, default=[0], help="drawing indices in the split, comma-separated")
    parser.add_argument("--temperatures", type=floats, default=[0.2, 0.5, 0.8])
    add_output(parser, "reconstructions.svg")
    parser.set_defaults(run=cmd_reconstruct)


def interpolate_options(parser: argparse.ArgumentParser) -> None:
    add_model(parser)
    add_drawing_source(parser)
    parser.add_argument("--from", dest="first", type=int, default=0, help="index of the first drawing")
    parser.add_argument("--to", dest="second", type=int, default=1, help="index of the second drawing")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--method", choices=["slerp", "lerp"], default="slerp")
    parser.add_argument("--temperature", type=float, default=0.0)
    add_output(parser, "interpolation.svg")
    parser.set_defaults(run=cmd_interpolate)


def complete_options(parser: argparse.ArgumentParser) -> None:
    add_model(parser)
    add_drawing_source(parser)
    parser.add_argument("--index", type=int, default=0, help="which drawing of the split to cut short")
    parser.add_argument("--keep", type=float, default=0.5, help="fraction of its strokes given to the model")
    parser.add_argument("--candidates", type=int, default=4)
    parser.add_argument("--temperature", type=float, default=0.5)
    add_output(parser, "completions.svg")
    parser.set_defaults(run=cmd_complete)


COMMANDS = {
    "train": Command("train a Sketch-RNN on stroke-3 data", train_options),
    "sample": Command("draw new sketches", sample_options),
    "reconstruct": Command("encode drawings and decode them at several temperatures", reconstruct_options),
    "interpolate": Command("decode along the latent path between two drawings", interpolate_options),
    "complete": Command("let the model finish an unfinished drawing", complete_options),
}


def cmd_train(args: argparse.Namespace) -> None:
    from sketchlab.models.sketch_rnn import SketchRNNConfig
    from sketchlab.pipelines.strokes import train_sketch_rnn
    from sketchlab.training.engine import TrainConfig

    train_sketch_rnn(args.data, dataclass_from_args(SketchRNNConfig, args), dataclass_from_args(TrainConfig, args),
                     init=args.init)
    print_trained(args.out_dir)


def _model(args: argparse.Namespace):
    from sketchlab.pipelines.strokes import load_model

    return load_model(args.model, args.device)


def _save(drawings, args: argparse.Namespace, **layout) -> None:
    from sketchlab import render

    one = drawings[0] if len(drawings) == 1 and Path(args.out).suffix != ".svg" else drawings
    render.save(one, args.out, color_by_order=args.color_by_order, **layout)
    print(f"wrote {args.out}")


def cmd_sample(args: argparse.Namespace) -> None:
    from sketchlab import sampling

    _save(sampling.sample(_model(args), args.n, args.temperature, seed=args.seed), args)


def cmd_reconstruct(args: argparse.Namespace) -> None:
    from sketchlab import sampling
    from sketchlab.pipelines.strokes import pick_drawings

    model = _model(args)
    originals = pick_drawings(args.data, args.index, args.split, model.config.max_seq_len)
    rows = sampling.reconstruct(model, originals, args.temperatures, seed=args.seed)
    grid = [d for original, row in zip(originals, rows) for d in [original, *row]]
    labels = (["input"] + [f"tau={t:g}" for t in args.temperatures]) * len(originals)
    _save(grid, args, ncols=len(args.temperatures) + 1, labels=labels)


def cmd_interpolate(args: argparse.Namespace) -> None:
    from sketchlab import sampling
    from sketchlab.pipelines.strokes import pick_drawings

    model = _model(args)
    first, second = pick_drawings(args.data, [args.first, args.second], args.split, model.config.max_seq_len)
    path = sampling.interpolate(model, first, second, args.steps, args.method, args.temperature,
                                seed=0 if args.seed is None else args.seed)
    _save([first, *path, second], args, ncols=args.steps + 2)


def cmd_complete(args: argparse.Namespace) -> None:
    from sketchlab import sampling
    from sketchlab.pipelines.strokes import first_strokes, pick_drawings

    model = _model(args)
    (drawing,) = pick_drawings(args.data, [args.index], args.split, model.config.max_seq_len)
    prefix = first_strokes(drawing, args.keep)
    completions = sampling.complete(model, prefix, args.candidates, args.temperature, seed=args.seed)
    _save([prefix, *completions], args, ncols=args.candidates + 1,
          labels=["given"] + [f"#{i + 1}" for i in range(args.candidates)])
