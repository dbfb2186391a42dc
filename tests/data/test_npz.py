"""The safe .npz loader on the real Sketch-RNN files, on hostile and broken files, and the writer's round trip."""

import io
import os
import shlex
import struct
import tracemalloc
import zipfile
import zlib

import numpy as np
import pytest

from sketchlab.data.npz import load_npz, load_stroke_splits, save_npz
from sketchlab.errors import DataError

REAL_FILES = {  # name: (train, valid, test), dtype, most points (docs: shared/data/README.md)
    "aaron_sheep": ((7400, 300, 300), np.int16, 250),
    "omniglot": ((30000, 1000, 1000), np.int16, 157),
    "short_kanji": ((10000, 600, 500), np.int16, 88),
    "kanji.rdp100": ((10358, 600, 500), np.float64, 80),
}


def small_splits() -> dict[str, list[np.ndarray]]:
    rng = np.random.default_rng(0)
    def drawing(n):
        d = rng.integers(-50, 50, size=(n, 3)).astype(np.int16)
        d[:, 2] = rng.random(n) < 0.2
        return d
    return {"train": [drawing(n) for n in (5, 9, 5)], "valid": [drawing(4)], "test": [drawing(7), drawing(1)]}


def one_line_error(path) -> str:
    with pytest.raises(DataError) as err:
        load_npz(path)
    assert "\n" not in str(err.value)
    return str(err.value)


@pytest.mark.parametrize("name", sorted(REAL_FILES))
def test_real_files_load_like_numpy_reads_them(data_dir, name):
    path = data_dir / "sketchrnn" / f"{name}.npz"
    counts, dtype, most = REAL_FILES[name]
    splits = load_npz(path)
    assert tuple(len(splits[s]) for s in ("train", "valid", "test")) == counts
    assert max(len(d) for s in splits.values() for d in s) == most
    with np.load(path, allow_pickle=True, encoding="latin1") as trusted:
        for split, drawings in splits.items():
            for mine, theirs in zip(drawings, trusted[split]):
                assert mine.dtype == dtype and mine.ndim == 2 and mine.shape[1] == 3
                np.testing.assert_array_equal(mine, theirs)


def test_save_then_load_gives_the_same_bytes(tmp_path, sheep_path):
    sheep = load_npz(sheep_path)
    splits = {split: drawings[:100] for split, drawings in sheep.items()}
    splits["test"].append(np.array([[0.25, -1.5, 1]], dtype=np.float32))
    path = tmp_path / "copy.npz"
    save_npz(path, splits)
    back = load_npz(path)
    with np.load(path, allow_pickle=True, encoding="latin1") as numpy_view:
        for split, drawings in splits.items():
            assert len(back[split]) == len(numpy_view[split]) == len(drawings)
            for original, mine, theirs in zip(drawings, back[split], numpy_view[split]):
                for loaded in (mine, theirs):
                    assert (loaded.dtype, loaded.shape) == (original.dtype, original.shape)
                    assert loaded.tobytes() == original.tobytes()


def test_equal_length_drawings_stay_separate_arrays(tmp_path):
    same = [np.ones((4, 3), dtype=np.int16)] * 3
    save_npz(tmp_path / "same.npz", {"train": same, "valid": same, "test": same})
    assert [d.shape for d in load_npz(tmp_path / "same.npz")["train"]] == [(4, 3)] * 3


def test_save_replaces_atomically_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "data.npz"
    save_npz(path, small_splits())
    before = path.read_bytes()
    broken = small_splits() | {"test": [np.array([["not", "a", "number"]])]}
    with pytest.raises(DataError, match="test"):
        save_npz(path, broken)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["data.npz"]
    save_npz(path, small_splits() | {"valid": []})
    assert load_npz(path)["valid"] == []
    assert os.listdir(tmp_path) == ["data.npz"]


class RunsCode:
    """Pickles as a call to `func(arg)`: what a hostile .npz file would contain."""

    def __init__(self, func, arg):
        self.func, self.arg = func, arg

    def __reduce__(self):
        return self.func, (self.arg,)


