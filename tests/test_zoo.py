"""The model zoo: every shipped model loads safely, matches its config and reproduces the figures on its card."""

import json

import numpy as np
import pytest

from sketchlab.cli import main
from sketchlab.errors import CheckpointError
from sketchlab.evaluation import classifier_labels, classifier_summary, score_classifier, sketch_rnn_test_losses
from sketchlab.metrics import target_recognizability
from sketchlab.models.classifier import SketchClassifier
from sketchlab.models.pretrained import MODEL_FILE
from sketchlab.pipelines.strokes import load_model, load_splits
from sketchlab.zoo import rebuild_data, recipe_builds, recipe_commands, resolve_model_path, zoo_models

MODELS = {model.name: model for model in zoo_models()}
SKETCH_RNNS = [name for name, model in MODELS.items() if model.card["kind"] == "sketch-rnn"]


def test_the_zoo_ships_a_judge_and_cards_that_say_how_to_reproduce():
    assert "doodle-judge" in MODELS
    for model in MODELS.values():
        card = model.card
        for key in ("description", "data", "data_license", "train_command", "test", "parameters"):
            assert card.get(key), (model.name, key)
        assert card["train_command"].startswith("sketchlab ")
        assert (model.folder / MODEL_FILE).stat().st_size == card["size_bytes"] < 8_000_000


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_model_loads_from_safetensors_with_a_matching_config(name):
    card = MODELS[name].card
    model = load_model(name) if card["kind"] == "sketch-rnn" else SketchClassifier.from_pretrained(name)
    assert sum(p.numel() for p in model.parameters()) == card["parameters"]
    assert not model.training


@pytest.fixture(scope="module")
def card_data(tmp_path_factory, data_dir):
    """The data each card was tested on: a set name as it is, or its recipe rebuilt from the shared files."""
    built = {}

    def data(name):
        card = MODELS[name].card
        if not recipe_builds(card):
            return card["data"]
        if name not in built:
            built[name] = str(rebuild_data(card, data_dir, tmp_path_factory.mktemp(name)))
        return built[name]
    return data


def test_recipes_are_data_and_shell_commands_alike(tmp_path):
    card = MODELS["doodle-judge"].card
    commands = recipe_commands(card)
    assert len(commands) == len(card["classes"]) == len(recipe_builds(card))
    assert commands[0].startswith('sketchlab data build "$SKETCHLAB_DATA/quickdraw/raw/')
    assert "--test-fraction 0.25" in commands[0]
    with pytest.raises(CheckpointError, match="data_recipe"):
        recipe_builds({"name": "x", "data_recipe": "for c in ...; do sketchlab data build ...; done"})


def test_the_judge_scores_what_its_card_says(card_data):
    judge = SketchClassifier.from_pretrained("doodle-judge")
    splits = load_splits(card_data("doodle-judge"), 10**9)
    labels = classifier_labels(judge, splits.class_names)[splits.test_labels]
    result = score_classifier(judge, splits.test, labels)
    card = MODELS["doodle-judge"].card
    assert result["count"] == card["test_drawings"]
    assert round(result["top1"], 3) == round(card["test"]["top1"], 3)
    assert result["top1"] > 3 / judge.config.num_classes  # well above chance
    assert classifier_summary("doodle-judge", judge)["top1"] == card["test"]["top1"]  # what evaluate reports


@pytest.mark.parametrize("name", SKETCH_RNNS)
def test_sketch_rnn_test_losses_equal_the_card(name, card_data):
    card = MODELS[name].card
    model = load_model(name)
    splits = load_splits(card_data(name), model.config.max_seq_len)
    losses = sketch_rnn_test_losses(model, splits.test, splits.test_labels)
    assert losses["count"] == card["test_drawings"]
    for key in ("l_r", "l_kl"):
        assert round(losses[key], 3) == round(card["test"][key], 3), key


@pytest.mark.parametrize("name", [n for n in SKETCH_RNNS if MODELS[n].card.get("recognizability")])
def test_samples_are_recognised_as_the_category_above_chance(name):
    """Well above chance: the judge calls at least three times as many samples the category as chance would, and
    more than 3 binomial standard errors above it."""
    card = MODELS[name].card["recognizability"]
    judge = SketchClassifier.from_pretrained(card["judge"])
    target = classifier_labels(judge, ["data"], card["category"])
    n, chance = 500, 1 / judge.config.num_classes
    samples = load_model(name).sample(n, temperature=card["temperature"], seed=7)  # not the card's seed
    score = target_recognizability(judge.classify(samples), target)
    assert score["fraction_correct"] > max(3 * chance, chance + 3 * (chance * (1 - chance) / n) ** 0.5), score


def test_cli_uses_zoo_names_and_lists_the_zoo(capsys, tmp_path):
    main(["models", "list"])
    listing = capsys.readouterr().out
    for name in MODELS:
        assert name in listing
    with pytest.raises(CheckpointError, match="doodle-judge"):
        resolve_model_path("no-such-model")
    assert resolve_model_path("doodle-judge") == MODELS["doodle-judge"].folder
    for name in SKETCH_RNNS[:1]:
        main(["sample", "--model", name, "--n", "4", "--seed", "0", "--out", str(tmp_path / "s.svg")])
        assert (tmp_path / "s.svg").read_text().count("<path") >= 4
    assert json.loads((MODELS["doodle-judge"].folder / "config.json").read_text())["model"] == "sketch-classifier"
    assert np.isfinite(MODELS["doodle-judge"].card["test"]["top1"])
