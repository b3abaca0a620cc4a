"""P×K batch sampler (P identities × K sequences each), deterministic per batch and DDP-shardable."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np


class PKBatchSampler:
    """Infinite iterable of index lists; batch ``b`` is a pure function of ``(seed, b)``.

    Every batch holds ``identities`` distinct identities (P) × ``per_identity`` sequences each (K; drawn
    with replacement when an identity has fewer), grouped by identity. Under DDP every rank builds the
    same global batch of ``identities * per_identity`` indices and keeps its contiguous shard of
    ``batch_size / world_size``, so the union over ranks is the single-process batch. ``start_batch``
    resumes exactly.
    """

    def __init__(
        self,
        labels: Sequence[int],
        identities: int,
        per_identity: int,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        start_batch: int = 0,
    ):
        labels = np.asarray(labels)
        if labels.ndim != 1 or labels.size == 0:
            raise ValueError(f"labels: expected a non-empty 1D sequence, got shape {labels.shape}")
        self.classes, inverse = np.unique(labels, return_inverse=True)
        if not 1 <= identities <= len(self.classes):
            raise ValueError(
                f"identities={identities}: expected 1 <= identities <= number of identities ({len(self.classes)})"
            )
        if per_identity < 1:
            raise ValueError(f"per_identity={per_identity}: expected per_identity >= 1")
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"rank={rank}, world_size={world_size}: expected 0 <= rank < world_size")
        if (identities * per_identity) % world_size:
            raise ValueError(
                f"identities*per_identity={identities * per_identity} is not divisible by world_size={world_size}"
            )
        if start_batch < 0:
            raise ValueError(f"start_batch={start_batch}: expected >= 0")
        self.members = [np.flatnonzero(inverse == c) for c in range(len(self.classes))]
        self.identities, self.per_identity, self.seed = identities, per_identity, seed
        self.rank, self.world_size, self.start_batch = rank, world_size, start_batch

    @property
    def batch_size(self) -> int:
        """The number of sequences in a global batch, ``identities * per_identity``."""
        return self.identities * self.per_identity

    @property
    def shard_size(self) -> int:
        """The number of sequences in one rank's shard, ``batch_size / world_size``."""
        return self.batch_size // self.world_size

    def global_batch(self, b: int) -> list[int]:
        """All ``batch_size`` indices of batch ``b`` (before sharding)."""
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, b]))
        out: list[int] = []
        for c in rng.choice(len(self.members), self.identities, replace=False):
            idx = self.members[c]
            out.extend(rng.choice(idx, self.per_identity, replace=len(idx) < self.per_identity).tolist())
        return out

    def shard(self, b: int) -> list[int]:
        """This rank's contiguous part of batch ``b``."""
        n = self.shard_size
        return self.global_batch(b)[self.rank * n : (self.rank + 1) * n]

    def __iter__(self) -> Iterator[list[int]]:
        b = self.start_batch
        while True:
            yield self.shard(b)
            b += 1
