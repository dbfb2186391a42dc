"""`sketchlab` on the command line: parse, call the Python API, print. No tensors here."""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import logging
import re
import shlex
import sys
from pathlib import Path

from sketchlab.errors import SketchlabError


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def _floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x.strip()]


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def field_comments(cls) -> dict[str, str]:
    """The comment beside each field of a config dataclass, or on the lines right above it: the options' help, so
    the code's comments are the one place that explains a setting."""
    try:
        lines = inspect.getsource(cls).splitlines()
    except (OSError, TypeError):  # no source (a frozen build): options keep their defaults as help
        return {}
    comments: dict[str, str] = {}
    above: list[str] = []
    for line in lines:
        text = line.strip()
        if text.startswith("#"):
            above.append(text.lstrip("#").strip())
            continue
        field = re.match(r"(\w+)\s*:[^=]*=.*?(?:\s#\s*(.*))?$", text)
        if field:
            comments[field.group(1)] = " ".join([*above, field.group(2) or ""]).strip()
        above = []
    return comments


def add_dataclass_options(parser: argparse.ArgumentParser, cls, skip: tuple[str, ...] = ()) -> None:
    """One option per field of a config dataclass, defaulting to the dataclass's own (the paper's) value."""
    group = parser.add_argument_group(f"{cls.__name__} (defaults: the paper's)")
    comments = field_comments(cls)
    for field in dataclasses.fields(cls):
        if field.name in skip:
            continue
        explain = comments.get(field.name) or "(default: %(default)s)"
        has_factory = field.default_factory is not dataclasses.MISSING
        default = field.default_factory() if has_factory else field.default
        required = default is dataclasses.MISSING
        if field.type in (bool, "bool"):
            group.add_argument(_flag(field.name), action=argparse.BooleanOptionalAction, default=field.default,
                               help=explain)
        elif str(field.type) == "list[int]":
            group.add_argument(_flag(field.name), type=_ints, metavar="N,N,...", default=default, help=explain)
        else:
            kind = {"int": int, "float": float}.get(str(getattr(field.type, "__name__", field.type)), str)
            group.add_argument(_flag(field.name), type=kind, required=required, metavar=field.name.upper(),
                               default=None if required else field.default, help=explain)


def dataclass_from_args(cls, args: argparse.Namespace, **overrides):
    names = {f.name for f in dataclasses.fields(cls)}
    values = {k: v for k, v in vars(args).items() if k in names}
    return cls(**{**values, **overrides})


