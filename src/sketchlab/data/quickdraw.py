"""Quick, Draw! data: the category catalog, downloads of every upstream format, a streaming `.ndjson` reader,
Google's raw -> simplified preprocessing, and conversion to stroke-3 / Sketch-RNN `.npz` files.

Upstream keeps one file per category and format in the public `quickdraw_dataset` bucket (see `QUICKDRAW_FORMATS`);
`get` downloads one into the cache through `sources.download_file`, so a mirror or the tests' loopback server can
stand in for the bucket through `$SKETCHLAB_QUICKDRAW_URL`.

Drawings in `.ndjson` files are lists of strokes; a stroke is `[[x...], [y...]]` (simplified: integers 0-255) or
`[[x...], [y...], [t...]]` (raw: float screen coordinates and milliseconds). y points down, as in stroke-3.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import gzip
import json
import math
import os
import urllib.parse
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from importlib import resources
from pathlib import Path

import numpy as np

from sketchlab.data import sources
from sketchlab.data.npz import load_npz, save_npz
from sketchlab.data.strokes import line_distances, lines_to_strokes, rdp, simplify, strokes_to_lines
from sketchlab.errors import DataError

__all__ = [
    "QUICKDRAW_FORMATS",
    "BuildSummary",
    "NdjsonReport",
    "QuickDrawFormat",
    "build_npz",
    "categories",
    "category_path",
    "get",
    "quickdraw_url",
    "raw_to_simplified",
    "read_ndjson",
    "resolve_category",
    "search_categories",
    "simplified_to_stroke3",
    "stroke3_to_simplified",
]

# ------------------------------------------------------------------------------------------------------ catalog


@functools.lru_cache(maxsize=1)
def _catalog() -> tuple[str, ...]:
    text = resources.files("sketchlab.data").joinpath("categories.txt").read_text(encoding="utf-8")
    return tuple(line.strip() for line in text.splitlines() if line.strip())


def categories() -> list[str]:
    """The 345 Quick, Draw! category names, spelled (and ordered) exactly as upstream's categories.txt."""
    return list(_catalog())


def search_categories(substring: str) -> list[str]:
    """Categories whose name contains `substring`, ignoring case (and `_` standing for a space), catalog order."""
    needle = substring.replace("_", " ").casefold().strip()
    return [name for name in _catalog() if needle in name.casefold()]


def resolve_category(name: str) -> str:
    """The catalog spelling of a category name typed in any case, `_` for spaces allowed; else a DataError
    that suggests the closest names."""
    catalog = _catalog()
    if name in catalog:
        return name
    folded = {c.casefold(): c for c in catalog}
    key = name.replace("_", " ").strip().casefold()
    if key in folded:
        return folded[key]
    close = difflib.get_close_matches(key, list(folded), n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(repr(folded[c]) for c in close)}?" if close else \
        " (`sketchlab data list` shows all 345)"
    raise DataError(f"{name!r} is not a Quick, Draw! category{hint}")


# ------------------------------------------------------------------------------------------------------ formats


@dataclasses.dataclass(frozen=True)
class QuickDrawFormat:
    """One of upstream's per-category file kinds: `<remote_dir>/<category><suffix>` in the bucket and the cache."""

    name: str
    remote_dir: str
    suffix: str
    description: str
    max_bytes: int = sources.DEFAULT_MAX_DOWNLOAD_BYTES  # a download that grows past this is stopped and removed


# The caps leave room above the largest categories (about 340,000 drawings: ~3.5 KB each raw, ~0.5 KB simplified,
# 784 B as a bitmap, measured on the shared subsets) and stop an endless or wrong stream long before a disk fills.
QUICKDRAW_FORMATS: dict[str, QuickDrawFormat] = {
    f.name: f
    for f in (
        QuickDrawFormat("sketchrnn", "sketchrnn", ".npz", "stroke-3 train/valid/test (70,000 / 2,500 / 2,500)",
                        sources.MAX_NPZ_DOWNLOAD_BYTES),
        QuickDrawFormat("simplified", "full/simplified", ".ndjson", "aligned, scaled to 0-255, RDP-simplified",
                        1 << 30),
        QuickDrawFormat("raw", "full/raw", ".ndjson", "as drawn: screen coordinates and timestamps", 4 << 30),
        QuickDrawFormat("bitmap", "full/numpy_bitmap", ".npy", "28x28 grayscale bitmaps, (n, 784) uint8", 512 << 20),
    )
}


