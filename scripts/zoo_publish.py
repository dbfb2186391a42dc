"""Put a trained run into the model zoo (src/sketchlab/zoo/NAME) with its card, and draw its docs grids.

The card records what anyone needs to reproduce the model and what the tests check: the data, its license, the exact
training command, the step of the kept weights, and the test-set figures computed here (Sketch-RNN: L_R, L_s, L_p,
L_KL; classifier: top-1, top-3). Sketch-RNN models also get SVG grids of samples at temperatures 0.2 / 0.5 / 0.8 in
docs/zoo/, and, with --judge, the fraction of samples the zoo classifier recognises as --category.

    python scripts/zoo_publish.py runs/zoo-sheep sheep --data aaron_sheep --license "CC BY-NC 4.0" \
        --description "..." --command "sketchlab train ..." [--judge doodle-judge --category sheep]
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from sketchlab import render
from sketchlab.evaluation import classifier_labels, score_classifier, sketch_rnn_test_losses
from sketchlab.metrics import target_recognizability
from sketchlab.models.classifier import SketchClassifier
from sketchlab.models.pretrained import CONFIG_FILE, MODEL_FILE, model_kind
from sketchlab.pipelines.strokes import load_model, load_splits
from sketchlab.zoo import CARD_FILE, ZOO_DIR, recipe_commands, zoo_models

REPO = Path(__file__).resolve().parents[1]
GRID_TEMPERATURES = (0.2, 0.5, 0.8)


def sketch_rnn_figures(model, args) -> dict:
    splits = load_splits(args.data, model.config.max_seq_len)
    losses = sketch_rnn_test_losses(model, splits.test, splits.test_labels)
    figures = {"test": {key: round(value, 4) for key, value in losses.items() if key != "count"},
               "test_drawings": losses["count"]}
    if args.judge:
        judge = SketchClassifier.from_pretrained(args.judge)
        target = classifier_labels(judge, ["data"], args.category)
        samples = model.sample(args.samples, temperature=0.5, seed=0)
        score = target_recognizability(judge.classify(samples), target)
        figures["recognizability"] = {"judge": args.judge, "category": args.category, "temperature": 0.5,
                                      "samples": args.samples, "classified_as_category": round(score["fraction_correct"], 3),
                                      "chance": round(1 / judge.config.num_classes, 3)}
    return figures


def classifier_figures(model, args) -> dict:
    splits = load_splits(args.data, 10**9)
    result = score_classifier(model, splits.test, classifier_labels(model, splits.class_names)[splits.test_labels])
    return {"test": {"top1": round(result["top1"], 4), "top3": round(result["top3"], 4)},
            "test_drawings": result["count"], "classes": model.config.class_names}


def draw_grids(model, name: str) -> list[str]:
    out = REPO / "docs" / "zoo"
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for temperature in GRID_TEMPERATURES:
        path = out / f"{name}_t{temperature}.svg"
        render.save(model.sample(25, temperature=temperature, seed=1), path, ncols=5, cell=96, color_by_order=True)
        written.append(str(path.relative_to(REPO)))
    return written


def _figures(card: dict) -> str:
    test = card.get("test", {})
    if card["kind"] == "sketch-rnn":
        text = f"test L_R {test['l_r']:.3f} (L_s {test['l_s']:.3f}, L_p {test['l_p']:.3f}), L_KL {test['l_kl']:.3f}"
    else:
        text = f"test top-1 {test['top1']:.3f}, top-3 {test['top3']:.3f}"
    return f"{text} on {card['test_drawings']} test drawings"


def write_zoo_docs() -> Path:
    """docs/zoo.md from the cards, so the page never disagrees with what ships."""
    lines = ["# The model zoo", "",
             "Models shipped inside the package (`src/sketchlab/zoo/`), made by this page's commands. "
             "`sketchlab models list` shows the same cards; `tests/test_zoo.py` recomputes their figures. "
             "Regenerate this page with `python scripts/zoo_publish.py --docs-only`.", ""]
    for model in zoo_models():
        card = model.card
        lines += [f"## {card['name']}", "", card["description"], "",
                  f"- kind: {card['kind']}, {card['parameters']:,} parameters, {card['size_bytes'] / 1e6:.1f} MB",
                  f"- data: `{card['data']}`, license {card['data_license']} (the weights carry it)",
                  f"- kept weights: step {card['step']}; {_figures(card)}"]
        if card.get("trained_on"):
            lines.append(f"- trained on {card['trained_on']}")
        judged = card.get("recognizability")
        if judged:
            lines.append(f"- samples at temperature {judged['temperature']} recognised as {judged['category']} by "
                         f"`{judged['judge']}`: {judged['classified_as_category']:.3f} of {judged['samples']} "
                         f"(chance {judged['chance']:.2f})")
        lines += ["", "```bash"]
        lines += recipe_commands(card)
        lines += [card["train_command"], "```", ""]
        for grid in card.get("grids", []):
            temperature = grid.rsplit("_t", 1)[1].removesuffix(".svg")
            lines += [f"Samples at temperature {temperature}:", "", f"![{card['name']} at {temperature}]"
                      f"({Path(grid).relative_to('docs')})", ""]
    path = REPO / "docs" / "zoo.md"
    path.write_text("\n".join(lines))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", nargs="?", help="a training run folder (its best/ is published)")
    parser.add_argument("name", nargs="?", help="the zoo name, e.g. sheep")
    parser.add_argument("--docs-only", action="store_true", help="only rewrite docs/zoo.md from the cards")
    parser.add_argument("--data", help="the --data the model was trained on (its test split is used)")
    parser.add_argument("--license", help="the training data's license, which the weights carry")
    parser.add_argument("--description")
    parser.add_argument("--command", help="the exact training command")
    parser.add_argument("--trained-on", default=None, help="the machine and threads, in words")
    parser.add_argument("--data-recipe", type=json.loads, default=[],
                        help='the data builds that made --data when it is not a set name, as JSON: [{"inputs": '
                             '["quickdraw/raw"], "out": "runs/x.npz", "valid_fraction": 0.05, "test_fraction": 0.05}]')
    parser.add_argument("--judge", default=None, help="a zoo classifier to score samples with")
    parser.add_argument("--category", default=None, help="the judge's name for the model's category")
    parser.add_argument("--samples", type=int, default=500)
    args = parser.parse_args()
    if args.docs_only:
        print(write_zoo_docs())
        return
    missing = [name for name in ("run", "name", "data", "license", "description", "command") if not getattr(args, name)]
    if missing:
        parser.error(f"publishing needs {', '.join(missing)}")

    best = Path(args.run) / "best"
    kind = model_kind(best)
    model = load_model(best) if kind == "sketch-rnn" else SketchClassifier.from_pretrained(best)
    figures = sketch_rnn_figures(model, args) if kind == "sketch-rnn" else classifier_figures(model, args)
    folder = ZOO_DIR / args.name
    folder.mkdir(exist_ok=True)
    for file in (MODEL_FILE, CONFIG_FILE):
        shutil.copyfile(best / file, folder / file)
    best_json = json.loads((best / "best.json").read_text()) if (best / "best.json").is_file() else {}
    card = {"name": args.name, "kind": kind, "description": args.description, "data": args.data,
            "data_recipe": args.data_recipe, "data_license": args.license, "train_command": args.command,
            "step": best_json.get("step"), "trained_on": args.trained_on,
            "parameters": sum(p.numel() for p in model.parameters()),
            "size_bytes": (folder / MODEL_FILE).stat().st_size, **figures}
    if kind == "sketch-rnn":
        sizes = ("enc_hidden", "z_size") if model.config.conditional else ()  # no encoder, no z otherwise
        card["config"] = {key: getattr(model.config, key) for key in
                          ("cell", "conditional", *sizes, "dec_hidden", "num_mixture", "max_seq_len")}
        card["grids"] = draw_grids(model, args.name)
    (folder / CARD_FILE).write_text(json.dumps(card, indent=2) + "\n")
    print(json.dumps(card, indent=2))
    print(write_zoo_docs())


if __name__ == "__main__":
    main()
