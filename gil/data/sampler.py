"""P×K batch sampler (P identities × K sequences), deterministic per batch and DDP-shardable."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np


class PKBatchSampler:
    """Infinite iterable of index lists; batch ``b`` is a pure function of ``(seed, b)``.

    Every batch holds ``p`` distinct identities × ``k`` sequences each (drawn with replacement when
    an identity has fewer than ``k``), grouped by identity. Under DDP every rank builds the same
    global batch of ``p * k`` indices and keeps its contiguous shard of ``p * k / world_size``, so
    the union over ranks is the single-process batch. ``start_batch`` resumes exactly.
    """

    def __init__(
        self,
        labels: Sequence[int],
        p: int,
        k: int,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        start_batch: int = 0,
    ):
        labels = np.asarray(labels)
        if labels.ndim != 1 or labels.size == 0:
            raise ValueError(f"labels: expected a non-empty 1D sequence, got shape {labels.shape}")
        self.classes, inverse = np.unique(labels, return_inverse=True)
        if not 1 <= p <= len(self.classes):
            raise ValueError(f"p={p}: expected 1 <= p <= number of identities ({len(self.classes)})")
        if k < 1:
            raise ValueError(f"k={k}: expected k >= 1")
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"rank={rank}, world_size={world_size}: expected 0 <= rank < world_size")
        if (p * k) % world_size:
            raise ValueError(f"p*k={p * k} is not divisible by world_size={world_size}")
        if start_batch < 0:
            raise ValueError(f"start_batch={start_batch}: expected >= 0")
        self.members = [np.flatnonzero(inverse == c) for c in range(len(self.classes))]
        self.p, self.k, self.seed = p, k, seed
        self.rank, self.world_size, self.start_batch = rank, world_size, start_batch

    def global_batch(self, b: int) -> list[int]:
        """All ``p * k`` indices of batch ``b`` (before sharding)."""
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, b]))
        out: list[int] = []
        for c in rng.choice(len(self.members), self.p, replace=False):
            idx = self.members[c]
            out.extend(rng.choice(idx, self.k, replace=len(idx) < self.k).tolist())
        return out

    def shard(self, b: int) -> list[int]:
        """This rank's contiguous part of batch ``b``."""
        n = self.p * self.k // self.world_size
        return self.global_batch(b)[self.rank * n : (self.rank + 1) * n]

    def __iter__(self) -> Iterator[list[int]]:
        b = self.start_batch
        while True:
            yield self.shard(b)
            b += 1
