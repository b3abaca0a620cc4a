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
from gil.data.transforms import prepare, sample_clip


class _ClipBatches:
    """Wraps :class:`PKBatchSampler`: each item becomes ``(index, (seed, batch, position))``."""

    def __init__(self, sampler: PKBatchSampler):
        self.sampler = sampler

    def __iter__(self) -> Iterator[list[tuple[int, tuple[int, int, int]]]]:
        s = self.sampler
        n = s.p * s.k // s.world_size
        b = s.start_batch
        while True:
            yield [(i, (s.seed, b, s.rank * n + j)) for j, i in enumerate(s.shard(b))]
            b += 1


class _ClipDataset(Dataset):
    def __init__(self, dataset, frames: int, resolution: tuple[int, int]):
        self.dataset, self.frames, self.resolution = dataset, frames, resolution

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, item: tuple[int, tuple[int, int, int]]) -> tuple[np.ndarray, int]:
        index, key = item
        rng = np.random.default_rng(np.random.SeedSequence([1, *key]))
        clip = sample_clip(self.dataset[index], self.frames, rng)
        return prepare(clip, self.resolution), self.dataset.labels[index]


def _collate_train(items) -> tuple[torch.Tensor, torch.Tensor]:
    sils = torch.from_numpy(np.stack([x for x, _ in items]))  # [n, s, h, w]
    return sils, torch.tensor([y for _, y in items], dtype=torch.int64)


def build_train_loader(
    dataset,
    p: int,
    k: int,
    frames: int = 30,
    resolution: tuple[int, int] = (64, 44),
    seed: int = 0,
    rank: int = 0,
    world_size: int = 1,
    workers: int = 0,
    start_batch: int = 0,
) -> DataLoader:
    """Infinite loader of ``(sils float32 [n, s, h, w], labels int64 [n])``, ``n = p * k / world_size``.

    ``dataset`` needs ``__getitem__ -> uint8 [s, 64, 64]`` and ``.labels`` (e.g. :class:`GaitDataset`).
    """
    sampler = PKBatchSampler(dataset.labels, p, k, seed=seed, rank=rank, world_size=world_size, start_batch=start_batch)
    return DataLoader(
        _ClipDataset(dataset, frames, resolution),
        batch_sampler=_ClipBatches(sampler),
        collate_fn=_collate_train,
        num_workers=workers,
    )


class _TestDataset(Dataset):
    def __init__(self, dataset, resolution: tuple[int, int]):
        self.dataset, self.resolution = dataset, resolution

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> tuple[np.ndarray, int]:
        return prepare(self.dataset[i], self.resolution), i


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
    dataset, resolution: tuple[int, int] = (64, 44), batch_size: int = 1, workers: int = 0
) -> DataLoader:
    """Loader over every sequence in order.

    Yields ``(sils float32 [n, s_max, h, w], lengths int64 [n], indices int64 [n])``, zero-padded.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size}: expected >= 1")
    return DataLoader(
        _TestDataset(dataset, resolution),
        batch_size=batch_size,
        shuffle=False,
        collate_fn=_collate_test,
        num_workers=workers,
    )
