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


@pytest.fixture(scope="module")
def doodles(data_dir):
    """Real circle and square doodles of the shared data (.ndjson: all of them in the train split)."""
    return [data_dir / "quickdraw" / "simplified" / f"{name}.ndjson" for name in ("circle", "square")]


def translation_losses(out, doodles, steps: int, resume: bool = False) -> dict[int, dict]:
    # A pool of 3 fills at step 2 (batches of 2) and is drawn from afterwards: an empty pool after resuming shows.
    run_cli("train-translate", "--data-a", doodles[0], "--data-b", doodles[1], "--out-dir", out, "--steps", steps,
            "--lr-schedule-steps", 6, "--pool-size", 3, "--log-every", 1, "--save-every", 3, *TINY,
            *(["--resume"] if resume else []))
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return {record.pop("step"): record for record in records}


def test_resumed_cyclegan_training_repeats_the_uninterrupted_losses_exactly(doodles, tmp_path):
    """The image pools are checkpointed (tensors, loadable without pickle) with the optimisers, schedulers, data
    position and RNGs: a run cut after 3 steps and resumed logs, to the bit, what a run of 6 straight steps logs."""
    import torch

    straight = translation_losses(tmp_path / "straight", doodles, 6)
    translation_losses(tmp_path / "pieces", doodles, 3)
    state = torch.load(tmp_path / "pieces" / "last" / "trainer_state.pt", weights_only=True)
    pools = state["extra"]["model_state"][0]
    assert pools["pool_a"]["images"].shape == pools["pool_b"]["images"].shape == (3, 1, 16, 16)
    resumed = translation_losses(tmp_path / "pieces", doodles, 6, resume=True)
    assert list(resumed) == [1, 2, 3, 4, 5, 6]
    assert resumed == straight


def test_translate_draws_from_stroke_data(doodles, sheep_path, folders, tmp_path, capsys):
    """--data rasterizes the first --n drawings of a split as the source domain was trained: an .ndjson file's
    (train only), a .npz's or a named set's test split; FILEs and --data exclude each other."""
    run_cli("train-translate", "--data-a", doodles[0], "--data-b", doodles[1], "--out-dir", tmp_path / "run",
            "--steps", 1, *TINY)
    run_cli("translate", "--model", tmp_path / "run", "--data", doodles[0], "--split", "train", "--n", 3,
            "--out", tmp_path / "ndjson.png")
    assert Image.open(tmp_path / "ndjson.png").size == (2 * 18 + 2, 3 * 18 + 2)  # 3 rows of input | translation
    for data in (sheep_path, "aaron_sheep"):
        run_cli("translate", "--model", tmp_path / "run", "--direction", "BtoA", "--data", data, "--n", 4,
                "--out", tmp_path / "sheep.png")
        picture = np.asarray(Image.open(tmp_path / "sheep.png"))
        assert picture.shape == (4 * 18 + 2, 2 * 18 + 2, 3)
    # The first test sheep, rasterized 16x16 as the training doodles were (two pixels of padding around each tile).
    from sketchlab.pipelines.images import load_image_data

    first = load_image_data(str(sheep_path), 16, split="test").images(slice(0, 1))[0, 0]
    np.testing.assert_array_equal(picture[2:18, 2:18, 0], np.rint((first.numpy() + 1) * 127.5))
    for args, message in ((["--data", doodles[0]], "no test drawings"),
                          (["--data", doodles[0], "--split", "train", doodles[0]], "either picture FILEs or --data"),
                          ([], "either picture FILEs or --data")):
        with pytest.raises(SystemExit):
            run_cli("translate", "--model", tmp_path / "run", *args)
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
    run_cli("train-translate", "--data", folders, "--out-dir", tmp_path / "rgb", "--steps", 1, *TINY)
    with pytest.raises(SystemExit):
        run_cli("translate", "--model", tmp_path / "rgb", "--data", sheep_path)
    assert "colour pictures" in capsys.readouterr().err
