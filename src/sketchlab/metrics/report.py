"""Evaluation results as files a person reads: a Markdown report with tables, PNG plots and grids, and the same
numbers as JSON (`report.json`) for scripts."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sketchlab.metrics.recognizability import BIN_LABELS

GRID_SIZE = 25  # drawings per sample grid
TRANSLATION_ROWS = 16  # drawings per domain in a translation grid


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only: no screen on servers and CI
    import matplotlib.pyplot as plt

    return plt


def _plain(value: Any) -> Any:
    """JSON-ready: numpy scalars and arrays to Python numbers and lists, NaN to None, keys to strings."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(item) for item in value]
    if isinstance(value, (np.integer, np.bool_)):
        return value.item()
    if isinstance(value, (float, np.floating)):
        return None if not math.isfinite(value) else float(value)
    return value


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(_fmt(cell) for cell in row) + " |" for row in rows] + [""]


def _write_json(path: Path, result: dict[str, Any]) -> None:
    path.write_text(json.dumps(_plain(result), indent=2) + "\n")


# ---------------------------------------------------------------------- the classifier


def confusion_png(confusion, class_names: Sequence[str], path: Path) -> Path:
    """The confusion matrix, each row shaded by its share of the true class, counts written in."""
    plt = _pyplot()
    confusion = np.asarray(confusion)
    shares = confusion / np.maximum(confusion.sum(axis=1, keepdims=True), 1)
    side = 1.2 + 0.45 * len(confusion)
    figure, axes = plt.subplots(figsize=(side + 1.5, side))
    image = axes.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    ticks = range(len(confusion))
    axes.set_xticks(ticks, class_names, rotation=60, ha="right")
    axes.set_yticks(ticks, class_names)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    for (i, j), count in np.ndenumerate(confusion):
        if count:
            axes.text(j, i, str(count), ha="center", va="center", fontsize=8,
                      color="white" if shares[i, j] > 0.5 else "black")
    figure.colorbar(image, ax=axes, label="share of the true class")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def write_classifier_report(result: dict[str, Any], out_dir: str | Path, command: str | None = None) -> Path:
    """`classifier.md`, `classifier.json` and `confusion.png` in `out_dir`; returns the Markdown file."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    names = result["class_names"]
    confusion_png(result["confusion"], names, out / "confusion.png")
    _write_json(out / "classifier.json", result)
    confusion = np.asarray(result["confusion"])
    per_class = confusion.diagonal() / np.maximum(confusion.sum(axis=1), 1)
    lines = ["# Sketch classifier: test split", ""]
    if command:
        lines += ["```", command, "```", ""]
    lines += _table(["drawings", "top-1", "top-3", "mean loss"],
                    [[result["count"], result["top1"], result["top3"], result["loss"]]])
    lines += ["![confusion matrix](confusion.png)", "", "Per class (top-1):", ""]
    lines += _table(["class", "test drawings", "top-1"],
                    [[name, int(confusion[i].sum()), float(per_class[i])] for i, name in enumerate(names)])
    path = out / "classifier.md"
    path.write_text("\n".join(lines))
    return path


# ---------------------------------------------------------------------- a generative model


def temperature_png(result: dict[str, Any], path: Path) -> Path:
    """Recognizability and Fréchet distance against temperature, with the real drawings' values as references."""
    plt = _pyplot()
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    samples = result["samples"]
    temps = sorted(samples)
    left.plot(temps, [samples[t]["fraction_correct"] for t in temps], "o-", label="samples: classified as category")
    if "reconstruction" in result:
        by_t = result["reconstruction"]["by_temperature"]
        recon_temps = sorted(by_t)
        left.plot(recon_temps, [by_t[t]["mean"] for t in recon_temps], "s-",
                  label="reconstructions: mean true-class probability")
    left.axhline(result["real_test"]["true_class_mean"], color="gray", linestyle="--",
                 label="real test drawings: mean true-class probability")
    left.set_xlabel("temperature")
    left.set_ylim(0, 1.02)
    left.legend(fontsize=8)
    left.set_title("recognizability")
    right.plot(temps, [samples[t]["frechet"] for t in temps], "o-", label="samples vs real test")
    right.axhline(result["real_train"]["frechet"], color="gray", linestyle="--", label="real train vs real test")
    right.set_xlabel("temperature")
    right.set_ylabel("Fréchet distance (classifier features)")
    right.legend(fontsize=8)
    right.set_title("Fréchet sketch distance")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def histogram_png(histogram: dict[str, int], path: Path, title: str) -> Path:
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(6, 3.5))
    counts = [histogram.get(label, 0) for label in BIN_LABELS]
    axes.bar(BIN_LABELS, counts, color="#4c72b0")
    axes.set_xlabel("highest true-class probability over temperatures")
    axes.set_ylabel("drawings")
    axes.set_title(title)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def _grids(result: dict[str, Any], out: Path) -> list[str]:
    from sketchlab import render

    lines = []
    if "images" in result:  # a pixel model's samples
        render.save_picture(render.image_grid(result["images"][:64], ncols=8), out / "samples.png")
        return ["Samples:", "", "![samples](samples.png)", ""]
    drawings = result.get("drawings", {"samples": {}})
    for temperature, samples in sorted(drawings["samples"].items()):
        name = f"samples_t{temperature:.1f}.png"
        render.save(samples[:GRID_SIZE], out / name, ncols=5, cell=96)
        lines += [f"Samples at temperature {temperature:.1f}:", "", f"![samples at {temperature:.1f}]({name})", ""]
    if "reconstructions" in drawings:
        pairs = [d for pair in zip(drawings["originals"][:12], drawings["reconstructions"][:12]) for d in pair]
        labels = ["real", "best reconstruction"] * (len(pairs) // 2)
        render.save(pairs, out / "reconstructions.png", ncols=6, cell=96, labels=labels)
        lines += ["Test drawings and their most recognizable reconstruction:", "",
                  "![reconstructions](reconstructions.png)", ""]
    return lines


def _reconstruction_lines(recon: dict[str, Any], out: Path) -> list[str]:
    lines = ["Reconstructions (each test drawing decoded at temperatures "
             f"{', '.join(f'{t:g}' for t in recon['temperatures'])}; the highest true-class probability kept; "
             "the analysis paper reports a mean of 0.56 for 30 classes with a HyperLSTM):", ""]
    lines += _table(["drawings", "mean", "variance", "classified correctly"],
                    [[recon["count"], recon["mean"], recon["variance"], recon["fraction_correct"]]])
    lines += _table(["softmax bin", *BIN_LABELS], [["drawings", *recon["histogram"].values()]])
    histogram_png(recon["histogram"], out / "histogram.png", "reconstructions")
    return lines + ["![histogram](histogram.png)", ""]


def _translation_lines(result: dict[str, Any], out: Path) -> list[str]:
    """The table of an `evaluation.evaluate_translation` result and a grid of originals | translations."""
    from sketchlab import render
    from sketchlab.models.cyclegan import side_by_side

    lines = ["## Translation judged by the classifier", "",
             "Each domain's test drawings translated into the other domain, originals and translations classified: "
             "how often the classifier calls them the target category (the other domain's). Three references: the "
             "originals' rate (the baseline, the classifier's own error), chance, and the permuted control (each "
             "translation with its pixels shuffled: the same ink and grey levels, no shape). The translations flip to "
             "the target when they beat all three by more than 3 binomial standard errors (SE: of the difference for "
             "the baseline and the control, of the translated fraction at chance for chance).", ""]

    def beats(judged: dict[str, Any], reference: str) -> str:
        return "yes" if judged[f"above_{reference}"] else "no"

    rows = [[direction, judged["target"], judged["count"], judged["baseline"], judged["translated"],
             judged["permuted"], judged["chance"],
             f"{beats(judged, 'baseline')} / {beats(judged, 'control')} / {beats(judged, 'chance')}",
             "yes" if judged["flips"] else "no"] for direction, judged in result["translation"].items()]
    lines += _table(["direction", "target", "drawings", "originals as target (baseline)", "translations as target",
                     "permuted translations as target (control)", "chance",
                     "> baseline / control / chance + 3 SE", "flips to the target"], rows)
    lines += ["SE of the difference from the baseline, from the control, and at chance: " + "; ".join(
        f"{direction} {judged['standard_error']:.3f}, {judged['control_standard_error']:.3f}, "
        f"{judged['chance_standard_error']:.3f}" for direction, judged in result["translation"].items()) + ".", ""]
    if "pairs" not in result:
        return lines
    (a, a_to_b), (b, b_to_a) = result["pairs"]["AtoB"], result["pairs"]["BtoA"]
    rows = min(len(a), len(b), TRANSLATION_ROWS)
    grid = render.image_grid(side_by_side(a[:rows], a_to_b[:rows], b[:rows], b_to_a[:rows]), ncols=4)
    render.save_picture(grid, out / "translations.png", scale=max(1, 64 // a.shape[-1]))
    return lines + [f"The first {rows} test drawings of each domain; columns: A, A translated to B, B, B translated "
                    "to A.", "", "![originals and translations](translations.png)", ""]


def write_report(result: dict[str, Any], out_dir: str | Path, command: str | None = None) -> Path:
    """`report.md`, `report.json` and the plots and grids of an `evaluation.evaluate_sketch_rnn`,
    `evaluate_pixel_model` or `evaluate_translation` result (plus the "model", "classifier" and "data" entries the
    caller adds); returns the Markdown file."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    numbers = {key: value for key, value in result.items() if key not in ("drawings", "images", "pairs")}
    _write_json(out / "report.json", numbers)
    model, classifier, data = result.get("model", {}), result.get("classifier", {}), result.get("data", {})
    lines = [f"# Evaluation of {model.get('path', 'a model')}", ""]
    if command:
        lines += ["```", command, "```", ""]
    lines += [f"Model: {model.get('kind', '?')}, {model.get('parameters', '?')} parameters. "
              f"Data: {data.get('spec', '?')} (test split). "
              f"Classifier: {classifier.get('path', '?')} ({len(classifier.get('class_names') or [])} classes, "
              f"top-1 {_fmt(classifier.get('top1'))} on its own test split).", ""]
    lines += (_translation_lines(result, out) if "translation" in numbers
              else _generation_lines(result, numbers, out))
    path = out / "report.md"
    path.write_text("\n".join(lines))
    return path


def _generation_lines(result: dict[str, Any], numbers: dict[str, Any], out: Path) -> list[str]:
    """Test losses, recognizability, Fréchet distance and sample grids of a Sketch-RNN or pixel model."""
    lines: list[str] = []
    if "test_losses" in numbers:
        losses = numbers["test_losses"]
        lines += ["## Test-set losses (as the paper's Table 1)", ""]
        lines += _table(["drawings", "L_R = L_s + L_p", "L_s", "L_p", "L_KL"],
                        [[losses["count"], losses["l_r"], losses["l_s"], losses["l_p"], losses["l_kl"]]])
    lines += ["## Recognizability", "",
              f"Real test drawings: mean true-class probability {_fmt(numbers['real_test']['true_class_mean'])}, "
              f"classified correctly {_fmt(numbers['real_test']['true_class_correct'])} "
              "(what a perfect model would score).", ""]
    if "reconstruction" in numbers:
        lines += _reconstruction_lines(numbers["reconstruction"], out)
    lines += ["Samples, and real training drawings as the reference (probability on the trained categories; "
              "Fréchet distance, precision and recall against the real test drawings in the classifier's "
              "penultimate features):", ""]
    rows = [[f"{t:g}" if isinstance(t, float) else t, s["count"], s["mean"], s["fraction_correct"], s["frechet"],
             s.get("precision"), s.get("recall")] for t, s in numbers["samples"].items()]
    real = numbers["real_train"]
    rows.append(["real train", real["count"], real["mean"], real["fraction_correct"], real["frechet"],
                 real.get("precision"), real.get("recall")])
    lines += _table(["temperature", "samples", "mean probability", "classified as category", "Fréchet",
                     "precision", "recall"], rows)
    if all(isinstance(t, float) for t in numbers["samples"]):
        temperature_png(numbers, out / "temperatures.png")
        lines += ["![temperature curves](temperatures.png)", ""]
    return lines + _grids(result, out)
