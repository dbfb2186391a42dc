"""The downloader against a loopback HTTP server that serves the shared data like the upstream hosts do."""

import socket

import pytest

from sketchlab.data import sources
from sketchlab.errors import DataError


@pytest.fixture()
def mirror(tmp_path, data_dir, monkeypatch, serve_dir):
    """A loopback mirror whose layout matches the upstream hosts: sketchrnn/<name>.npz and aaron_sheep/..."""
    root = tmp_path / "mirror"
    (root / "sketchrnn").mkdir(parents=True)
    (root / "aaron_sheep").mkdir()
    sheep = (data_dir / "sketchrnn" / "aaron_sheep.npz").read_bytes()
    (root / "sketchrnn" / "sheep.npz").write_bytes(sheep)
    (root / "aaron_sheep" / "aaron_sheep.npz").write_bytes(sheep)
    (root / "sketchrnn" / "broken.npz").write_bytes(b"this is not a zip file")
    url, handler = serve_dir(root)
    monkeypatch.setenv("SKETCHLAB_QUICKDRAW_URL", url)
    monkeypatch.setenv("SKETCHLAB_SKETCHRNN_DATASETS_URL", url)
    monkeypatch.setenv("SKETCHLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("SKETCHLAB_DATA", raising=False)
    return {"url": url, "sheep": sheep, "cache": tmp_path / "cache", "handler": handler, "root": root}


def test_category_download_lands_verified_in_cache_and_is_not_fetched_twice(mirror):
    (path,) = sources.resolve_data("sheep")
    assert path == mirror["cache"] / "sketchrnn" / "sheep.npz"
    assert path.read_bytes() == mirror["sheep"]
    assert sources.resolve_data("sheep") == [path]
    assert len(mirror["handler"].requests) == 1


def test_classic_dataset_names_use_their_own_upstream_layout(mirror):
    (path,) = sources.resolve_data("aaron_sheep")
    assert mirror["handler"].requests[0]["path"] == "/aaron_sheep/aaron_sheep.npz"
    assert path.read_bytes() == mirror["sheep"]


def test_truncated_download_leaves_no_file_and_resumes_from_the_partial(mirror):
    mirror["handler"].truncate_to = 1000
    with pytest.raises(DataError, match="failed|truncated"):
        sources.resolve_data("sheep")
    final = mirror["cache"] / "sketchrnn" / "sheep.npz"
    part = final.with_name("sheep.npz.part")
    assert not final.exists()
    assert part.stat().st_size == 1000
    mirror["handler"].truncate_to = None
    sources.resolve_data("sheep")
    assert mirror["handler"].requests[-1]["range"] == "bytes=1000-"
    assert final.read_bytes() == mirror["sheep"]
    assert not part.exists()


def test_a_classic_set_must_have_its_published_sha256(mirror, data_dir):
    other = (data_dir / "sketchrnn" / "omniglot.npz").read_bytes()  # a valid .npz, but not aaron_sheep's bytes
    (mirror["root"] / "aaron_sheep" / "aaron_sheep.npz").write_bytes(other)
    with pytest.raises(DataError, match="sha256 is not the published 65f8e51e"):
        sources.resolve_data("aaron_sheep")
    assert list((mirror["cache"] / "sketchrnn").iterdir()) == []


def test_missing_category_is_a_clear_error(mirror):
    with pytest.raises(DataError, match="HTTP 404"):
        sources.resolve_data("no such thing")
    assert not any((mirror["cache"] / "sketchrnn").glob("no such thing*"))


def test_unusable_download_is_removed(mirror):
    with pytest.raises(DataError, match="unusable"):
        sources.resolve_data("broken")
    assert list((mirror["cache"] / "sketchrnn").iterdir()) == []


def test_connection_refused_is_a_clear_error(tmp_path, monkeypatch):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("SKETCHLAB_QUICKDRAW_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("SKETCHLAB_CACHE", str(tmp_path))
    monkeypatch.delenv("SKETCHLAB_DATA", raising=False)
    with pytest.raises(DataError, match="refused"):
        sources.resolve_data("cat")
    assert not (tmp_path / "sketchrnn" / "cat.npz").exists()


def test_paths_and_shared_folder_win_over_downloads(data_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("SKETCHLAB_DATA", str(data_dir))
    monkeypatch.setenv("SKETCHLAB_CACHE", str(tmp_path))
    sheep = data_dir / "sketchrnn" / "aaron_sheep.npz"
    assert sources.resolve_data(f"aaron_sheep,{sheep}") == [sheep, sheep]
    with pytest.raises(DataError, match="no such data file"):
        sources.resolve_data(str(tmp_path / "missing.npz"))
    with pytest.raises(DataError, match="empty"):
        sources.resolve_data(" , ")