def _format(fmt: str) -> QuickDrawFormat:
    try:
        return QUICKDRAW_FORMATS[fmt]
    except KeyError:
        raise DataError(f"unknown Quick, Draw! format {fmt!r}: choose one of {', '.join(QUICKDRAW_FORMATS)}") from None


def quickdraw_url(category: str, fmt: str = "simplified") -> str:
    """The upstream URL of one category file: `$SKETCHLAB_QUICKDRAW_URL` (else Google's bucket) + its path."""
    f = _format(fmt)
    base = os.environ.get("SKETCHLAB_QUICKDRAW_URL", sources.DEFAULT_QUICKDRAW_URL).rstrip("/")
    return f"{base}/{f.remote_dir}/{urllib.parse.quote(category + f.suffix)}"


def category_path(category: str, fmt: str = "simplified") -> Path:
    """Where `get` keeps a category file: `cache_dir()/<remote dir>/<category><suffix>` (the name unquoted).

    The `sketchrnn` files land in `cache_dir()/sketchrnn/`, where `sources.resolve_data` finds them by name.
    """
    f = _format(fmt)
    return sources.cache_dir() / f.remote_dir / f"{resolve_category(category)}{f.suffix}"


def _verify_npz(path: Path) -> None:
    load_npz(path)


_CORRUPT = ("not_json", "no_drawing")  # what a truncated or garbled transfer leaves; odd drawings are merely skipped


def _verify_ndjson(path: Path) -> None:
    """Every line must be a drawing record (a cut-off last line or an error page is not), and one at least."""
    report = NdjsonReport()
    for _ in read_ndjson(path, report=report):
        pass
    corrupt = sum(report.reasons[reason] for reason in _CORRUPT)
    if corrupt:
        raise DataError(f"not Quick, Draw! ndjson: {corrupt} of its {report.lines} lines are not drawing records "
                        "(a cut-off or garbled transfer)")
    if not report.drawings:
        raise DataError("not Quick, Draw! ndjson: it holds no drawings")


def _verify_bitmap(path: Path) -> None:
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise DataError(f"not a .npy array: {err}") from None
    if array.ndim != 2 or array.shape[1] != 784:
        raise DataError(f"an array of shape {array.shape}, not (n, 784) 28x28 bitmaps")
    if array.offset + array.nbytes != path.stat().st_size:
        raise DataError(f"{path.stat().st_size:,} bytes, not the {array.offset + array.nbytes:,} its header announces")


_VERIFY = {"sketchrnn": _verify_npz, "simplified": _verify_ndjson, "raw": _verify_ndjson, "bitmap": _verify_bitmap}


def get(category: str, fmt: str = "simplified", download: bool = True) -> Path:
    """The local path of one Quick, Draw! category file in format `fmt` (see `QUICKDRAW_FORMATS`).

    A cached copy is used as is; otherwise the file is downloaded (resuming a partial one, at most the format's
    `max_bytes`) and checked whole before it appears in the cache (every ndjson line a drawing record, a bitmap
    file exactly as long as its header says, an .npz readable). Unknown categories and formats, failed downloads (HTTP 404 ...) and unusable files raise
    DataError; with `download=False` a file that is not cached does too. The shared data folder is not consulted:
    its `.ndjson` files are short prefixes of upstream's, never stand-ins for them.
    """
    name = resolve_category(category)
    dest = category_path(name, fmt)
    if dest.is_file():
        return dest
    if not download:
        raise DataError(f"{fmt} file of {name!r} is not in the cache ({dest.parent})")
    return sources.download_file(quickdraw_url(name, fmt), dest, verify=_VERIFY[fmt],
                                 max_bytes=QUICKDRAW_FORMATS[fmt].max_bytes)


# ------------------------------------------------------------------------------------------------ ndjson reader

