"""train-translate and translate end to end on a tiny CycleGAN: trainA/trainB folders, grayscale -> RGB domains,
resuming, and one-line errors."""

import json

import numpy as np
import pytest
from PIL import Image

from sketchlab.cli import main

TINY = ["--image-size", "16", "--width", "4", "--resnet-blocks", "1", "--disc-width", "4", "--batch-size", "2",
        "--no-progress", "--no-tensorboard"]


def run_cli(*args) -> None:
    main([str(a) for a in args])


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """trainA/: dark pictures, trainB/: bright ones, 5 each."""
    root = tmp_path_factory.mktemp("domains")
    rng = np.random.default_rng(0)
    for name, low in (("trainA", 0), ("trainB", 170)):
        (root / name).mkdir()
        for i in range(5):
            Image.fromarray(rng.integers(low, low + 80, (20, 20, 3), dtype=np.uint8)).save(root / name / f"{i}.png")
    return root


def test_train_then_translate_both_ways(folders, tmp_path, capsys):
    run_cli("train-translate", "--data", folders, "--out-dir", tmp_path / "run", "--steps", 3, "--log-every", 1,
            *TINY)
    config = json.loads((tmp_path / "run" / "best" / "config.json").read_text())
    assert config["model"] == "cyclegan" and config["channels_a"] == 3 and config["lr_schedule_steps"] == 3
    metrics = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics] == [1, 2, 3] and "train/cycle" in metrics[-1]
    files = sorted((folders / "trainA").glob("*.png"))[:3]
    run_cli("translate", "--model", tmp_path / "run", "--direction", "AtoB", *files, "--out", tmp_path / "ab.png")
    assert Image.open(tmp_path / "ab.png").size == (2 * 18 + 2, 3 * 18 + 2)  # 3 rows of input | translation
    run_cli("translate", "--model", tmp_path / "run", "--direction", "BtoA", files[0], "--out", tmp_path / "ba.png")
    assert "wrote" in capsys.readouterr().out


def test_domains_may_differ_in_channels_and_training_resumes(folders, tmp_path):
    out = tmp_path / "run"
    common = ["--data-a", folders / "trainA", "--channels-a", 1, "--data-b", folders / "trainB", "--out-dir", out,
              "--log-every", 1, "--save-every", 2, *TINY]
    run_cli("train-translate", *common, "--steps", 2, "--lr-schedule-steps", 4)
    run_cli("train-translate", *common, "--steps", 4, "--lr-schedule-steps", 4, "--resume")
    config = json.loads((out / "best" / "config.json").read_text())
    assert (config["channels_a"], config["channels_b"]) == (1, 3)
    steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4]


@pytest.mark.parametrize("args, message", [
    (["--data-a", "x"], "name both domains"),
    (["--data", "{root}", "--data-a", "x"], "either --data"),
    (["--data", "{missing}"], "trainA/ and trainB/"),
    (["--data", "{root}", "--image-size", "18"], "multiple of 4"),
])
def test_bad_training_input_is_a_one_line_error(folders, tmp_path, capsys, args, message):
    args = [a.format(root=folders, missing=tmp_path / "nothing") for a in args]
    with pytest.raises(SystemExit):
        run_cli("train-translate", *TINY, "--out-dir", tmp_path / "run", "--steps", 1, *args)
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_translate_rejects_other_models_and_unreadable_files(folders, tmp_path, capsys):
    run_cli("train-image", "--model", "dcgan", "--data", folders, "--out-dir", tmp_path / "dcgan", "--steps", 1,
            "--image-size", "16", "--width", "4", "--disc-width", "4", "--latent-dim", "2", "--batch-size", "2",
            "--no-progress", "--no-tensorboard")
    with pytest.raises(SystemExit):
        run_cli("translate", "--model", tmp_path / "dcgan", folders / "trainA" / "0.png")
    assert "not a cyclegan" in capsys.readouterr().err
    run_cli("train-translate", "--data", folders, "--out-dir", tmp_path / "run", "--steps", 1, *TINY)
    (tmp_path / "broken.png").write_bytes(b"not a picture")
    with pytest.raises(SystemExit):
        run_cli("translate", "--model", tmp_path / "run", tmp_path / "broken.png")
    err = capsys.readouterr().err
    assert "cannot read the picture" in err and err.count("\n") == 1