def add_output(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument("--out", default=default, help="output file: .svg, .png or .gif (single drawings)")
    parser.add_argument("--color-by-order", action="store_true", help="colour strokes by drawing order")


def add_model(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True,
                        help="a trained model folder (a run folder, its best/ or last/) or a zoo name "
                             "(sketchlab models list)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--seed", type=int, default=None, help="random seed for reproducible drawings")


def add_drawing_source(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, help="stroke-3 .npz path(s) or data set names, comma-separated")
    parser.add_argument("--split", default="test", choices=["train", "valid", "test"])


def build_parser() -> argparse.ArgumentParser:
    from sketchlab.evaluation import SAMPLE_TEMPERATURES
    from sketchlab.metrics import DEFAULT_TEMPERATURES
    from sketchlab.models.classifier import ClassifierConfig
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
    serve.add_argument("--model", action="append", default=[], metavar="[NAME=]PATH",
                       help="a model folder or zoo name (repeat for several); named after its folder unless NAME= is "
                            "given; none: the zoo's Sketch-RNN models")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: this machine only)")
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument("--device", default="cpu", help="cpu or cuda")

    classifier = sub("classifier", "the sketch classifier that judges generated drawings", None)
    classifier_commands = classifier.add_subparsers(dest="classifier_command", required=True,
                                                    metavar="CLASSIFIER_COMMAND")
    ctrain = classifier_commands.add_parser("train", help="train on the train splits of several categories, then "
                                            "report top-1/top-3 and a confusion matrix on their test splits",
                                            formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ctrain.add_argument("--data", required=True,
                        help="one .npz (or name, e.g. cat,owl,pig, or a folder of .npz files) per category")
    add_dataclass_options(ctrain, TrainConfig)
    add_dataclass_options(ctrain, ClassifierConfig, skip=("num_classes", "class_names"))
    ctrain.set_defaults(run=cmd_classifier_train)
    ctest = classifier_commands.add_parser("test", help="top-1/top-3 and a confusion matrix on a split",
                                           formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ctest.add_argument("--model", required=True, help="a classifier folder (a run folder or its best/)")
    add_drawing_source(ctest)
    ctest.add_argument("--out", default="classifier-report", help="folder for classifier.md/.json, confusion.png")
    ctest.set_defaults(run=cmd_classifier_test)

    models = sub("models", "the pretrained models shipped with sketchlab", None)
    models_commands = models.add_subparsers(dest="models_command", required=True, metavar="MODELS_COMMAND")
    models_commands.add_parser("list", help="name, data, cell, size, test figures, data license").set_defaults(
        run=cmd_models_list)

    evaluate = sub("evaluate", "judge a Sketch-RNN or pixel model (test losses, recognizability, Fréchet "
                   "distance) or a CycleGAN (are its translations classified as the target category?)", cmd_evaluate)
    add_model(evaluate)
    evaluate.add_argument("--classifier", required=True, help="a classifier folder (`sketchlab classifier train`)")
    evaluate.add_argument("--data", default=None, help="the model's data (.npz paths or names); its test split")
    evaluate.add_argument("--class", dest="class_name", default=None,
                          help="the classifier's name for a one-category data set (e.g. sheep for aaron_sheep)")
    for domain in ("a", "b"):
        evaluate.add_argument(f"--data-{domain}", default=None,
                              help=f"a cyclegan: domain {domain.upper()}'s data as trained on (.npz paths or names; "
                                   "its test split)")
        evaluate.add_argument(f"--class-{domain}", default=None,
                              help=f"a cyclegan: the classifier's name for domain {domain.upper()}'s category")
    evaluate.add_argument("--temperatures", type=_floats, default=list(DEFAULT_TEMPERATURES),
                          help="reconstruction temperatures")
    evaluate.add_argument("--sample-temperatures", type=_floats, default=list(SAMPLE_TEMPERATURES))
    evaluate.add_argument("--n-samples", type=int, default=200, help="samples per temperature")
    evaluate.add_argument("--n-reconstruct", type=int, default=200, help="test drawings reconstructed")
    evaluate.add_argument("--out", default="evaluation", help="folder for report.md, report.json and plots")

    data = sub("data", "Quick, Draw! categories: list, download, build stroke-3 files", None)
    data_commands = data.add_subparsers(dest="data_command", required=True, metavar="DATA_COMMAND")
    listing = data_commands.add_parser("list", help="the 345 Quick, Draw! categories, or those matching a text")
    listing.add_argument("query", nargs="?", default="", help="part of a category name")
    listing.set_defaults(run=cmd_data_list)
    get = data_commands.add_parser("get", help="download categories into the cache (never twice)",
                                   formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    get.add_argument("categories", nargs="+", metavar="CATEGORY", help="names; quote names with spaces")
    get.add_argument("--format", default="sketchrnn", choices=["sketchrnn", "simplified", "raw", "bitmap"])
    get.add_argument("--size", type=int, default=64, help="openmoji: rendered image side in pixels")
    get.add_argument("--name", default=None, help="openmoji: keep emoji whose Unicode name contains one of these "
                     "comma-separated texts (e.g. 'cat face,dog face')")
    get.add_argument("--block", default=None, help="openmoji: keep one Unicode block (emoticons, pictographs, "
                     "transport, supplemental, extended-a, symbols, dingbats, flags, extras) or a range 1F600-1F64F")
    get.set_defaults(run=cmd_data_get)
    build = data_commands.add_parser("build", help="a stroke-3 .npz with train/valid/test splits from .ndjson files",
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    build.add_argument("ndjson", nargs="+", help=".ndjson files (raw or simplified) or folders of them, pooled "
                       "into one set")
    build.add_argument("--out", required=True, help="the .npz to write")
    build.add_argument("--max-len", type=int, default=250, help="drop drawings with more points")
    build.add_argument("--recognized-only", action="store_true", help="drop drawings the game did not recognise")
    build.add_argument("--valid-fraction", type=float, default=0.05)
    build.add_argument("--test-fraction", type=float, default=0.05)
    build.add_argument("--simplify", type=float, default=None, metavar="EPSILON", help="extra RDP simplification")
    build.add_argument("--limit", type=int, default=None, help="read at most this many drawings per file")
    build.add_argument("--seed", type=int, default=0)
    build.set_defaults(run=cmd_data_build)
    add_pixel_commands(sub)
    add_translation_commands(sub)
    add_stackgan_commands(sub)
    return parser


def print_trained(out_dir: str) -> None:
    print(f"trained model: {Path(out_dir) / 'best'} (last checkpoint: {Path(out_dir) / 'last'})")


def cmd_train(args: argparse.Namespace) -> None:
    from sketchlab.models.sketch_rnn import SketchRNNConfig
    from sketchlab.pipelines.strokes import train_sketch_rnn
    from sketchlab.training.engine import TrainConfig

    train_sketch_rnn(args.data, dataclass_from_args(SketchRNNConfig, args), dataclass_from_args(TrainConfig, args))
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


def cmd_serve(args: argparse.Namespace) -> None:
    from sketchlab.web import serve

    serve(args.model, host=args.host, port=args.port, device=args.device)


def command_line(argv: list[str]) -> str:
    """A command line as a shell would take it, for reports that say how they were made."""
    return " ".join(["sketchlab", *(shlex.quote(arg) for arg in argv)])


def cmd_classifier_train(args: argparse.Namespace) -> None:
    from sketchlab.evaluation import train_classifier
    from sketchlab.models.classifier import ClassifierConfig, SketchClassifier
    from sketchlab.pipelines.strokes import load_splits
    from sketchlab.training.engine import TrainConfig

    splits = load_splits(args.data, 10**9)
    train_classifier(splits, dataclass_from_args(ClassifierConfig, args), dataclass_from_args(TrainConfig, args))
    best = Path(args.out_dir) / "best"
    _report_classifier(SketchClassifier.from_pretrained(best), splits, Path(args.out_dir), args.command_line)
    print(f"trained classifier: {best}")


def _report_classifier(model, splits, out: Path, command: str) -> None:
    from sketchlab.evaluation import score_classifier
    from sketchlab.metrics.report import write_classifier_report

    result = score_classifier(model, splits.test, splits.test_labels)
    report = write_classifier_report(result, out, command)
    print(f"test split: top-1 {result['top1']:.3f}, top-3 {result['top3']:.3f} on {result['count']} drawings "
          f"(report: {report})")


def cmd_classifier_test(args: argparse.Namespace) -> None:
    from sketchlab.evaluation import classifier_labels
    from sketchlab.models.classifier import SketchClassifier
    from sketchlab.pipelines.strokes import load_splits

    model = SketchClassifier.from_pretrained(args.model)
    splits = load_splits(args.data, 10**9)
    labels = classifier_labels(model, splits.class_names)
    split_labels = labels[getattr(splits, f"{args.split}_labels")]
    _report_classifier(model, dataclasses.replace(splits, test=getattr(splits, args.split), test_labels=split_labels),
                       Path(args.out), args.command_line)


def cmd_evaluate(args: argparse.Namespace) -> None:
    from sketchlab.evaluation import (
        classifier_labels,
        classifier_summary,
        evaluate_pixel_model,
        evaluate_sketch_rnn,
        model_summary,
    )
    from sketchlab.errors import DataError
    from sketchlab.pipelines.images import load_pixel_model
    from sketchlab.metrics.report import write_report
    from sketchlab.models.classifier import SketchClassifier
    from sketchlab.models.pretrained import saved_model_kind
    from sketchlab.pipelines.strokes import load_splits

    classifier = SketchClassifier.from_pretrained(args.classifier, map_location=args.device)
    folder, kind = saved_model_kind(args.model)
    seed = args.seed or 0
    if kind == "cyclegan":
        _evaluate_translation(args, classifier, folder)
        return
    if args.data is None:
        raise DataError("--data is required: the model's data, whose test split it is judged against")
    if kind == "sketch-rnn":
        model = _model(args)
        splits = load_splits(args.data, model.config.max_seq_len)
        targets = classifier_labels(classifier, splits.class_names, args.class_name)
        result = evaluate_sketch_rnn(model, classifier, splits, targets, args.temperatures, args.sample_temperatures,
                                     args.n_samples, args.n_reconstruct, seed=seed)
    else:  # a pixel model, or a clear error saying what the folder holds
        model = load_pixel_model(folder, args.device)
        splits = load_splits(args.data, 10**9)
        targets = classifier_labels(classifier, splits.class_names, args.class_name)
        result = evaluate_pixel_model(model, classifier, splits, targets, args.n_samples, seed=seed)
    result["model"] = model_summary(args.model, model)
    result["classifier"] = classifier_summary(args.classifier, classifier)
    result["data"] = {"spec": args.data, "classes": splits.class_names,
                      "as": [classifier.config.class_names[t] for t in targets]}
    report = write_report(result, args.out, args.command_line)
    losses = result.get("test_losses")
    measured = f"test L_R {losses['l_r']:.4f}, L_KL {losses['l_kl']:.4f}" if losses else \
        f"samples classified as the category: {result['samples']['prior']['fraction_correct']:.3f}"
    print(f"{measured}; report: {report}")


def _evaluate_translation(args: argparse.Namespace, classifier, folder: Path) -> None:
    """`evaluate` of a CycleGAN: both domains' test drawings, rasterized as it was trained, translated and judged."""
    from sketchlab.data.raster import raster_line_width
    from sketchlab.errors import DataError
    from sketchlab.evaluation import classifier_summary, domain_class, evaluate_translation, model_summary
    from sketchlab.pipelines.translation import domain_data, load_translation_model
    from sketchlab.metrics.report import write_report

    if args.data is not None or args.class_name is not None or not (args.data_a and args.data_b):
        raise DataError("a cyclegan is judged on both domains' test drawings: give --data-a and --data-b (and "
                        "--class-a, --class-b; not --data, --class)")
    model = load_translation_model(folder, args.device)
    domains = {d: domain_data(model, getattr(args, f"data_{d}"), d) for d in ("a", "b")}
    targets = {d: domain_class(classifier, data.class_names or [], getattr(args, f"class_{d}"), f"--class-{d}")
               for d, data in domains.items()}
    result = evaluate_translation(model, classifier, domains["a"].images(slice(None)),
                                  domains["b"].images(slice(None)), targets["a"], targets["b"],
                                  line_width=raster_line_width(model.config.image_size), seed=args.seed or 0)
    result["model"] = model_summary(args.model, model)
    result["classifier"] = classifier_summary(args.classifier, classifier)
    result["data"] = {"spec": f"A {args.data_a}, B {args.data_b}",
                      "as": [classifier.config.class_names[targets[d]] for d in ("a", "b")]}
    report = write_report(result, args.out, args.command_line)
    for direction, judged in result["translation"].items():
        print(f"{direction}: {judged['count']} drawings classified as {judged['target']}: originals "
              f"{judged['baseline']:.3f}, translations {judged['translated']:.3f}, permuted translations "
              f"{judged['permuted']:.3f}, chance {judged['chance']:.3f}; flips to the target (3 SE above all three): "
              f"{'yes' if judged['flips'] else 'no'}")
    print(f"report: {report}")


def cmd_models_list(args: argparse.Namespace) -> None:
    from sketchlab.zoo import zoo_models

    rows = [("name", "kind", "data", "cell", "size", "test figures", "recognizability", "data license")]
    for model in zoo_models():
        card = model.card
        test = ", ".join(f"{key} {value:.3f}" for key, value in card.get("test", {}).items()
                         if key in ("l_r", "l_kl", "top1", "top3"))
        judged = card.get("recognizability")
        rows.append((model.name, card.get("kind", "?"), card.get("data", "?"),
                     card.get("config", {}).get("cell", "cnn"), f"{card.get('size_bytes', 0) / 1e6:.1f} MB", test,
                     f"{judged['classified_as_category']:.2f} (chance {judged['chance']:.2f})" if judged else "-",
                     card.get("data_license", "?")))
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip())


def cmd_data_list(args: argparse.Namespace) -> None:
    from sketchlab.data.quickdraw import search_categories

    names = search_categories(args.query)
    print("\n".join(names) if names else f"no category matches {args.query!r}")


def cmd_data_get(args: argparse.Namespace) -> None:
    from sketchlab.data.quickdraw import get

    for category in args.categories:
        if category.lower() == "openmoji":
            from sketchlab.data.openmoji import render_openmoji

            print(render_openmoji(size=args.size, name=args.name, block=args.block))
        else:
            print(get(category, args.format))


def cmd_data_build(args: argparse.Namespace) -> None:
    from sketchlab.data.quickdraw import build_npz

    summary = build_npz(args.ndjson, args.out, max_len=args.max_len, recognized_only=args.recognized_only,
                        valid_fraction=args.valid_fraction, test_fraction=args.test_fraction, seed=args.seed,
                        simplify_epsilon=args.simplify, limit=args.limit)
    print(summary)


# ------------------------------------------------------------------------------------------------- pixel models

PIXEL_DATA_HELP = ("an image folder (PNG/JPEG/WebP, searched recursively), openmoji, or stroke data rasterized: "
                   ".npz/.ndjson paths or set names (aaron_sheep, cat, ...), comma-separated")


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


def add_pixel_commands(sub) -> None:
    from sketchlab.pipelines.images import PIXEL_MODELS
    from sketchlab.training.engine import TrainConfig

    train = sub("train-image", "train a pixel model (DCGAN, WAE-MMD, WAE-GAN, BEGAN) on pictures or sketches",
                cmd_train_image)
    train.add_argument("--model", required=True, choices=list(PIXEL_MODELS), dest="pixel_model")
    train.add_argument("--data", required=True, help=PIXEL_DATA_HELP)
    train.add_argument("--channels", type=int, choices=[1, 3], default=None,
                       help="3 (RGB) or 1 (grayscale); by default RGB for pictures, grayscale for sketches")
    add_dataclass_options(train, TrainConfig)
    add_dataclass_options(train, pixel_options_class())
    train.epilog = "Each model's options and paper defaults: " + "; ".join(
        f"{kind}: " + ", ".join(f"{_flag(f.name)} {f.default}" for f in dataclasses.fields(config_class)
                                if f.name not in ("channels", "penalty"))
        for kind, (_, config_class, _) in PIXEL_MODELS.items())

    generate = sub("generate", "a grid of new images from a pixel model", cmd_generate)
    add_model(generate)
    generate.add_argument("--n", type=int, default=None, help="how many images (default 64; with --prompt: 8 a row)")
    generate.add_argument("--prompt", action="append", default=None, metavar="TEXT",
                          help="a stackgan model: draw a row of --n pictures for this text (repeat for more rows)")
    generate.add_argument("--stages", action="store_true", help="with --prompt: each row's Stage-I pictures above it")
    generate.add_argument("--ncols", type=int, default=None, help="images per row (default: about square)")
    generate.add_argument("--plane", type=int, default=None, metavar="N",
                          help="instead: decode an N x N grid over a 2-D latent plane (a model with --latent-dim 2)")
    generate.add_argument("--scale", type=int, default=1, help="enlarge each pixel this many times")
    generate.add_argument("--out", default="generated.png", help="the .png to write")

    inter = sub("interpolate-image", "decode along latent paths: between real images' codes (wae, began) or two "
                "prior samples (dcgan, or without --data)", cmd_interpolate_image)
    add_model(inter)
    inter.add_argument("--data", default=None, help=PIXEL_DATA_HELP)
    inter.add_argument("--split", default="test", choices=["train", "valid", "test"], help="stroke data's split")
    inter.add_argument("--pairs", default="0:1", help="image index pairs, one row each: 0:1,2:3")
    inter.add_argument("--rows", type=int, default=4, help="without real images: how many pairs of prior samples")
    inter.add_argument("--steps", type=int, default=8, help="decoded codes per row, ends included")
    inter.add_argument("--method", choices=["slerp", "lerp"], default="slerp")
    inter.add_argument("--scale", type=int, default=1, help="enlarge each pixel this many times")
    inter.add_argument("--out", default="interpolation.png", help="the .png to write")

    analogy = sub("analogy-image", "latent arithmetic: A is to B as C is to ? (wae, began)", cmd_analogy_image)
    add_model(analogy)
    analogy.add_argument("--data", required=True, help=PIXEL_DATA_HELP)
    analogy.add_argument("--split", default="test", choices=["train", "valid", "test"], help="stroke data's split")
    analogy.add_argument("--a", type=int, required=True, help="index of image A")
    analogy.add_argument("--b", type=int, required=True, help="index of image B")
    analogy.add_argument("--c", type=_ints, required=True, help="indices of the images C, one row each: 2,3,4")
    analogy.add_argument("--scale", type=int, default=1, help="enlarge each pixel this many times")
    analogy.add_argument("--out", default="analogy.png", help="the .png to write")

    anomaly = sub("anomaly", "anomaly detection with a pixel autoencoder trained on normal images", None)
    anomaly_commands = anomaly.add_subparsers(dest="anomaly_command", required=True, metavar="ANOMALY_COMMAND")
    score = anomaly_commands.add_parser("score", help="each image's reconstruction error and latent distance; "
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


def add_translation_commands(sub) -> None:
    from sketchlab.models.cyclegan import DIRECTIONS, CycleGANConfig
    from sketchlab.training.engine import TrainConfig

    train = sub("train-translate", "train a CycleGAN to translate between two unpaired image domains",
                cmd_train_translate)
    train.add_argument("--data", default=None, help="a folder with trainA/ and trainB/ picture folders")
    train.add_argument("--data-a", default=None, help="instead: domain A, " + PIXEL_DATA_HELP)
    train.add_argument("--data-b", default=None, help="and domain B, the same kinds")
    for domain in ("a", "b"):
        train.add_argument(f"--channels-{domain}", type=int, choices=[1, 3], default=None,
                           help=f"domain {domain.upper()}: 3 (RGB) or 1; by default RGB for pictures, 1 for sketches")
    add_dataclass_options(train, TrainConfig)
    add_dataclass_options(train, CycleGANConfig, skip=("channels_a", "channels_b"))

    translate = sub("translate", "translate pictures or drawings with a CycleGAN: one row each, input and output",
                    cmd_translate)
    add_model(translate)
    translate.add_argument("--direction", choices=DIRECTIONS, default="AtoB")
    translate.add_argument("files", nargs="*", metavar="FILE", help="pictures of the source domain (PNG/JPEG/WebP)")
    translate.add_argument("--data", default=None, help="instead of FILEs: the first --n items of " + PIXEL_DATA_HELP
                           + "; drawings are rasterized as the model's source domain was")
    translate.add_argument("--split", default="test", choices=["train", "valid", "test"], help="stroke data's split")
    translate.add_argument("--n", type=int, default=8, help="with --data: how many")
    translate.add_argument("--scale", type=int, default=1, help="enlarge each pixel this many times")
    translate.add_argument("--out", default="translated.png", help="the .png to write")


def cmd_train_translate(args: argparse.Namespace) -> None:
    from sketchlab.pipelines.translation import train_translation, translation_domains
    from sketchlab.models.cyclegan import CycleGANConfig
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
    _save_picture(translation_grid(model, images, args.direction), args)


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


def _save_picture(picture, args: argparse.Namespace) -> None:
    from sketchlab.render import save_picture

    print(f"wrote {save_picture(picture, args.out, scale=args.scale)}")


def cmd_generate(args: argparse.Namespace) -> None:
    from sketchlab.pipelines.images import generate_grid, latent_plane_grid

    if args.prompt is not None:
        from sketchlab.pipelines.text import load_stackgan, prompt_grid

        model = load_stackgan(args.model, args.device)
        _save_picture(prompt_grid(model, args.prompt, args.n or 8, args.seed, args.stages), args)
        return
    model = _pixel_model(args)
    if args.plane is not None:
        _save_picture(latent_plane_grid(model, args.plane), args)
    else:
        _save_picture(generate_grid(model, args.n or 64, args.seed, args.ncols), args)


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
    _save_picture(grid, args)


def cmd_analogy_image(args: argparse.Namespace) -> None:
    from sketchlab.pipelines.images import analogy_grid

    model = _pixel_model(args)
    _save_picture(analogy_grid(model, _pixel_data(model, args.data, args.split), args.a, args.b, args.c), args)


def cmd_anomaly_score(args: argparse.Namespace) -> None:
    from sketchlab.pipelines.images import anomaly_report

    model = _pixel_model(args)
    dataset = _pixel_data(model, args.data, args.split)
    reference = _pixel_data(model, args.reference, "train") if args.reference else None
    anomalous = [name.strip() for name in args.anomalous.split(",")] if args.anomalous else None
    print(anomaly_report(model, dataset, args.out, reference, anomalous))


# ----------------------------------------------------------------------------------------------------- stackgan


def add_stackgan_commands(sub) -> None:
    from sketchlab.models.stackgan import StackGANConfig
    from sketchlab.training.engine import TrainConfig

    train = sub("train-stackgan", "train a StackGAN stage on pictures with texts (--stage 1, then --stage 2)",
                cmd_train_stackgan)
    train.add_argument("--data", required=True,
                       help="openmoji (texts: the emoji names), Quick, Draw! .ndjson files or stroke data names "
                            "(texts: the category names), or an image folder (texts: its sub-folder names)")
    train.add_argument("--channels", type=int, choices=[1, 3], default=None,
                       help="3 (RGB) or 1 (grayscale); by default RGB for pictures, grayscale for sketches")
    add_dataclass_options(train, TrainConfig)
    add_dataclass_options(train, StackGANConfig, skip=("channels", "vocabulary"))


def cmd_train_stackgan(args: argparse.Namespace) -> None:
    from sketchlab.models.stackgan import StackGANConfig
    from sketchlab.pipelines.text import train_stackgan
    from sketchlab.training.engine import TrainConfig

    # The data decides the channels (`channels` only picks grayscale or RGB for pictures).
    config = dataclass_from_args(StackGANConfig, args, channels=args.channels or StackGANConfig.channels)
    train_stackgan(args.data, config, dataclass_from_args(TrainConfig, args), channels=args.channels)
    print_trained(args.out_dir)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    args.command_line = command_line(argv)
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