MAX_LISTED_LINES = 10
# Bounds on one line, far above real data (the shared raw subsets' longest line is 37 KB, their largest drawing
# 1,174 points) and far below what exhausts memory or time: a longer line is skipped unread, a larger drawing unused.
MAX_LINE_BYTES = 1 << 20
MAX_DRAWING_POINTS = 10_000
_PROBLEMS = {  # reason: (how a report counts such lines, what is wrong with one line)
    "not_json": ("not JSON objects", "is not a JSON object"),
    "no_drawing": ("without a 'drawing'", "has no 'drawing'"),
    "bad_strokes": ("with malformed strokes", "has strokes that are not [[x...], [y...](, [t...])] of numbers"),
    "mismatched": ("with x, y (and t) of different lengths", "has a stroke whose x, y (and t) differ in length"),
    "bad_key_id": ("with a key_id that is not a string or integer", "has a key_id that is not a string or integer"),
    "too_big": (f"longer than {MAX_LINE_BYTES:,} bytes or {MAX_DRAWING_POINTS:,} points",
                f"is longer than {MAX_LINE_BYTES:,} bytes or {MAX_DRAWING_POINTS:,} points"),
}


@dataclasses.dataclass
class NdjsonReport:
    """What `read_ndjson` read: drawings yielded, and malformed lines skipped by reason with their line numbers
    (1-based, the first `MAX_LISTED_LINES`). `str()` gives a one-line summary."""

    path: str = ""
    lines: int = 0
    drawings: int = 0
    malformed: int = 0
    reasons: Counter = dataclasses.field(default_factory=Counter)
    bad_lines: list[int] = dataclasses.field(default_factory=list)

    def _skip(self, line_no: int, reason: str) -> None:
        self.malformed += 1
        self.reasons[reason] += 1
        if len(self.bad_lines) < MAX_LISTED_LINES:
            self.bad_lines.append(line_no)

    def __str__(self) -> str:
        summary = f"{self.path}: {self.drawings} drawings"
        if not self.malformed:
            return summary
        why = ", ".join(f"{n} {_PROBLEMS[r][0]}" for r, n in self.reasons.most_common())
        more = ", ..." if self.malformed > len(self.bad_lines) else ""
        listed = ", ".join(map(str, self.bad_lines))
        return f"{summary}; skipped {self.malformed} malformed lines ({why}; lines {listed}{more})"


def _is_number(v) -> bool:
    return (type(v) is int) or (type(v) is float and math.isfinite(v))


def _stroke_problem(stroke) -> str | None:
    if not isinstance(stroke, list) or len(stroke) not in (2, 3) or not all(isinstance(c, list) for c in stroke):
        return "bad_strokes"
    if any(len(c) != len(stroke[0]) for c in stroke):
        return "mismatched"
    if not stroke[0] or not all(_is_number(v) for c in stroke for v in c):
        return "bad_strokes"
    return None


def _problem(line: bytes) -> dict | str:
    """The record of one line, or the reason it is malformed."""
    try:
        record = json.loads(line, parse_constant=_reject_constant)
    except (ValueError, RecursionError):  # also UnicodeDecodeError and the NaN / Infinity literals
        return "not_json"
    if not isinstance(record, dict):
        return "not_json"
    drawing = record.get("drawing")
    if not isinstance(drawing, list) or not drawing:
        return "no_drawing"
    if not isinstance(record.get("key_id", ""), (str, int)):  # a list or dict cannot even be compared
        return "bad_key_id"
    for stroke in drawing:
        problem = _stroke_problem(stroke)
        if problem is not None:
            return problem
    if sum(len(stroke[0]) for stroke in drawing) > MAX_DRAWING_POINTS:
        return "too_big"
    return record


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a number here")


def _open(path: Path):
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def _bounded_lines(fh) -> Iterator[bytes | None]:
    """The file's lines, None in place of one longer than MAX_LINE_BYTES (skipped in pieces, never held whole)."""
    while line := fh.readline(MAX_LINE_BYTES + 1):
        if len(line) <= MAX_LINE_BYTES or line.endswith(b"\n"):
            yield line
            continue
        while line and not line.endswith(b"\n"):
            line = fh.readline(MAX_LINE_BYTES)
        yield None


