"""Read and write Sketch-RNN `.npz` files without trusting them.

Such files keep each split as a 1-D object array of `(n, 3)` arrays, which numpy stores as a pickle; `np.load`
with `allow_pickle=True` would run whatever code a crafted file names. This loader parses the zip and `.npy`
headers itself and unpickles with an allow-list of the few numpy callables that rebuild arrays.
"""

from __future__ import annotations

import dataclasses
import math
import os
import pickle
import tempfile
import zipfile
import zlib
from pathlib import Path

import numpy as np

from sketchlab.data.strokes import SkipReport, clean_drawings
from sketchlab.errors import DataError

SPLITS = ("train", "valid", "test")
# The most one split may inflate to. A full Quick, Draw! category (~340,000 drawings at ~70 int16 rows, pickled)
# is about 190 MB; a 3 MB zip bomb inflated to 4.7 GB before this was checked.
MAX_MEMBER_BYTES = 512 << 20


def _latin1_bytes(text: str, encoding: str) -> bytes:
    """Stands in for `_codecs.encode`, which protocol-2 pickles from Python 3 use to spell bytes, and only for that."""
    if not isinstance(text, str) or encoding != "latin1":
        raise ValueError("_codecs.encode may only turn text into latin1 bytes here")
    return text.encode("latin1")


def _empty_bytes() -> bytes:
    """Stands in for `bytes()`, protocol 2's spelling of an empty buffer (an array with no points)."""
    return b""


# Taken from numpy's own pickling so the allow-list names the real functions in numpy 1.x and 2.x alike.
_RECONSTRUCT = np.empty(0).__reduce__()[0]
_FROMBUFFER = np.empty(1).__reduce_ex__(5)[0]  # protocol 5 rebuilds plain arrays from a buffer
_ARRAY_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy.core.numeric", "_frombuffer"): _FROMBUFFER,
    ("numpy._core.numeric", "_frombuffer"): _FROMBUFFER,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): _latin1_bytes,
    ("__builtin__", "bytes"): _empty_bytes,
    ("builtins", "bytes"): _empty_bytes,
}
_HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays and plain containers; any other global is refused before it is even imported."""

    def __init__(self, file, where: str):
        super().__init__(file, encoding="latin1")  # latin1 reads the py2 byte strings inside old numpy pickles
        self.where = where

    def find_class(self, module: str, name: str):
        try:
            return _ARRAY_GLOBALS[(module, name)]
        except KeyError:
            raise DataError(
                f"sketchlab refuses to load {self.where}: it holds a Python object of type {module}.{name}, "
                "which could run code"
            ) from None


def _unpickle(fh, where: str) -> object:
    try:
        return _ArrayUnpickler(fh, where).load()
    except DataError:
        raise
    except Exception as err:  # a damaged pickle fails in many ways, all of which mean the same to the user
        raise DataError(f"{where} is corrupt: {type(err).__name__}: {err}") from None


def _read_plain(fh, shape: tuple[int, ...], fortran: bool, dtype: np.dtype, where: str) -> np.ndarray:
    nbytes = math.prod(shape) * dtype.itemsize
    data = fh.read(nbytes)
    if len(data) != nbytes:
        raise DataError(f"{where} is truncated: {len(data)} of {nbytes} bytes")
    return np.frombuffer(bytearray(data), dtype=dtype).reshape(shape, order="F" if fortran else "C")


def _read_member(zf: zipfile.ZipFile, member: str, where: str) -> np.ndarray:
    # zipfile never inflates a member past its declared size, so checking that size bounds the memory used
    size = zf.getinfo(member).file_size
    if size > MAX_MEMBER_BYTES:
        raise DataError(f"{where} would inflate to {size:,} bytes, more than the {MAX_MEMBER_BYTES:,} a split may "
                        "take (a zip bomb?)")
    with zf.open(member) as fh:
        try:
            reader = _HEADER_READERS.get(np.lib.format.read_magic(fh))
            if reader is None:
                raise ValueError("unsupported .npy format version")
            shape, fortran, dtype = reader(fh)
        except ValueError as err:
            raise DataError(f"{where} is not a .npy array: {err}") from None
        if dtype.kind in "iuf":
            return _read_plain(fh, shape, fortran, dtype, where)
        if dtype != object:
            raise DataError(f"{where} holds {dtype} values, not stroke arrays")
        array = _unpickle(fh, where)
        if not isinstance(array, np.ndarray) or array.shape != shape:
            raise DataError(f"{where} does not hold the {shape} array its header announces")
        return array


def _read_split(zf: zipfile.ZipFile, member: str, where: str) -> list[np.ndarray]:
    """The drawings of a split: items of a 1-D object array, or the rows of a 3-D numeric array."""
    array = _read_member(zf, member, where)
    if array.dtype.kind in "iuf" and array.ndim == 3:
        return list(array)
    if array.dtype != object or array.ndim != 1:
        raise DataError(f"{where} is not a list of stroke arrays: got {array.dtype} with shape {array.shape}")
    for i, item in enumerate(array):
        if not isinstance(item, np.ndarray) or item.dtype.kind not in "iuf":
            kind = item.dtype if isinstance(item, np.ndarray) else type(item).__name__
            raise DataError(f"{where} is not a list of stroke arrays: item {i} is {kind}, not a numeric array")
    return list(array)


def load_npz(path: str | Path) -> dict[str, list[np.ndarray]]:
    """The train, valid and test drawings of a Sketch-RNN `.npz` file, as stored (int16 or float arrays)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"no such data file: {path}")
    try:
        with zipfile.ZipFile(path) as zf:
            members = {name[: -len(".npy")]: name for name in zf.namelist() if name.endswith(".npy")}
            missing = [split for split in SPLITS if split not in members]
            if missing:
                found = ", ".join(sorted(members)) or "none"
                raise DataError(f"{path} lacks the split(s) {', '.join(missing)} (found arrays: {found})")
            return {split: _read_split(zf, members[split], f"{path} ({split!r})") for split in SPLITS}
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as err:
        raise DataError(f"{path} is not a readable .npz file: {err}") from None


