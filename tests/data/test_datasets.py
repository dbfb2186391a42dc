"""Padded stroke tensors, the endless seeded batch source and its resumption, and batch augmentation."""

import io

import numpy as np
import pytest
import torch

from sketchlab.data.datasets import StrokeBatches, StrokeDataset, drop_points, iter_batches, random_scale
from sketchlab.data.npz import load_npz
from sketchlab.data.strokes import scale_factor, strokes_to_lines, to_stroke3
from sketchlab.errors import CheckpointError, DataError

MAX_LEN = 250


@pytest.fixture(scope="module")
def sheep(sheep_path) -> list[np.ndarray]:
    return load_npz(sheep_path)["train"]


@pytest.fixture(scope="module")
def sheep_set(sheep) -> StrokeDataset:
    # Each label is the drawing's index, so a batch row can be traced back to its drawing.
    return StrokeDataset(sheep, np.arange(len(sheep)), MAX_LEN, scale_factor(sheep))


def tiny_set(n: int) -> StrokeDataset:
    drawings = [np.array([[i + 1, -i, 0], [1, 1, 1]], dtype=np.float32) for i in range(n)]
    return StrokeDataset(drawings, np.arange(n), 4, 1.0)


def take(batches: StrokeBatches, k: int) -> list[dict]:
    return [batches.next_batch() for _ in range(k)]