def read_ndjson(path: str | Path, limit: int | None = None, report: NdjsonReport | None = None) -> Iterator[dict]:
    """Stream the records of a Quick, Draw! `.ndjson` (or `.ndjson.gz`) file one line at a time.

    Each record is the line's JSON object (`word`, `key_id`, `recognized`, `drawing`, ...), yielded as parsed.
    Malformed lines (not JSON, no `drawing`, strokes that are not `[[x...], [y...](, [t...])]` of numbers, x / y / t
    of different lengths, a `key_id` that is not a string or integer, longer than MAX_LINE_BYTES, more than
    MAX_DRAWING_POINTS points) are skipped and counted in `report` (pass an `NdjsonReport` to get it). Blank lines
    are ignored. At most `limit` records are yielded. A missing file raises DataError.
    """
    path = Path(path)
    if report is None:
        report = NdjsonReport()
    report.path = str(path)
    if limit is not None and limit <= 0:
        return
    try:
        fh = _open(path)
    except OSError as err:
        raise DataError(f"cannot read {path}: {err.strerror or err}") from None
    with fh:
        try:
            for line_no, line in enumerate(_bounded_lines(fh), start=1):
                if line is not None and not line.strip():
                    continue
                report.lines += 1
                record = "too_big" if line is None else _problem(line)
                if isinstance(record, str):
                    report._skip(line_no, record)
                    continue
                report.drawings += 1
                yield record
                if limit is not None and report.drawings >= limit:
                    return
        except (OSError, EOFError) as err:  # a damaged .gz stream
            raise DataError(f"cannot read {path}: {err}") from None


# ------------------------------------------------------------------------------------- raw -> simplified (Google)

# Resampled points a raw drawing may have (its ink length in pixels once scaled to 255): the shared raw subsets'
# longest drawing has 35,928, the median about 700.
MAX_RESAMPLED_POINTS = 100_000


def _resample(line: np.ndarray, spacing: float = 1.0) -> np.ndarray:
    """Points every `spacing` along the polyline (arc length), plus its exact first and last points.

    The arithmetic follows the reference preprocessing step by step (segment lengths summed in order, the sample at
    arc length q on the segment [s_i, s_i + d_i) placed at `a * (1 - t) + b * t`): later steps break ties between
    equally distant points, so the rounding of these coordinates decides which point Google's output keeps.
    """
    if len(line) < 2:
        return np.concatenate([line[:1], line[:1]])
    delta = np.diff(line, axis=0)
    seg = np.sqrt(delta[:, 0] ** 2 + delta[:, 1] ** 2)
    ends = np.cumsum(seg)
    q = np.arange(spacing, ends[-1], spacing)
    i = np.searchsorted(ends, q, side="right")
    starts = np.concatenate([[0.0], ends[:-1]])[i]
    t = ((q - starts) / seg[i])[:, None]
    return np.concatenate([line[:1], line[i] * (1 - t) + line[i + 1] * t, line[-1:]])


def raw_to_simplified(drawing: Sequence) -> list[list[list[int]]]:
    """Google's preprocessing of a raw drawing into the `simplified` format, as upstream describes it:

    1. align the drawing to the top-left corner (minimum x and y become 0);
    2. scale it uniformly so that the larger of its width and height is 255;
    3. resample every stroke with 1-pixel spacing;
    4. simplify every stroke with Ramer-Douglas-Peucker, epsilon 2.0;
    then round to integers (half to even). Timestamps are dropped. On the shared subsets this reproduces Google's
    own simplified files point for point for over 99.9% of the drawings. A drawing with more than
    MAX_RESAMPLED_POINTS pixels of ink once scaled raises DataError before anything is resampled.
    """
    try:
        lines = [np.array(stroke[:2], dtype=np.float64).T for stroke in drawing]
    except (TypeError, ValueError) as err:
        raise DataError(f"a raw drawing must be a list of [[x...], [y...], [t...]] strokes: {err}") from None
    if not lines or any(line.ndim != 2 or line.shape[1] != 2 or not len(line) for line in lines):
        raise DataError("a raw drawing must be a non-empty list of strokes [[x...], [y...](, [t...])]")
    points = np.concatenate(lines)
    if not np.isfinite(points).all():
        raise DataError("a raw drawing has NaN or infinite coordinates")
    low = points.min(axis=0)
    with np.errstate(over="ignore"):
        extent = float((points.max(axis=0) - low).max()) or 1.0
    if not math.isfinite(extent):
        raise DataError("a raw drawing's coordinates are too far apart to scale (beyond float64)")
    scaled = [(line - low) * 255.0 / extent for line in lines]
    ink = sum(float(np.hypot(*np.diff(line, axis=0).T).sum()) for line in scaled)
    if ink > MAX_RESAMPLED_POINTS:  # resampling at 1-pixel spacing would allocate (and RDP scan) that many points
        raise DataError(f"a raw drawing has {ink:,.0f} pixels of ink once scaled to 255, more than "
                        f"{MAX_RESAMPLED_POINTS:,} (a scribble, not a drawing)")
    out = []
    for line in scaled:
        # Google measured RDP distances to the chord's infinite line: to the segment, only ~1/4 of drawings match.
        kept = np.round(rdp(_resample(line), 2.0, distances=line_distances)).astype(np.int64)
        out.append([kept[:, 0].tolist(), kept[:, 1].tolist()])
    return out