def _object_array(drawings: list, where: str) -> np.ndarray:
    arrays = [np.asarray(d) for d in drawings]
    for i, a in enumerate(arrays):
        if a.dtype.kind not in "iuf":
            raise DataError(f"cannot save {where}: drawing {i} is {a.dtype}, not numeric")
    # fromiter keeps each drawing as one element even when all have the same shape.
    return np.fromiter(arrays, dtype=object, count=len(arrays))


def save_npz(path: str | Path, splits: dict[str, list[np.ndarray]]) -> None:
    """Write drawings as a Sketch-RNN `.npz` (object arrays); the file appears only once fully written."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for split, drawings in splits.items():
                with zf.open(f"{split}.npy", "w", force_zip64=True) as fh:
                    np.lib.format.write_array(fh, _object_array(drawings, split), allow_pickle=True)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclasses.dataclass
class StrokeSplits:
    """Drawings (stroke-3 float32) of every split with their class index; class names are the file stems."""

    train: list[np.ndarray]
    valid: list[np.ndarray]
    test: list[np.ndarray]
    train_labels: np.ndarray
    valid_labels: np.ndarray
    test_labels: np.ndarray
    class_names: list[str]


def load_stroke_splits(paths: list[Path], max_len: int | None) -> tuple[StrokeSplits, SkipReport]:
    """Load and check several `.npz` files, one class each; unusable drawings are left out and counted."""
    if not paths:
        raise DataError("no data files given")
    drawings: dict[str, list[np.ndarray]] = {split: [] for split in SPLITS}
    labels: dict[str, list[np.ndarray]] = {split: [] for split in SPLITS}
    report = SkipReport(max_len=max_len)
    for label, path in enumerate(paths):
        for split, raw in load_npz(path).items():
            kept, skipped = clean_drawings(raw, max_len)
            drawings[split] += kept
            labels[split].append(np.full(len(kept), label, dtype=np.int64))
            report += skipped
    splits = StrokeSplits(
        **drawings,
        **{f"{split}_labels": np.concatenate(labels[split]) for split in SPLITS},
        class_names=[Path(p).stem for p in paths],
    )
    return splits, report