@pytest.mark.parametrize("attack", ["os.system", "builtins.eval"])
def test_a_pickle_that_runs_code_is_refused(tmp_path, attack):
    sentinel = tmp_path / "SENTINEL"
    if attack == "os.system":
        payload = RunsCode(os.system, f"touch {shlex.quote(str(sentinel))}")
    else:
        payload = RunsCode(eval, f"open({str(sentinel)!r}, 'w').close()")
    hostile = np.empty(2, dtype=object)
    hostile[0], hostile[1] = np.zeros((3, 3), dtype=np.int16), payload
    path = tmp_path / "hostile.npz"
    np.savez(path, train=hostile, valid=hostile, test=hostile)

    message = one_line_error(path)
    assert "refuses to load" in message and "could run code" in message
    assert ("system" in message) if attack == "os.system" else ("eval" in message)
    assert not sentinel.exists()
    # The file is a real attack: numpy's own loader, trusting it, runs the code.
    with np.load(path, allow_pickle=True) as unsafe:
        unsafe["train"]
    assert sentinel.exists()


def test_a_missing_split_is_named_with_the_splits_found(tmp_path):
    path = tmp_path / "partial.npz"
    save_npz(path, {"train": small_splits()["train"], "valid": small_splits()["valid"]})
    message = one_line_error(path)
    assert "lacks the split(s) test" in message and "found arrays: train, valid" in message


def test_plain_numeric_arrays_load_too(tmp_path):
    path = tmp_path / "plain.npz"
    np.savez(path, train=np.zeros((2, 5, 3)), valid=np.ones((1, 4, 3), dtype=np.float32), test=np.zeros((0, 2, 3)))
    splits = load_npz(path)
    assert [d.shape for d in splits["train"]] == [(5, 3), (5, 3)]
    assert splits["valid"][0].dtype == np.float32 and splits["test"] == []


def test_a_fortran_order_array_keeps_its_values(tmp_path):
    data = np.asfortranarray(np.arange(2 * 5 * 3, dtype=np.float64).reshape(2, 5, 3))
    np.savez(tmp_path / "f.npz", train=data, valid=data, test=data)
    np.testing.assert_array_equal(np.stack(load_npz(tmp_path / "f.npz")["train"]), data)


@pytest.mark.parametrize(("member", "message"), [
    (np.array(["a", "b"]), "<U1 values, not stroke arrays"),
    (np.zeros(4), "not a list of stroke arrays"),
    (np.array([np.zeros((2, 3)), "text"], dtype=object), "item 1 is str"),
    (np.array([{"a": 1}], dtype=object), "item 0 is dict"),
])
def test_a_member_that_is_not_a_stroke_array_is_refused(tmp_path, member, message):
    path = tmp_path / "odd.npz"
    np.savez(path, train=member, valid=np.zeros((1, 2, 3)), test=np.zeros((1, 2, 3)))
    assert message in one_line_error(path)


