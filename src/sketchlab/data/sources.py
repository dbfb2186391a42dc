"""Find drawing files: a path, a file in the shared data folder, the cache, or a download from upstream.

`--data` on every command goes through `resolve_data`, so `aaron_sheep`, `cat,owl` and `path/to/file.npz` all work.
Upstream hosts are configurable so a mirror (or the tests' loopback server) can stand in for them.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import os
import re
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
# Their published contents (hardmaru/sketch-rnn-datasets at 7c854de, the same bytes as the shared data folder's).
SKETCHRNN_SHA256 = {
    "aaron_sheep": "65f8e51e43587661798ac137a204c9e049e0d11dcd50cba372ae3ca32de8b54c",
    "omniglot": "bd5277621a8c577919491dfa729a59a8b5c216cff9e4fda9cef532db29f120c7",
    "short_kanji": "f6855ba03d58f44830499dd98e7cb99f46c970651f4f16f2d886398f34709914",
    "kanji.rdp100": "d625d310f3132ab3b7fa9bb574d8c8201e18a51d92fdcd4b4f783b5a7730d58a",
}
DEFAULT_SKETCHRNN_DATASETS_URL = "https://github.com/hardmaru/sketch-rnn-datasets/raw/master"
DEFAULT_QUICKDRAW_URL = "https://storage.googleapis.com/quickdraw_dataset"
CHUNK = 1 << 16
# A Sketch-RNN .npz by name: Quick, Draw!'s are 70,000 / 2,500 / 2,500 drawings, tens of MB; the classic sets < 4 MB.
MAX_NPZ_DOWNLOAD_BYTES = 256 << 20
DEFAULT_MAX_DOWNLOAD_BYTES = 1 << 30


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
    return download_file(upstream_url(item), cached, verify=_verify_npz, max_bytes=MAX_NPZ_DOWNLOAD_BYTES,
                         sha256=SKETCHRNN_SHA256.get(item))


def _verify_npz(path: Path) -> None:
    from sketchlab.data.npz import load_npz

    load_npz(path)


def download_file(url: str, dest: Path, verify: Callable[[Path], None] | None = None, timeout: float = 60,
                  progress: bool = True, max_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES, sha256: str | None = None) -> Path:
    """Download `url` to `dest` with a progress bar (on a terminal, unless `progress` is False), resuming a partial
    `.part` file.

    The file only appears at `dest` (by atomic rename) once whole and checked: its length against Content-Length
    (or Content-Range's total on a resume, whose body is written exactly where its Content-Range says), its
    `sha256` if given and the MD5 a Google Cloud Storage host publishes in `X-Goog-Hash`, then `verify`. A transfer
    that would exceed `max_bytes` stops there and is removed. A failed or truncated transfer leaves no file at
    `dest`; a cut-off one keeps its `.part` to resume, a wrong one is removed.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            start, total = _span(response, have, url, part)
            if total is not None and total > max_bytes:
                part.unlink(missing_ok=True)
                raise DataError(f"download of {url} is {total:,} bytes, more than the {max_bytes:,} such a file may be")
            _receive(response, part, start, total, max_bytes, url, progress)
            md5 = _published_md5(response)
    except urllib.error.HTTPError as err:
        if err.code == 416 and have:  # the partial file may already be complete
            return _finish_complete_part(err, part, dest, verify, sha256, url)
        raise DataError(f"download of {url} failed: HTTP {err.code} {err.reason}") from None
    except (urllib.error.URLError, http.client.HTTPException, OSError) as err:
        reason = getattr(err, "reason", err)
        raise DataError(f"download of {url} failed: {reason} (a partial file is kept to resume)") from None
    if total is not None and part.stat().st_size != total:
        raise DataError(f"download of {url} is truncated: {part.stat().st_size} of {total} bytes (run again to resume)")
    return _finish(part, dest, verify, sha256, md5)


_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


def _span(response, have: int, url: str, part: Path) -> tuple[int, int | None]:
    """(where the body starts in the file, the file's whole length if known) from the response's headers."""
    length = response.headers.get("Content-Length")
    if response.status != 206:  # the whole file from its first byte
        return 0, int(length) if length is not None else None
    match = _CONTENT_RANGE.fullmatch((response.headers.get("Content-Range") or "").strip())
    if match is None or int(match.group(1)) > have or int(match.group(2)) < int(match.group(1)) or (
            length is not None and int(length) != int(match.group(2)) - int(match.group(1)) + 1):
        part.unlink(missing_ok=True)  # nothing from this answer can be placed safely: start over next time
        raise DataError(f"download of {url} was resumed with an unusable Content-Range "
                        f"{response.headers.get('Content-Range')!r}; the partial file was removed (run again)")
    return int(match.group(1)), None if match.group(3) == "*" else int(match.group(3))


def _receive(response, part: Path, start: int, total: int | None, max_bytes: int, url: str, progress: bool) -> None:
    """Write the body into `part` from byte `start` on, refusing to pass `max_bytes` or the announced total."""
    limit = min(max_bytes, total) if total is not None else max_bytes
    with open(part, "r+b" if start else "wb") as out, tqdm(
        total=total, initial=start, unit="B", unit_scale=True, desc=f"download {part.name[:-len('.part')]}",
        disable=None if progress else True,
    ) as bar:
        out.seek(start)
        out.truncate()
        for chunk in iter(lambda: response.read(CHUNK), b""):
            if out.tell() + len(chunk) > limit:
                out.close()
                part.unlink(missing_ok=True)
                raise DataError(f"download of {url} sent more than {limit:,} bytes "
                                f"({'its announced length' if limit == total else 'the most such a file may be'}); "
                                "stopped and removed")
            out.write(chunk)
            bar.update(len(chunk))


def _published_md5(response) -> str | None:
    """The MD5 (hex) that Google Cloud Storage publishes for the whole object, whatever range was sent."""
    for item in (response.headers.get("X-Goog-Hash") or "").split(","):
        name, _, value = item.strip().partition("=")
        if name == "md5":
            try:
                return base64.b64decode(value, validate=True).hex()
            except ValueError:
                return None
    return None


def _finish_complete_part(err: urllib.error.HTTPError, part: Path, dest: Path, verify, sha256, url) -> Path:
    """416 on a resume: the `.part` is whole only if it is exactly as long as the `bytes */TOTAL` the host names."""
    match = re.fullmatch(r"bytes \*/(\d+)", (err.headers.get("Content-Range") or "").strip())
    if match is not None and int(match.group(1)) != part.stat().st_size:
        part.unlink(missing_ok=True)
        raise DataError(f"download of {url}: the partial file is longer than the {int(match.group(1)):,} bytes the "
                        "host has, so it was removed (run again)") from None
    return _finish(part, dest, verify, sha256, None)


def _file_digest(path: Path, name: str) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, name).hexdigest()


def _finish(part: Path, dest: Path, verify: Callable[[Path], None] | None, sha256: str | None = None,
            md5: str | None = None) -> Path:
    try:
        for name, want in (("sha256", sha256), ("md5", md5)):
            if want is not None and _file_digest(part, name) != want:
                raise DataError(f"its {name} is not the published {want}")
        if verify is not None:
            verify(part)
    except DataError as err:
        part.unlink(missing_ok=True)
        raise DataError(f"downloaded file is unusable and was removed: {err}") from None
    os.replace(part, dest)
    return dest
