"""Judging models: the sketch classifier (`classifier train`, `classifier test`) and `evaluate`."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from sketchlab.cli.options import (
    Command,
    add_dataclass_options,
    add_drawing_source,
    add_model,
    dataclass_from_args,
    floats,
)


def classifier_options(parser: argparse.ArgumentParser) -> None:
    from sketchlab.models.classifier import ClassifierConfig
    from sketchlab.training.engine import TrainConfig

    commands = parser.add_subparsers(dest="classifier_command", required=True, metavar="CLASSIFIER_COMMAND")
    train = commands.add_parser("train", help="train on the train splits of several categories, then report "
                                "top-1/top-3 and a confusion matrix on their test splits",
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    train.add_argument("--data", required=True,
                       help="one .npz (or name, e.g. cat,owl,pig, or a folder of .npz files) per category")
    add_dataclass_options(train, TrainConfig)
    add_dataclass_options(train, ClassifierConfig, skip=("num_classes", "class_names"))
    train.set_defaults(run=cmd_classifier_train)
    test = commands.add_parser("test", help="top-1/top-3 and a confusion matrix on a split",
                               formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    test.add_argument("--model", required=True, help="a classifier folder (a run folder or its best/)")
    add_drawing_source(test)
    test.add_argument("--out", default="classifier-report", help="folder for classifier.md/.json, confusion.png")
    test.set_defaults(run=cmd_classifier_test)


def evaluate_options(parser: argparse.ArgumentParser) -> None:
    from sketchlab.evaluation import SAMPLE_TEMPERATURES
    from sketchlab.metrics import DEFAULT_TEMPERATURES

    add_model(parser)
    parser.add_argument("--classifier", required=True, help="a classifier folder (`sketchlab classifier train`)")
    parser.add_argument("--data", default=None, help="the model's data (.npz paths or names); its test split")
    parser.add_argument("--class", dest="class_name", default=None,
                        help="the classifier's name for a one-category data set (e.g. sheep for aaron_sheep)")
    for domain in ("a", "b"):
        parser.add_argument(f"--data-{domain}", default=None,
                            help=f"a cyclegan: domain {domain.upper()}'s data as trained on (.npz paths or names; "
                                 "its test split)")
        parser.add_argument(f"--class-{domain}", default=None,
                            help=f"a cyclegan: the classifier's name for domain {domain.upper()}'s category")
    parser.add_argument("--temperatures", type=floats, default=list(DEFAULT_TEMPERATURES),
                        help="reconstruction temperatures")
    parser.add_argument("--sample-temperatures", type=floats, default=list(SAMPLE_TEMPERATURES))
    parser.add_argument("--n-samples", type=int, default=200, help="samples per temperature")
    parser.add_argument("--n-reconstruct", type=int, default=200, help="test drawings reconstructed")
    parser.add_argument("--out", default="evaluation", help="folder for report.md, report.json and plots")
    parser.set_defaults(run=cmd_evaluate)


COMMANDS = {
    "classifier": Command("the sketch classifier that judges generated drawings", classifier_options),
    "evaluate": Command("judge a Sketch-RNN or pixel model (test losses, recognizability, Fréchet distance) or a "
                        "CycleGAN (are its translations classified as the target category?)", evaluate_options),
}


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
    from sketchlab.metrics.report import write_report
    from sketchlab.models.classifier import SketchClassifier
    from sketchlab.models.pretrained import saved_model_kind
    from sketchlab.pipelines.images import load_pixel_model
    from sketchlab.pipelines.strokes import load_model, load_splits

    classifier = SketchClassifier.from_pretrained(args.classifier, map_location=args.device)
    folder, kind = saved_model_kind(args.model)
    seed = args.seed or 0
    if kind == "cyclegan":
        _evaluate_translation(args, classifier, folder)
        return
    if args.data is None:
        raise DataError("--data is required: the model's data, whose test split it is judged against")
    if kind == "sketch-rnn":
        model = load_model(args.model, args.device)
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
    from sketchlab.metrics.report import write_report
    from sketchlab.pipelines.translation import domain_data, load_translation_model

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