# ------------------------------------------------------------------------------------------- stroke-3 and .npz


def simplified_to_stroke3(drawing: Sequence) -> np.ndarray:
    """An ndjson drawing (`[[x...], [y...](, [t...])]` per stroke) as stroke-3 float32; timestamps are dropped.

    The first row is the first point's offset from the origin, so absolute coordinates survive the round trip
    through `stroke3_to_simplified`.
    """
    try:
        lines = [np.array(stroke[:2], dtype=np.float64).T for stroke in drawing]
    except (TypeError, ValueError) as err:
        raise DataError(f"a drawing must be a list of [[x...], [y...]] strokes: {err}") from None
    if any(line.ndim != 2 or line.shape[1] != 2 for line in lines):
        raise DataError("a drawing must be a list of [[x...], [y...]] strokes")
    return lines_to_strokes([line for line in lines if len(line)])


def stroke3_to_simplified(stroke3: np.ndarray) -> list[list[list[int]]]:
    """Stroke-3 back to the ndjson drawing format, coordinates rounded to integers."""
    out = []
    for line in strokes_to_lines(np.asarray(stroke3)):
        xy = np.rint(line).astype(np.int64)
        out.append([xy[:, 0].tolist(), xy[:, 1].tolist()])
    return out


@dataclasses.dataclass
class BuildSummary:
    """What `build_npz` wrote and left out; `str()` gives a one-line summary for the CLI."""

    path: Path
    max_len: int
    read: int = 0
    malformed: int = 0
    unusable: int = 0
    unrecognized: int = 0
    too_long: int = 0
    out_of_range: int = 0
    duplicates: int = 0
    train: int = 0
    valid: int = 0
    test: int = 0
    reports: list[NdjsonReport] = dataclasses.field(default_factory=list)

    @property
    def kept(self) -> int:
        return self.train + self.valid + self.test

    @property
    def skipped(self) -> int:
        return (self.malformed + self.unusable + self.unrecognized + self.too_long + self.out_of_range
                + self.duplicates)

    def skipped_summary(self) -> str:
        """"skipped 3 of 120 lines: 1 malformed, 2 too long (> 250 points)", or "" if none was."""
        parts = [f"{self.malformed} malformed" if self.malformed else "",
                 f"{self.unusable} unusable raw drawings (too far apart or too much ink)" if self.unusable else "",
                 f"{self.unrecognized} unrecognized" if self.unrecognized else "",
                 f"{self.too_long} too long (> {self.max_len} points)" if self.too_long else "",
                 f"{self.out_of_range} beyond int16" if self.out_of_range else "",
                 f"{self.duplicates} duplicate key_id" if self.duplicates else ""]
        if not self.skipped:
            return ""
        return f"skipped {self.skipped} of {self.read + self.malformed} lines: {', '.join(p for p in parts if p)}"

    def __str__(self) -> str:
        head = f"wrote {self.path}: {self.train} / {self.valid} / {self.test} train / valid / test drawings"
        skipped = self.skipped_summary()
        return f"{head}; {skipped}" if skipped else head


def _split_sizes(n: int, valid_fraction: float, test_fraction: float,
                 counts: tuple[int, int, int] | None) -> tuple[int, int, int]:
    if counts is not None:
        if len(counts) != 3 or any(int(c) != c or c < 0 for c in counts):
            raise DataError(f"counts must be three non-negative integers (train, valid, test), got {counts}")
        if sum(counts) > n:
            raise DataError(f"asked for {sum(counts)} drawings ({counts[0]} / {counts[1]} / {counts[2]}) "
                            f"but only {n} are usable")
        return int(counts[0]), int(counts[1]), int(counts[2])
    if not (0 <= valid_fraction < 1 and 0 <= test_fraction < 1 and valid_fraction + test_fraction < 1):
        raise DataError(f"valid and test fractions must be in [0, 1) and sum to less than 1, "
                        f"got {valid_fraction} and {test_fraction}")
    n_valid, n_test = round(n * valid_fraction), round(n * test_fraction)
    return n - n_valid - n_test, n_valid, n_test


