"""StackGAN on the command line: train-stackgan stage 1 then stage 2 on real Quick, Draw! doodles (category names as
texts), generate --prompt from each, and one-line errors."""

import json

import numpy as np
import pytest
from PIL import Image

from sketchlab.cli import main

TINY = ["--image-size", "16", "--upscale", "2", "--latent-dim", "8", "--embed-dim", "8", "--condition-dim", "4",
        "--disc-condition-dim", "4", "--width", "8", "--disc-width", "8", "--refine-width", "4",
        "--residual-blocks", "1", "--batch-size", "8", "--steps", "2", "--no-progress", "--no-tensorboard"]


def run_cli(*args) -> None:
    main([str(a) for a in args])


@pytest.fixture(scope="module")
def doodles(data_dir):
    folder = data_dir / "quickdraw" / "simplified"
    return ",".join(str(folder / f"{name}.ndjson") for name in ("owl", "cat"))


@pytest.fixture(scope="module")
def stages(doodles, tmp_path_factory):
    out = tmp_path_factory.mktemp("stackgan")
    run_cli("train-stackgan", "--data", doodles, "--out-dir", out / "one", *TINY)
    run_cli("train-stackgan", "--data", doodles, "--out-dir", out / "two", "--stage", "2", "--stage-one",
            out / "one", *TINY)
    return out


def test_stages_train_and_draw_from_prompts(stages, tmp_path, capsys):
    one = json.loads((stages / "one" / "best" / "config.json").read_text())
    two = json.loads((stages / "two" / "best" / "config.json").read_text())
    assert one["model"] == two["model"] == "stackgan"
    assert one["vocabulary"] == two["vocabulary"] == ["cat", "owl"] and one["channels"] == 1
    assert (one["stage"], two["stage"]) == (1, 2)
    run_cli("generate", "--model", stages / "two", "--prompt", "an owl", "--prompt", "cat", "--n", 3, "--seed", 0,
            "--out", tmp_path / "two.png")
    with Image.open(tmp_path / "two.png") as picture:
        two_picture = np.asarray(picture)
    run_cli("generate", "--model", stages / "two", "--prompt", "an owl", "--prompt", "cat", "--n", 3, "--seed", 0,
            "--stages", "--out", tmp_path / "both.png")
    with Image.open(tmp_path / "both.png") as picture:
        assert picture.height > two_picture.shape[0]  # twice the rows
    run_cli("generate", "--model", stages / "one", "--prompt", "owl", "--n", 2, "--out", tmp_path / "one.png")
    assert "wrote" in capsys.readouterr().out


TRAIN = ["train-stackgan", "--data", "{data}", "--out-dir", "{tmp}/s", *TINY]


@pytest.mark.parametrize("args, message", [
    (["generate", "--model", "{one}", "--prompt", "the", "--out", "{tmp}/x.png"], "prompt is empty"),
    (["generate", "--model", "{one}", "--out", "{tmp}/x.png"], "holds a stackgan model"),
    ([*TRAIN, "--stage", "3"], "stage must be 1 or 2"),
    ([*TRAIN, "--stage", "2"], "give its model folder"),
])
def test_bad_input_is_one_line(stages, doodles, tmp_path, capsys, args, message):
    values = {"one": stages / "one", "tmp": tmp_path, "data": doodles}
    with pytest.raises(SystemExit):
        run_cli(*(a.format(**values) for a in args))
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err
