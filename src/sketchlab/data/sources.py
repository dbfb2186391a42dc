"""Find drawing files: a path, a file in the shared data folder, the cache, or a download from upstream.

`--data` on every command goes through `resolve_data`, so `aaron_sheep`, `cat,owl` and `path/to/file.npz` all work.
Upstream hosts are configurable so a mirror (or the tests' loopback server) can stand in for them.
"""

from __future__ import annotations

import http.client
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

from tqdm import tqdm

from sketchlab.errors import DataError

# The four classic Sketch-RNN sets live in their own repository; every Quick, Draw! category in Google's bucket.
SKETCHRNN_DATASETS = {
    "aaron_sheep": "aaron_sheep/aaron_sheep.npz",
    "omniglot": "omniglot/omniglot.npz",
    "short_kanji": "kanji/short_kanji.npz",
    "kanji.rdp100": "kanji/kanji.rdp100.npz",
}
DEFAULT_SKETCHRNN_DATASETS_URL = "https://github.com/hardmaru/sketch-rnn-datasets/raw/master"
DEFAULT_QUICKDRAW_URL = "https://storage.googleapis.com/quickdraw_dataset"
CHUNK = 1 << 16


def cache_dir() -> Path:
    """Where downloads go: $SKETCHLAB_CACHE, else the user's cache folder."""
    if os.environ.get("SKETCHLAB_CACHE"):
        return Path(os.environ["SKETCHLAB_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "sketchlab"


def shared_data_dir() -> Path | None:
    """The local data folder named by $SKETCHLAB_DATA, if it exists."""
    env = os.environ.get("SKETCHLAB_DATA")
    return Path(env) if env and Path(env).is_dir() else None


def upstream_url(name: str) -> str:
    """The public URL of a stroke-3 `.npz` set by name: a classic Sketch-RNN set or a Quick, Draw! category."""
    if name in SKETCHRNN_DATASETS:
        base = os.environ.get("SKETCHLAB_SKETCHRNN_DATASETS_URL", DEFAULT_SKETCHRNN_DATASETS_URL)
        return f"{base.rstrip('/')}/{SKETCHRNN_DATASETS[name]}"
    base = os.environ.get("SKETCHLAB_QUICKDRAW_URL", DEFAULT_QUICKDRAW_URL)
    return f"{base.rstrip('/')}/sketchrnn/{urllib.parse.quote(name)}.npz"


def resolve_data(spec: str, download: bool = True) -> list[Path]:
    """Turn a `--data` value (paths, folders of `.npz` files or names, comma-separated) into existing `.npz` files."""
    items = [item.strip() for item in spec.split(",") if item.strip()]
    if not items:
        raise DataError("--data is empty: give a .npz path or a data set name such as aaron_sheep")
    return [path for item in items for path in resolve_item(item, download)]


def resolve_item(item: str, download: bool = True) -> list[Path]:
    folder = Path(item).expanduser()
    if folder.is_dir():  # one class per file, in name order so labels are stable
        files = sorted(folder.glob("*.npz"))
        if not files:
            raise DataError(f"no .npz files in the folder {folder}")
        return files
    return [resolve_one(item, download)]


def resolve_one(item: str, download: bool = True) -> Path:
    path = Path(item).expanduser()
    if path.suffix == ".npz" or os.sep in item:
        if not path.is_file():
            raise DataError(f"no such data file: {path}")
        return path
    local = shared_data_dir()
    if local is not None and (local / "sketchrnn" / f"{item}.npz").is_file():
        return local / "sketchrnn" / f"{item}.npz"
    cached = cache_dir() / "sketchrnn" / f"{item}.npz"
    if cached.is_file():
        return cached
    if not download:
        raise DataError(f"data set {item!r} is neither a file nor in the cache ({cached.parent})")
    return download_file(upstream_url(item), cached, verify=_verify_npz)


def _verify_npz(path: Path) -> None:
    from sketchlab.data.npz import load_npz

    load_npz(path)


def download_file(url: str, dest: Path, verify: Callable[[Path], None] | None = None, timeout: float = 60,
                  progress: bool = True) -> Path:
    """Download `url` to `dest` with a progress bar (on a terminal, unless `progress` is False), resuming a partial
    `.part` file.

    The file only appears at `dest` (by atomic rename) once complete and, if `verify` is given, readable;
    a failed or truncated transfer leaves no file at `dest`.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            resumed = response.status == 206
            total = _expected_size(response, have if resumed else 0)
            with open(part, "ab" if resumed else "wb") as out, tqdm(
                total=total, initial=have if resumed else 0, unit="B", unit_scale=True,
                desc=f"download {dest.name}", disable=None if progress else True,
            ) as bar:
                for chunk in iter(lambda: response.read(CHUNK), b""):
                    out.write(chunk)
                    bar.update(len(chunk))
    except urllib.error.HTTPError as err:
        if err.code == 416 and have:  # the partial file is already complete
            return _finish(part, dest, verify)
        raise DataError(f"download of {url} failed: HTTP {err.code} {err.reason}") from None
    except (urllib.error.URLError, http.client.HTTPException, OSError) as err:
        reason = getattr(err, "reason", err)
        raise DataError(f"download of {url} failed: {reason} (a partial file is kept to resume)") from None
    if total is not None and part.stat().st_size != total:
        raise DataError(f"download of {url} is truncated: {part.stat().st_size} of {total} bytes (run again to resume)")
    return _finish(part, dest, verify)


def _expected_size(response, offset: int) -> int | None:
    length = response.headers.get("Content-Length")
    return int(length) + offset if length is not None else None


def _finish(part: Path, dest: Path, verify: Callable[[Path], None] | None) -> Path:
    if verify is not None:
        try:
            verify(part)
        except DataError as err:
            part.unlink(missing_ok=True)
            raise DataError(f"downloaded file is unusable and was removed: {err}") from None
    os.replace(part, dest)
    return dest
