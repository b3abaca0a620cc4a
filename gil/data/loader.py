"""Torch DataLoaders: P×K training clips and whole test sequences, deterministic whatever the workers.

Training randomness (which sequences, which clip) is a pure function of ``(seed, batch index,
position in the global batch)``: the batch sampler yields ``(index, clip_seed)`` pairs, so the
number of workers, the rank split and resuming at ``start_batch`` do not change any batch.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from gil.data.sampler import PKBatchSampler
from gil.data.transforms import prepare, sample_clip, single_frame_clip


class _ClipBatches:
    """Wraps :class:`PKBatchSampler`: each item becomes ``(index, (seed, batch, position))``."""

    def __init__(self, sampler: PKBatchSampler):
        self.sampler = sampler

    def __iter__(self) -> Iterator[list[tuple[int, tuple[int, int, int]]]]:
        s = self.sampler
        n = s.shard_size
        b = s.start_batch
        while True:
            yield [(i, (s.seed, b, s.rank * n + j)) for j, i in enumerate(s.shard(b))]
            b += 1


def _source(dataset, index: int) -> str:
    """The file behind ``dataset[index]`` where the dataset records one (:class:`~gil.data.opengait.GaitDataset`),
    else the index."""
    try:
        return str(dataset.records[index].path)
    except (AttributeError, IndexError, KeyError, TypeError):
        return f"sequence {index} of {type(dataset).__name__}"


def _prepare(dataset, index: int, frames: np.ndarray, resolution: tuple[int, int]) -> np.ndarray:
    """:func:`prepare` whose ``ValueError`` (e.g. frames smaller than ``resolution``) names the sequence's file."""
    try:
        return prepare(frames, resolution)
    except ValueError as err:
        raise ValueError(f"{_source(dataset, index)}: frames {frames.shape[1:]}, {err}") from err


class _ClipDataset(Dataset):
    def __init__(self, dataset, frames: int, resolution: tuple[int, int], single_frame: bool = False):
        self.dataset, self.frames, self.resolution = dataset, frames, resolution
        self.single_frame = single_frame

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, item: tuple[int, tuple[int, int, int]]) -> tuple[np.ndarray, int]:
        index, key = item
        rng = np.random.default_rng(np.random.SeedSequence([1, *key]))
        sequence = self.dataset[index]
        if self.single_frame:
            clip = single_frame_clip(sequence, self.frames, int(rng.integers(0, len(sequence))))
        else:
            clip = sample_clip(sequence, self.frames, rng)
        return _prepare(self.dataset, index, clip, self.resolution), self.dataset.labels[index]


def _collate_train(items) -> tuple[torch.Tensor, torch.Tensor]:
    sils = torch.from_numpy(np.stack([x for x, _ in items]))  # [n, s, h, w]
    return sils, torch.tensor([y for _, y in items], dtype=torch.int64)


def _own_generator(seed: int) -> torch.Generator:
    """The loader's own generator: without one, every ``iter(loader)`` draws its workers' base seed from the
    global torch RNG, so a resumed process would leave that RNG one draw ahead of the uninterrupted run."""
    return torch.Generator().manual_seed(seed)


def build_train_loader(
    dataset,
    identities: int,
    per_identity: int,
    frames: int = 30,
    resolution: tuple[int, int] = (64, 44),
    seed: int = 0,
    rank: int = 0,
    world_size: int = 1,
    workers: int = 0,
    start_batch: int = 0,
    single_frame: bool = False,
) -> DataLoader:
    """Infinite loader of ``(sils float32 [n, s, h, w], labels int64 [n])`` from P×K batches.

    Each batch holds ``identities`` identities × ``per_identity`` sequences, this rank's share of them:
    ``n = identities * per_identity / world_size``.

    ``dataset`` needs ``__getitem__ -> uint8 [s, 64, 64]`` and ``.labels``
    (e.g. :class:`~gil.data.opengait.GaitDataset`).
    ``single_frame``: each clip is one random frame repeated ``frames`` times (no temporal information).
    """
    sampler = PKBatchSampler(
        dataset.labels, identities, per_identity, seed=seed, rank=rank, world_size=world_size, start_batch=start_batch
    )
    return DataLoader(
        _ClipDataset(dataset, frames, resolution, single_frame),
        batch_sampler=_ClipBatches(sampler),
        collate_fn=_collate_train,
        num_workers=workers,
        generator=_own_generator(seed),
    )


class _TestDataset(Dataset):
    def __init__(self, dataset, resolution: tuple[int, int], single_frame: int = 0):
        self.dataset, self.resolution, self.single_frame = dataset, resolution, single_frame

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> tuple[np.ndarray, int]:
        sequence = self.dataset[i]
        if self.single_frame:
            sequence = single_frame_clip(sequence, self.single_frame, len(sequence) // 2)
        return _prepare(self.dataset, i, sequence, self.resolution), i


def _collate_test(items) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    lengths = [len(x) for x, _ in items]
    h, w = items[0][0].shape[1:]
    sils = torch.zeros(len(items), max(lengths), h, w)  # [n, s_max, h, w], zero padded
    for j, (x, _) in enumerate(items):
        sils[j, : len(x)] = torch.from_numpy(x)
    return (
        sils,
        torch.tensor(lengths, dtype=torch.int64),
        torch.tensor([i for _, i in items], dtype=torch.int64),
    )


def build_test_loader(
    dataset,
    resolution: tuple[int, int] = (64, 44),
    batch_size: int = 1,
    workers: int = 0,
    single_frame: int = 0,
) -> DataLoader:
    """Loader over every sequence in order.

    Yields ``(sils float32 [n, s_max, h, w], lengths int64 [n], indices int64 [n])``, zero-padded.
    ``single_frame > 0``: each sequence is replaced by its middle frame repeated that many times.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size}: expected >= 1")
    if single_frame < 0:
        raise ValueError(f"single_frame={single_frame}: expected 0 (whole sequences) or a clip length >= 1")
    return DataLoader(
        _TestDataset(dataset, resolution, single_frame),
        batch_size=batch_size,
        shuffle=False,
        collate_fn=_collate_test,
        num_workers=workers,
        generator=_own_generator(0),
    )