def ndjson_files(paths: str | Path | Iterable[str | Path]) -> list[Path]:
    """Files as given, each folder replaced by the `.ndjson` files in it, sorted by name."""
    given = [Path(paths)] if isinstance(paths, (str, Path)) else [Path(p) for p in paths]
    return [file for path in given
            for file in (sorted(path.glob("*.ndjson"), key=lambda f: f.name) if path.is_dir() else [path])]


def _record_stroke3(record: dict, simplify_epsilon: float | None) -> np.ndarray:
    """One ndjson record's drawing as stroke-3 float32 (a raw drawing simplified as Google does first)."""
    drawing = record["drawing"]
    if any(len(stroke) == 3 for stroke in drawing):
        drawing = raw_to_simplified(drawing)
    with np.errstate(over="ignore"):  # offsets beyond float32 become inf, then count as beyond int16
        s = simplified_to_stroke3(drawing)
    return simplify(s, simplify_epsilon) if simplify_epsilon is not None else s


def build_npz(ndjson_paths: str | Path | Iterable[str | Path], out_path: str | Path, max_len: int = 250,
              recognized_only: bool = False, valid_fraction: float = 0.05, test_fraction: float = 0.05,
              counts: tuple[int, int, int] | None = None, seed: int = 0, simplify_epsilon: float | None = None,
              limit: int | None = None) -> BuildSummary:
    """Build a Sketch-RNN `.npz` (train / valid / test object arrays of int16 stroke-3) from `.ndjson` files.

    Drawings from all files are pooled (one file per class is the convention for labelled training, so build
    one `.npz` per category), shuffled with `seed` and split by `valid_fraction` / `test_fraction`, or by exact
    `counts` (train, valid, test) taken from the shuffled pool. Raw drawings (strokes with timestamps) first go
    through `raw_to_simplified`; `simplify_epsilon` then applies `strokes.simplify` (RDP). Left out and counted:
    malformed lines (see `read_ndjson`), raw drawings that `raw_to_simplified` refuses, unrecognized drawings if
    `recognized_only`, drawings longer than `max_len` points,
    coordinates beyond int16, and a drawing whose `key_id` was already read (the raw and simplified files hold the
    same drawings: pooled, a twin would land in train and test). At most `limit` drawings are read per file. The
    file appears only once written. A folder stands for its `.ndjson` files in code-point order of their names, so
    a build is the same in every locale (a shell glob's order is not).
    """
    paths = ndjson_files(ndjson_paths)
    if not paths:
        raise DataError("no .ndjson files given")
    summary = BuildSummary(path=Path(out_path), max_len=max_len)
    kept: list[np.ndarray] = []
    seen: set[str] = set()
    for path in paths:
        report = NdjsonReport()
        for record in read_ndjson(path, limit=limit, report=report):
            if recognized_only and record.get("recognized") is not True:
                summary.unrecognized += 1
                continue
            key = record.get("key_id")
            if key is not None and key in seen:
                summary.duplicates += 1
                continue
            seen.add(key)
            try:
                s = _record_stroke3(record, simplify_epsilon)
            except DataError:  # a raw drawing raw_to_simplified refuses (1e308 coordinates, a scribble)
                summary.unusable += 1
                continue
            if len(s) > max_len:
                summary.too_long += 1
                continue
            rounded = np.rint(s)
            if not np.abs(rounded).max() <= np.iinfo(np.int16).max:  # inf too
                summary.out_of_range += 1
                continue
            kept.append(rounded.astype(np.int16))
        summary.read += report.drawings
        summary.malformed += report.malformed
        summary.reports.append(report)
    if not kept:
        why = summary.skipped_summary() or "no drawings at all"
        raise DataError(f"no usable drawings in {', '.join(map(str, paths))}: {why}")
    n_train, n_valid, n_test = _split_sizes(len(kept), valid_fraction, test_fraction, counts)
    order = np.random.default_rng(seed).permutation(len(kept))
    chosen = [kept[i] for i in order]
    splits = {"train": chosen[:n_train], "valid": chosen[n_train : n_train + n_valid],
              "test": chosen[n_train + n_valid : n_train + n_valid + n_test]}
    summary.train, summary.valid, summary.test = n_train, n_valid, n_test
    summary.path.parent.mkdir(parents=True, exist_ok=True)
    save_npz(summary.path, splits)
    return summary
