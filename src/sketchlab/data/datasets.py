"""Model batches from stroke-3 drawings: padded once into tensors, then indexed and augmented a batch at a time."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import numpy as np
import torch

from sketchlab.data.strokes import normalize, pad_stroke5
from sketchlab.errors import CheckpointError, DataError

START_TOKEN = (0.0, 0.0, 1.0, 0.0, 0.0)
Batch = dict[str, torch.Tensor]


class StrokeDataset:
    """Normalised stroke-5 drawings: `strokes` (N, max_len, 5) float32, `lengths` (N,) and `labels` (N,) int64."""

    def __init__(self, drawings: Sequence[np.ndarray], labels: Sequence[int] | np.ndarray, max_len: int,
                 scale_factor: float):
        if len(labels) != len(drawings):
            raise DataError(f"{len(drawings)} drawings but {len(labels)} labels")
        padded, lengths = pad_stroke5(normalize(drawings, scale_factor), max_len)
        self.strokes = torch.from_numpy(padded)
        self.lengths = torch.from_numpy(lengths)
        self.labels = torch.as_tensor(np.asarray(labels, dtype=np.int64))
        self.max_len = max_len
        self.scale_factor = scale_factor

    def __len__(self) -> int:
        return len(self.strokes)


def make_batch(rows: torch.Tensor, lengths: torch.Tensor, labels: torch.Tensor) -> Batch:
    """The model's batch dict: stroke-5 rows behind a start token `(0, 0, 1, 0, 0)`."""
    start = rows.new_tensor(START_TOKEN).expand(len(rows), 1, 5)
    return {"strokes": torch.cat([start, rows], dim=1), "lengths": lengths, "labels": labels}


def random_scale(rows: torch.Tensor, factor: float, generator: torch.Generator) -> torch.Tensor:
    """Stretch each sketch: dx and dy times independent factors uniform in [1 - factor, 1 + factor]."""
    scales = 1 + (2 * torch.rand(len(rows), 1, 2, generator=generator) - 1) * factor
    return torch.cat([rows[..., :2] * scales, rows[..., 2:]], dim=-1)