def assert_same_batches(a: list[dict], b: list[dict]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x.keys() == y.keys()
        for key in x:
            assert torch.equal(x[key], y[key]), key


def test_dataset_holds_normalised_padded_rows(sheep, sheep_set):
    factor = scale_factor(sheep)
    assert sheep_set.strokes.shape == (len(sheep), MAX_LEN, 5) and sheep_set.strokes.dtype == torch.float32
    assert sheep_set.lengths.dtype == sheep_set.labels.dtype == torch.int64
    np.testing.assert_array_equal(sheep_set.lengths.numpy(), [len(d) for d in sheep])
    for i in (0, 1, 4321, len(sheep) - 1):
        n, rows = len(sheep[i]), sheep_set.strokes[i].numpy()
        np.testing.assert_allclose(rows[:n, :2] * factor, sheep[i][:, :2], rtol=1e-6, atol=1e-5)
        np.testing.assert_array_equal(rows[:n, 3], sheep[i][:, 2])
        np.testing.assert_array_equal(rows[:n, 2] + rows[:n, 3], np.ones(n))
        np.testing.assert_array_equal(rows[n:], np.tile([0, 0, 0, 0, 1], (MAX_LEN - n, 1)))


def test_dataset_needs_one_label_per_drawing():
    with pytest.raises(DataError, match="2 drawings but 1 labels"):
        StrokeDataset([np.ones((2, 3))] * 2, [0], 4, 1.0)


def test_a_batch_is_the_model_batch_dict(sheep_set):
    batch = StrokeBatches(sheep_set, 16, seed=3).next_batch()
    assert batch["strokes"].shape == (16, MAX_LEN + 1, 5) and batch["strokes"].dtype == torch.float32
    assert batch["lengths"].dtype == batch["labels"].dtype == torch.int64
    assert torch.equal(batch["strokes"][:, 0], torch.tensor([[0.0, 0, 1, 0, 0]]).expand(16, 5))
    picked = batch["labels"]
    assert torch.equal(batch["strokes"][:, 1:], sheep_set.strokes[picked])
    assert torch.equal(batch["lengths"], sheep_set.lengths[picked])


def test_each_epoch_is_a_new_permutation_without_the_remainder():
    batches = StrokeBatches(tiny_set(10), 3, seed=0)
    epochs = []
    for epoch in range(4):
        labels = torch.cat([b["labels"] for b in take(batches, 3)])
        assert batches.epoch == epoch
        assert len(set(labels.tolist())) == 9  # 3 full batches, one drawing left over
        epochs.append(labels.tolist())
    assert len({tuple(e) for e in epochs}) == 4


def test_without_shuffling_batches_walk_in_order():
    batches = StrokeBatches(tiny_set(7), 3, shuffle=False)
    assert [b["labels"].tolist() for b in take(batches, 4)] == [[0, 1, 2], [3, 4, 5], [0, 1, 2], [3, 4, 5]]


def test_a_data_set_smaller_than_a_batch_still_fills_it():
    for batch in take(StrokeBatches(tiny_set(3), 8, seed=1), 5):
        assert len(batch["labels"]) == 8
        assert set(batch["labels"].tolist()) == {0, 1, 2}


def test_the_seed_fixes_the_batches(sheep_set):
    def source(seed):
        return StrokeBatches(sheep_set, 8, seed=seed, random_scale_factor=0.2, augment_stroke_prob=0.2)

    assert_same_batches(take(source(5), 3), take(source(5), 3))
    assert not torch.equal(source(5).next_batch()["strokes"], source(6).next_batch()["strokes"])


def test_shards_of_the_processes_make_up_the_single_process_batch(sheep_set):
    """Under torchrun each process keeps its rows of the same augmented global batch, epoch after epoch."""
    def source():
        return StrokeBatches(sheep_set, 12, seed=3, random_scale_factor=0.15, augment_stroke_prob=0.1)

    whole, parts = source(), [source(), source(), source()]
    for rank, part in enumerate(parts):
        part.shard(rank, 3)
    for _ in range(2 * len(sheep_set) // 12 + 1):  # across an epoch boundary
        expected = whole.next_batch()
        shards = [part.next_batch() for part in parts]
        for key, value in expected.items():
            assert torch.equal(torch.cat([shard[key] for shard in shards]), value), key
    with pytest.raises(DataError, match="split evenly"):
        source().shard(0, 5)


def test_a_resumed_source_continues_with_the_same_batches():
    data = StrokeDataset([np.tile([[1.0, 2.0, 0.0]] * 5 + [[1.0, 1.0, 1.0]], (2, 1))] * 25, np.arange(25), 12, 1.0)

    def source(seed):
        return StrokeBatches(data, 4, seed=seed, random_scale_factor=0.3, augment_stroke_prob=0.5)

    original = source(0)
    take(original, 4)
    saved = io.BytesIO()
    torch.save(original.state_dict(), saved)
    expected = take(original, 10)  # 6 batches an epoch: this crosses into the next one
    assert original.epoch == 2

    saved.seek(0)
    resumed = source(seed=123)
    resumed.load_state_dict(torch.load(saved, weights_only=True))
    assert_same_batches(take(resumed, 10), expected)
    assert resumed.epoch == 2


def test_resuming_on_other_data_is_refused():
    state = StrokeBatches(tiny_set(10), 3).state_dict()
    with pytest.raises(CheckpointError, match="same data"):
        StrokeBatches(tiny_set(12), 3).load_state_dict(state)


def test_an_empty_data_set_has_no_training_batches_but_can_be_evaluated():
    empty = StrokeDataset([], np.zeros(0), 5, 1.0)
    assert len(empty) == 0 and list(iter_batches(empty, 4)) == []
    with pytest.raises(DataError, match="no drawings"):
        StrokeBatches(empty, 4)


def test_iter_batches_covers_the_data_in_order_unchanged(sheep_set):
    sizes, labels = [], []
    for batch in iter_batches(sheep_set, 1000):
        sizes.append(len(batch["labels"]))
        labels.append(batch["labels"])
        assert torch.equal(batch["strokes"][:, 1:], sheep_set.strokes[batch["labels"]])
        assert torch.equal(batch["lengths"], sheep_set.lengths[batch["labels"]])
    assert sizes == [1000] * 7 + [400]
    assert torch.equal(torch.cat(labels), torch.arange(len(sheep_set)))


def drop_all_eligible(stroke3: np.ndarray) -> np.ndarray:
    """Point dropping with probability 1, point by point: the reference for the batched version."""
    out, carry, run = [], np.zeros(2), 0
    for i, (dx, dy, pen) in enumerate(stroke3):
        if pen == 0 and run >= 3 and i < len(stroke3) - 1:
            carry += (dx, dy)
        else:
            out.append([dx + carry[0], dy + carry[1], pen])
            carry = np.zeros(2)
        run = run + 1 if pen == 0 else 0
    return np.array(out, dtype=np.float32).reshape(-1, 3)


def eligible_points(stroke3: np.ndarray) -> int:
    down = stroke3[:, 2] == 0
    n = len(stroke3)
    return sum(down[i - 3 : i + 1].all() for i in range(3, n - 1))


def is_subsequence(points: np.ndarray, of: np.ndarray) -> bool:
    remaining = iter(of)
    return all(any(np.abs(p - q).max() < 1e-4 for q in remaining) for p in points)


def drop(data: StrokeDataset, count: int, prob: float, seed: int = 0):
    return drop_points(data.strokes[:count], data.lengths[:count], prob, torch.Generator().manual_seed(seed))


def test_dropping_merges_offsets_into_the_next_row():
    rows = np.array([[1, 0, 0], [1, 0, 0], [1, 0, 0], [1, 0, 0], [2, 0, 0], [3, 0, 1], [5, 5, 0], [1, 1, 1]])
    data = StrokeDataset([rows.astype(np.float32)], [0], 10, 1.0)
    out, lengths = drop(data, 1, prob=1.0)
    expected = [[1, 0, 0], [1, 0, 0], [1, 0, 0], [6, 0, 1], [5, 5, 0], [1, 1, 1]]
    assert lengths.tolist() == [6]
    np.testing.assert_array_equal(to_stroke3(out[0].numpy()), expected)
    np.testing.assert_array_equal(drop_all_eligible(rows), expected)


def test_dropping_everything_eligible_matches_the_point_by_point_reference(sheep_set):
    out, lengths = drop(sheep_set, 64, prob=1.0)
    for i in range(64):
        original = to_stroke3(sheep_set.strokes[i].numpy())
        expected = drop_all_eligible(original)
        assert lengths[i] == len(expected) < len(original)
        np.testing.assert_allclose(to_stroke3(out[i].numpy()), expected, atol=1e-5)


def test_dropping_keeps_stroke_ends_and_padding(sheep_set):
    batch = StrokeBatches(sheep_set, 64, seed=2, augment_stroke_prob=0.5).next_batch()
    rows, lengths = batch["strokes"][:, 1:].numpy(), batch["lengths"].numpy()
    assert (lengths < sheep_set.lengths[batch["labels"]].numpy()).all()
    for row, n, label in zip(rows, lengths, batch["labels"]):
        np.testing.assert_array_equal(row[n:], np.tile([0, 0, 0, 0, 1], (MAX_LEN - n, 1)))
        np.testing.assert_array_equal(row[:n, 2] + row[:n, 3], np.ones(n))
        before = strokes_to_lines(to_stroke3(sheep_set.strokes[label].numpy()))
        after = strokes_to_lines(to_stroke3(row))
        assert len(after) == len(before)
        for old, new in zip(before, after):
            np.testing.assert_allclose(new[[0, -1]], old[[0, -1]], atol=1e-4)
            assert is_subsequence(new, old)  # the points left are original points, in their order


def test_points_drop_at_the_requested_rate(sheep_set):
    count, prob = 2000, 0.3
    _, lengths = drop(sheep_set, count, prob, seed=7)
    dropped = int((sheep_set.lengths[:count] - lengths).sum())
    eligible = sum(eligible_points(to_stroke3(sheep_set.strokes[i].numpy())) for i in range(count))
    assert eligible > 50_000
    assert dropped / eligible == pytest.approx(prob, abs=0.01)  # about 5 standard deviations


def test_random_scale_stretches_each_sketch_by_its_own_factors(sheep_set):
    rows = sheep_set.strokes[:512]
    scaled = random_scale(rows, 0.2, torch.Generator().manual_seed(0))
    assert torch.equal(scaled[..., 2:], rows[..., 2:])
    ratios = []
    for axis in (0, 1):
        moved = rows[..., axis] != 0
        ratio = torch.where(moved, scaled[..., axis] / rows[..., axis], torch.nan)
        low, high = np.nanmin(ratio.numpy(), axis=1), np.nanmax(ratio.numpy(), axis=1)
        np.testing.assert_allclose(low, high, rtol=1e-5)  # one factor per sketch and axis
        assert 0.8 <= low.min() < 0.83 and 1.17 < high.max() <= 1.2
        ratios.append(low)
    assert abs(np.corrcoef(ratios[0], ratios[1])[0, 1]) < 0.2  # x and y stretch independently


def varied_set(n: int) -> StrokeDataset:
    """Drawing i has i % 7 + 1 points, so batches drawn at random mix long and short ones."""
    drawings = [np.array([[1.0, -1.0, 0.0]] * (i % 7) + [[1.0, 1.0, 1.0]], dtype=np.float32) for i in range(n)]
    return StrokeDataset(drawings, np.arange(n), 8, 1.0)


@pytest.mark.parametrize("pool", [1, 2, 100])
def test_bucketed_batches_hold_every_drawing_once_an_epoch(pool):
    """24 drawings, batches of 4: each epoch's 6 batches hold every drawing exactly once, whatever the pool; each
    pool of sorted drawings makes batches whose lengths do not overlap, and the epochs differ."""
    batches = StrokeBatches(varied_set(24), 4, seed=2, bucket_pool=pool)
    epochs = []
    for epoch in range(3):
        taken = take(batches, 6)
        assert batches.epoch == epoch
        labels = torch.cat([b["labels"] for b in taken])
        assert sorted(labels.tolist()) == list(range(24))
        for b in taken:
            assert torch.equal(b["lengths"], b["labels"] % 7 + 1)
        epochs.append(labels.tolist())
        if pool == 100:  # the whole epoch sorted: batch ranges of lengths do not overlap
            spans = sorted((int(b["lengths"].min()), int(b["lengths"].max())) for b in taken)
            assert all(low_next >= high for (_, high), (low_next, _) in zip(spans, spans[1:]))
    assert epochs[0] != epochs[1] != epochs[2]


def test_bucketing_leaves_the_remainder_out_at_random():
    """25 drawings in batches of 4: 24 are used an epoch, each once, and the one left out is not always the same."""
    batches = StrokeBatches(varied_set(25), 4, seed=0, bucket_pool=3)
    left_out = set()
    for _ in range(6):
        labels = torch.cat([b["labels"] for b in take(batches, 6)]).tolist()
        assert len(set(labels)) == 24
        left_out |= set(range(25)) - set(labels)
    assert len(left_out) > 1


def test_bucketed_sheep_batches_are_half_as_long(sheep_set):
    """The decoder runs each batch to its longest drawing: on sheep, random batches of 100 nearly all hold one close
    to 250 rows; bucketed ones (pool 16) average about 133 (mean length 125)."""
    def mean_longest(pool):
        batches = StrokeBatches(sheep_set, 100, seed=0, bucket_pool=pool)
        return np.mean([int(b["lengths"].max()) for b in take(batches, len(sheep_set) // 100)])

    assert mean_longest(0) > 235
    assert mean_longest(16) < 145


def test_a_resumed_bucketed_source_continues_with_the_same_batches():
    def source():
        return StrokeBatches(varied_set(30), 4, seed=7, augment_stroke_prob=0.3, bucket_pool=2)

    original = source()
    take(original, 5)
    saved = io.BytesIO()
    torch.save(original.state_dict(), saved)
    expected = take(original, 12)  # 7 batches an epoch: this crosses into the next two
    saved.seek(0)
    resumed = source()
    resumed.load_state_dict(torch.load(saved, weights_only=True))
    assert_same_batches(take(resumed, 12), expected)
