"""`sketchlab models import / export / list --magenta` and `sketchlab train --init`."""

import json

import numpy as np
import pytest

from sketchlab.cli import main
from sketchlab.data.quickdraw import build_npz
from sketchlab.magenta.catalog import fetch_model
from sketchlab.magenta.format import read_file
from sketchlab.models.sketch_rnn import SketchRNN, SketchRNNConfig


def test_import_then_export_gives_back_the_published_file(data_dir, tmp_path, capsys):
    original = data_dir / "magenta" / "key.gen.json"
    main(["models", "import", str(original), "--out", str(tmp_path / "key")])
    card = json.loads((tmp_path / "key" / "card.json").read_text())
    assert card["source"] == str(original.resolve()) and card["format"] == "magenta-js gen.json"
    main(["models", "export", str(tmp_path / "key"), "--format", "magenta-js", "--out", str(tmp_path / "k.gen.json")])
    assert "wrote" in capsys.readouterr().out
    again, published = read_file(tmp_path / "k.gen.json"), read_file(original)
    assert again.info["scale_factor"] == pytest.approx(published.info["scale_factor"])
    assert all(np.array_equal(a, b) for a, b in zip(again.blobs, published.blobs))


def test_bad_files_and_cells_are_one_line_errors_without_a_traceback(tmp_path, capsys):
    bad = tmp_path / "bad.gen.json"
    bad.write_text("<html>Not Found</html>")
    with pytest.raises(SystemExit) as exit_info:
        main(["models", "import", str(bad), "--out", str(tmp_path / "out")])
    error = capsys.readouterr().err
    assert exit_info.value.code == 2 and error.startswith("error: ") and "not JSON" in error
    assert error.count("\n") == 1 and not (tmp_path / "out").exists()
    SketchRNN(SketchRNNConfig(dec_hidden=8, conditional=False, cell="layernorm")).save_pretrained(tmp_path / "ln")
    with pytest.raises(SystemExit):
        main(["models", "export", str(tmp_path / "ln"), "--out", str(tmp_path / "ln.gen.json")])
    assert "a layernorm decoder cannot be written" in capsys.readouterr().err


def test_list_magenta_shows_the_catalog_and_what_is_cached(mirror, data_dir, capsys):
    mirror(data_dir / "magenta")
    fetch_model("parrot", progress=False)
    main(["models", "list", "--magenta"])
    rows = {line.split()[0]: line.split()[1:] for line in capsys.readouterr().out.splitlines()[1:]}
    assert len(rows) > 100 and rows["parrot"] == ["magenta:parrot", "gen,vae", "gen"]
    assert rows["everything"] == ["magenta:everything", "gen", "-"]


def test_train_init_fine_tunes_a_published_model(mirror, data_dir, tmp_path):
    mirror(data_dir / "magenta")
    keys = tmp_path / "keys.npz"
    build_npz([data_dir / "quickdraw" / "simplified" / "key.ndjson"], keys, valid_fraction=0, test_fraction=0, limit=4)
    main(["train", "--init", "magenta:key", "--data", str(keys), "--out-dir", str(tmp_path / "run"), "--steps", "1",
          "--batch-size", "4", "--device", "cpu", "--no-tensorboard", "--no-progress", "--eval-every", "0",
          "--image-every", "0"])
    tuned, published = SketchRNN.from_pretrained(tmp_path / "run"), SketchRNN.from_pretrained("magenta:key")
    assert (tuned.config.dec_hidden, tuned.config.scale_factor) == (512, published.config.scale_factor)
