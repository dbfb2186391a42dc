"""`sketchlab` on the command line: parse, call the Python API, print. No tensors here."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from pathlib import Path

from sketchlab.errors import SketchlabError


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def _floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x.strip()]


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def add_dataclass_options(parser: argparse.ArgumentParser, cls, skip: tuple[str, ...] = ()) -> None:
    """One option per field of a config dataclass, defaulting to the dataclass's own (the paper's) value."""
    group = parser.add_argument_group(f"{cls.__name__} (defaults: the paper's)")
    for field in dataclasses.fields(cls):
        if field.name in skip:
            continue
        required = field.default is dataclasses.MISSING
        if field.type in (bool, "bool"):
            group.add_argument(_flag(field.name), action=argparse.BooleanOptionalAction, default=field.default)
        else:
            kind = {"int": int, "float": float}.get(str(getattr(field.type, "__name__", field.type)), str)
            group.add_argument(_flag(field.name), type=kind, required=required, metavar=field.name.upper(),
                               default=None if required else field.default)


def dataclass_from_args(cls, args: argparse.Namespace, **overrides):
    names = {f.name for f in dataclasses.fields(cls)}
    values = {k: v for k, v in vars(args).items() if k in names}
    return cls(**{**values, **overrides})


def add_output(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument("--out", default=default, help="output file: .svg, .png or .gif (single drawings)")
    parser.add_argument("--color-by-order", action="store_true", help="colour strokes by drawing order")


def add_model(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="a trained model folder (a run folder, its best/ or last/)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--seed", type=int, default=None, help="random seed for reproducible drawings")


def add_drawing_source(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, help="stroke-3 .npz path(s) or data set names, comma-separated")
    parser.add_argument("--split", default="test", choices=["train", "valid", "test"])


def build_parser() -> argparse.ArgumentParser:
    from sketchlab.models.sketch_rnn import SketchRNNConfig
    from sketchlab.training.engine import TrainConfig

    parser = argparse.ArgumentParser(prog="sketchlab", description="Teach machines to draw.")
    parser.add_argument("-v", "--verbose", action="store_true", help="show tracebacks and debug logs")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def sub(name: str, summary: str, run) -> argparse.ArgumentParser:
        command = subparsers.add_parser(name, help=summary, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        command.set_defaults(run=run)
        return command

    train = sub("train", "train a Sketch-RNN on stroke-3 data", cmd_train)
    train.add_argument("--data", required=True, help="stroke-3 .npz path(s) or names (aaron_sheep, cat, ...), comma-separated")
    add_dataclass_options(train, TrainConfig)
    add_dataclass_options(train, SketchRNNConfig, skip=("scale_factor",))

    sample = sub("sample", "draw new sketches", cmd_sample)
    add_model(sample)
    sample.add_argument("--n", type=int, default=16, help="how many drawings (decoded together)")
    sample.add_argument("--temperature", type=float, default=0.5, help="tau; 0 draws greedily")
    add_output(sample, "samples.svg")

    rec = sub("reconstruct", "encode drawings and decode them at several temperatures", cmd_reconstruct)
    add_model(rec)
    add_drawing_source(rec)
    rec.add_argument("--index", type=_ints, default=[0], help="drawing indices in the split, comma-separated")
    rec.add_argument("--temperatures", type=_floats, default=[0.2, 0.5, 0.8])
    add_output(rec, "reconstructions.svg")

    inter = sub("interpolate", "decode along the latent path between two drawings", cmd_interpolate)
    add_model(inter)
    add_drawing_source(inter)
    inter.add_argument("--from", dest="first", type=int, default=0, help="index of the first drawing")
    inter.add_argument("--to", dest="second", type=int, default=1, help="index of the second drawing")
    inter.add_argument("--steps", type=int, default=8)
    inter.add_argument("--method", choices=["slerp", "lerp"], default="slerp")
    inter.add_argument("--temperature", type=float, default=0.0)
    add_output(inter, "interpolation.svg")

    comp = sub("complete", "let the model finish an unfinished drawing", cmd_complete)
    add_model(comp)
    add_drawing_source(comp)
    comp.add_argument("--index", type=int, default=0, help="which drawing of the split to cut short")
    comp.add_argument("--keep", type=float, default=0.5, help="fraction of its strokes given to the model")
    comp.add_argument("--candidates", type=int, default=4)
    comp.add_argument("--temperature", type=float, default=0.5)
    add_output(comp, "completions.svg")

    serve = sub("serve", "the drawing studio: a local web page to draw together with a model", cmd_serve)
    serve.add_argument("--model", action="append", required=True, metavar="[NAME=]PATH",
                       help="a model folder (repeat for several); named after its folder unless NAME= is given")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: this machine only)")
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument("--device", default="cpu", help="cpu or cuda")

    data = sub("data", "Quick, Draw! categories: list, download, build stroke-3 files", None)
    data_commands = data.add_subparsers(dest="data_command", required=True, metavar="DATA_COMMAND")
    listing = data_commands.add_parser("list", help="the 345 Quick, Draw! categories, or those matching a text")
    listing.add_argument("query", nargs="?", default="", help="part of a category name")
    listing.set_defaults(run=cmd_data_list)
    get = data_commands.add_parser("get", help="download categories into the cache (never twice)",
                                   formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    get.add_argument("categories", nargs="+", metavar="CATEGORY", help="names; quote names with spaces")
    get.add_argument("--format", default="sketchrnn", choices=["sketchrnn", "simplified", "raw", "bitmap"])
    get.set_defaults(run=cmd_data_get)
    build = data_commands.add_parser("build", help="a stroke-3 .npz with train/valid/test splits from .ndjson files",
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    build.add_argument("ndjson", nargs="+", help=".ndjson files (raw or simplified), pooled into one set")
    build.add_argument("--out", required=True, help="the .npz to write")
    build.add_argument("--max-len", type=int, default=250, help="drop drawings with more points")
    build.add_argument("--recognized-only", action="store_true", help="drop drawings the game did not recognise")
    build.add_argument("--valid-fraction", type=float, default=0.05)
    build.add_argument("--test-fraction", type=float, default=0.05)
    build.add_argument("--simplify", type=float, default=None, metavar="EPSILON", help="extra RDP simplification")
    build.add_argument("--limit", type=int, default=None, help="read at most this many drawings per file")
    build.add_argument("--seed", type=int, default=0)
    build.set_defaults(run=cmd_data_build)
    return parser


def cmd_train(args: argparse.Namespace) -> None:
    from sketchlab.models.sketch_rnn import SketchRNNConfig
    from sketchlab.pipelines import train_sketch_rnn
    from sketchlab.training.engine import TrainConfig

    train_sketch_rnn(args.data, dataclass_from_args(SketchRNNConfig, args), dataclass_from_args(TrainConfig, args))
    print(f"trained model: {Path(args.out_dir) / 'best'} (last checkpoint: {Path(args.out_dir) / 'last'})")


def _model(args: argparse.Namespace):
    from sketchlab.pipelines import load_model

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
    from sketchlab.pipelines import pick_drawings

    model = _model(args)
    originals = pick_drawings(args.data, args.index, args.split, model.config.max_seq_len)
    rows = sampling.reconstruct(model, originals, args.temperatures, seed=args.seed)
    grid = [d for original, row in zip(originals, rows) for d in [original, *row]]
    labels = (["input"] + [f"tau={t:g}" for t in args.temperatures]) * len(originals)
    _save(grid, args, ncols=len(args.temperatures) + 1, labels=labels)


def cmd_interpolate(args: argparse.Namespace) -> None:
    from sketchlab import sampling
    from sketchlab.pipelines import pick_drawings

    model = _model(args)
    first, second = pick_drawings(args.data, [args.first, args.second], args.split, model.config.max_seq_len)
    path = sampling.interpolate(model, first, second, args.steps, args.method, args.temperature,
                                seed=0 if args.seed is None else args.seed)
    _save([first, *path, second], args, ncols=args.steps + 2)


def cmd_complete(args: argparse.Namespace) -> None:
    from sketchlab import sampling
    from sketchlab.pipelines import first_strokes, pick_drawings

    model = _model(args)
    (drawing,) = pick_drawings(args.data, [args.index], args.split, model.config.max_seq_len)
    prefix = first_strokes(drawing, args.keep)
    completions = sampling.complete(model, prefix, args.candidates, args.temperature, seed=args.seed)
    _save([prefix, *completions], args, ncols=args.candidates + 1,
          labels=["given"] + [f"#{i + 1}" for i in range(args.candidates)])


def cmd_serve(args: argparse.Namespace) -> None:
    from sketchlab.web import serve

    serve(args.model, host=args.host, port=args.port, device=args.device)


def cmd_data_list(args: argparse.Namespace) -> None:
    from sketchlab.data.quickdraw import search_categories

    names = search_categories(args.query)
    print("\n".join(names) if names else f"no category matches {args.query!r}")


def cmd_data_get(args: argparse.Namespace) -> None:
    from sketchlab.data.quickdraw import get

    for category in args.categories:
        print(get(category, args.format))


def cmd_data_build(args: argparse.Namespace) -> None:
    from sketchlab.data.quickdraw import build_npz

    summary = build_npz(args.ndjson, args.out, max_len=args.max_len, recognized_only=args.recognized_only,
                        valid_fraction=args.valid_fraction, test_fraction=args.test_fraction, seed=args.seed,
                        simplify_epsilon=args.simplify, limit=args.limit)
    print(summary)


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(message)s")
    try:
        args.run(args)
    except SketchlabError as err:
        if args.verbose:
            raise
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