def test_missing_truncated_and_corrupt_files(tmp_path, sheep_path):
    assert "no such data file" in one_line_error(tmp_path / "nope.npz")
    (tmp_path / "text.npz").write_text("this is not a zip file")
    assert "not a readable .npz file" in one_line_error(tmp_path / "text.npz")
    data = sheep_path.read_bytes()
    (tmp_path / "half.npz").write_bytes(data[: len(data) // 2])
    one_line_error(tmp_path / "half.npz")
    corrupt = bytearray(data)
    corrupt[len(data) // 4 : len(data) // 4 + 64] = bytes(64)  # inside the compressed 'train' member
    (tmp_path / "corrupt.npz").write_bytes(bytes(corrupt))
    one_line_error(tmp_path / "corrupt.npz")


def test_a_member_with_a_damaged_header_is_refused(tmp_path):
    path = tmp_path / "header.npz"
    with zipfile.ZipFile(path, "w") as zf:
        for split in ("train", "valid", "test"):
            zf.writestr(f"{split}.npy", b"\x93NUMPY\x01\x00garbage")
    assert "is not a .npy array" in one_line_error(path)


def test_a_truncated_plain_array_is_refused(tmp_path):
    source = tmp_path / "plain.npz"
    np.savez(source, train=np.zeros((4, 5, 3)), valid=np.zeros((1, 2, 3)), test=np.zeros((1, 2, 3)))
    with zipfile.ZipFile(source) as zf:
        train = zf.read("train.npy")
        others = {name: zf.read(name) for name in ("valid.npy", "test.npy")}
    path = tmp_path / "short.npz"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("train.npy", train[:-8])
        for name, data in others.items():
            zf.writestr(name, data)
    assert "is truncated" in one_line_error(path)


def test_load_stroke_splits_labels_each_file_and_reports_skips(tmp_path, sheep_path):
    other = small_splits()
    other["train"] += [np.array([[1, np.nan, 1]], dtype=np.float32), np.ones((300, 3), dtype=np.int16)]
    extra = tmp_path / "extra.npz"
    save_npz(extra, other)
    splits, report = load_stroke_splits([sheep_path, extra], max_len=250)
    assert splits.class_names == ["aaron_sheep", "extra"]
    assert len(splits.train) == 7400 + 3 and len(splits.valid) == 301 and len(splits.test) == 302
    assert all(d.dtype == np.float32 for d in splits.train)
    np.testing.assert_array_equal(np.bincount(splits.train_labels), [7400, 3])
    np.testing.assert_array_equal(splits.test_labels, [0] * 300 + [1, 1])
    assert splits.train_labels.dtype == np.int64
    assert (report.total, report.too_long, report.non_finite) == (8000 + 8, 1, 1)
    assert str(report) == "skipped 2 of 8008 drawings: 1 too long (> 250 points), 1 non-finite"


def test_load_stroke_splits_without_files():
    with pytest.raises(DataError):
        load_stroke_splits([], max_len=None)


def _deflated(data: bytes) -> bytes:
    """Raw deflate of `data`, byte-aligned and not final, so such pieces can be joined into one stream."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush(zlib.Z_FULL_FLUSH)


def _write_zip(path, members: dict[str, tuple[bytes, int, int]]) -> None:
    """A zip of already deflated members `name: (deflate stream, inflated size, crc32)`, written by hand."""
    local, central = b"", b""
    for name, (stream, size, crc) in members.items():
        fields = (8, 0, 0, crc, len(stream), size, len(name))  # deflate, no time, no date
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, *fields, 0, 0, 0, 0, 0, len(local))
        central += name.encode()
        local += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, *fields, 0) + name.encode() + stream
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central), len(local), 0)
    path.write_bytes(local + central + end)


def _npy_header(shape) -> bytes:
    out = io.BytesIO()
    np.lib.format.write_array_header_1_0(out, {"descr": "<i2", "fortran_order": False, "shape": shape})
    return out.getvalue()


def test_a_zip_bomb_is_refused_before_it_inflates(tmp_path):
    mib = 600  # inflates to 600 MiB of int16 zeros, more than a split may take, from 0.6 MB on disk
    header = _npy_header((mib * (1 << 20) // 6, 3))
    stream = _deflated(header) + _deflated(bytes(1 << 20)) * mib + zlib.compressobj(9, zlib.DEFLATED, -15).flush()
    small = _npy_header((1, 2, 3)) + bytes(12)
    _write_zip(tmp_path / "bomb.npz", {  # train's CRC is left 0: the loader must refuse before it could check it
        "train.npy": (stream, len(header) + (mib << 20), 0),
        **{f"{split}.npy": (_deflated(small) + b"\x03\x00", len(small), zlib.crc32(small)) for split in ("valid", "test")},
    })
    assert (tmp_path / "bomb.npz").stat().st_size < 1 << 20
    tracemalloc.start()
    try:
        message = one_line_error(tmp_path / "bomb.npz")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "would inflate to 629,145,728" in message and "zip bomb" in message
    assert peak < 16 << 20  # the old loader held the 600 MiB twice