def drop_points(rows: torch.Tensor, lengths: torch.Tensor, prob: float,
                generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Remove pen-down points with probability `prob` where the 3 points before them in the stroke are pen-down.

    A removed point's offset is added to the next row, so every remaining point keeps its absolute position;
    the rows close up and the freed rows at the end become padding.
    """
    steps = rows.shape[1]
    down = rows[..., 2] == 1
    eligible = torch.zeros_like(down)
    eligible[:, 3:] = down[:, 3:] & down[:, 2:-1] & down[:, 1:-2] & down[:, :-3]
    eligible &= torch.arange(steps) < (lengths - 1).unsqueeze(1)  # the last point has no next row to take its offset
    drop = eligible & (torch.rand(down.shape, generator=generator) < prob)
    keep = (~drop).long()
    # Kept rows before a row = the slot it moves to; a dropped row shares the slot of the next kept row.
    slot = (torch.cumsum(keep, dim=1) - keep).unsqueeze(-1).expand_as(rows)
    values = torch.cat([rows[..., :2], rows[..., 2:] * keep.unsqueeze(-1)], dim=-1)
    out = torch.zeros_like(rows).scatter_add_(1, slot, values)
    new_lengths = lengths - drop.sum(dim=1)
    out[..., 4] = (torch.arange(steps) >= new_lengths.unsqueeze(1)).to(rows.dtype)
    return out, new_lengths


class ShuffledBatches:
    """Endless batches of a data set's items in seeded permutations, epoch after epoch, resumable exactly.

    Each epoch yields `len(dataset) // batch_size` full batches; a data set smaller than a batch repeats within it.
    Subclasses turn a batch's indices into the batch in `make_batch`.
    """

    rank, world_size = 0, 1

    def __init__(self, dataset, batch_size: int, seed: int = 0, shuffle: bool = True):
        if len(dataset) == 0:
            raise DataError("no items to make training batches from")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.generator = torch.Generator().manual_seed(seed)
        self.epoch = 0
        self.position = 0
        self.order = self._epoch_order()

    def _epoch_order(self) -> torch.Tensor:
        n = len(self.dataset)
        order = torch.randperm(n, generator=self.generator) if self.shuffle else torch.arange(n)
        return order.repeat(math.ceil(self.batch_size / n))

    def _next_indices(self) -> torch.Tensor:
        if self.position + self.batch_size > len(self.order):
            self.epoch += 1
            self.position = 0
            self.order = self._epoch_order()
        indices = self.order[self.position : self.position + self.batch_size]
        self.position += self.batch_size
        return indices

    def make_batch(self, indices: torch.Tensor) -> Batch:
        raise NotImplementedError

    def shard(self, rank: int, world_size: int) -> None:
        """Under DistributedDataParallel (the engine calls this): every process draws the same global batches (same
        seed, so the same order and augmentation draws) and keeps its own contiguous share of the rows, so together
        they train on exactly the batch one process would."""
        if self.batch_size % world_size:
            raise DataError(f"the batch size {self.batch_size} does not split evenly over {world_size} processes")
        self.rank, self.world_size = rank, world_size

    def next_batch(self) -> Batch:
        batch = self.make_batch(self._next_indices())
        if self.world_size == 1:
            return batch
        share = self.batch_size // self.world_size
        return {key: value[self.rank * share : (self.rank + 1) * share] for key, value in batch.items()}

    def state_dict(self) -> dict:
        """Plain ints and tensors (safe for `torch.load(weights_only=True)`) that fix all following batches."""
        return {"epoch": self.epoch, "position": self.position, "order": self.order.clone(),
                "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        order = state["order"]
        expected = len(self.dataset) * math.ceil(self.batch_size / len(self.dataset))
        if len(order) != expected or int(order.max()) >= len(self.dataset):
            raise CheckpointError(
                f"the saved batch order does not fit this training set ({len(self.dataset)} items, "
                f"batch size {self.batch_size}): resume with the same data and batch size"
            )
        self.epoch, self.position, self.order = int(state["epoch"]), int(state["position"]), order.clone()
        self.generator.set_state(state["generator"])


def bucket_by_length(order: torch.Tensor, lengths: torch.Tensor, batch_size: int, pool: int,
                     generator: torch.Generator) -> torch.Tensor:
    """`order` rearranged so that each run of `batch_size` items is a batch of drawings of similar lengths.

    The full batches' items are taken `pool` batches at a time, sorted by length (equal lengths keep their order in
    `order`) and cut into batches; then the batches are shuffled. The remainder, too few for a batch, stays at the end.
    """
    full = len(order) // batch_size * batch_size
    batches = []
    for start in range(0, full, pool * batch_size):
        chunk = order[start : min(start + pool * batch_size, full)]
        batches.extend(chunk[torch.sort(lengths[chunk], stable=True).indices].split(batch_size))
    shuffled = [batches[i] for i in torch.randperm(len(batches), generator=generator)]
    return torch.cat([*shuffled, order[full:]])


class StrokeBatches(ShuffledBatches):
    """Sketch-RNN training batches, augmented as the paper does (random scale, dropped points).

    With `bucket_pool` k > 0 each epoch's batches are cut from k batches' worth of drawings sorted by length
    (`bucket_by_length`), so that a model can run each batch only to its longest drawing: on sheep (mean length 125
    of 250) batches of random drawings nearly all hold one longer than 240 rows, while k = 16 brings the mean longest
    down to 133 (the whole epoch sorted: 127).
    """

    def __init__(self, dataset: StrokeDataset, batch_size: int, seed: int = 0, shuffle: bool = True,
                 random_scale_factor: float = 0.0, augment_stroke_prob: float = 0.0, bucket_pool: int = 0):
        if len(dataset) == 0:
            raise DataError("no drawings to make training batches from")
        if not 0 <= random_scale_factor < 1 or not 0 <= augment_stroke_prob <= 1:
            raise ValueError("need 0 <= random_scale_factor < 1 and 0 <= augment_stroke_prob <= 1")
        if bucket_pool < 0:
            raise ValueError(f"bucket_pool must be >= 0, got {bucket_pool}")
        self.bucket_pool = bucket_pool  # before the first epoch's order, which reads it
        super().__init__(dataset, batch_size, seed, shuffle)
        self.random_scale_factor = random_scale_factor
        self.augment_stroke_prob = augment_stroke_prob

    def _epoch_order(self) -> torch.Tensor:
        order = super()._epoch_order()
        if not self.bucket_pool:
            return order
        return bucket_by_length(order, self.dataset.lengths, self.batch_size, self.bucket_pool, self.generator)

    def make_batch(self, indices: torch.Tensor) -> Batch:
        rows, lengths = self.dataset.strokes[indices], self.dataset.lengths[indices]
        if self.random_scale_factor > 0:
            rows = random_scale(rows, self.random_scale_factor, self.generator)
        if self.augment_stroke_prob > 0:
            rows, lengths = drop_points(rows, lengths, self.augment_stroke_prob, self.generator)
        return make_batch(rows, lengths, self.dataset.labels[indices])


def iter_batches(dataset: StrokeDataset, batch_size: int) -> Iterator[Batch]:
    """Every drawing once, in order and unaugmented (for validation and testing); the last batch may be smaller."""
    for start in range(0, len(dataset), batch_size):
        part = slice(start, start + batch_size)
        yield make_batch(dataset.strokes[part], dataset.lengths[part], dataset.labels[part])
