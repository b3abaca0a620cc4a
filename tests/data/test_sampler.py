import itertools
from collections import Counter

import pytest

from gil.data.sampler import PKBatchSampler

LABELS = [c for c in range(10) for _ in range(c % 4 + 1)]  # class sizes 1..4


def test_pk_contract():
    s = PKBatchSampler(LABELS, identities=4, per_identity=3, seed=1)
    assert (s.batch_size, s.shard_size) == (12, 12)
    for batch in itertools.islice(s, 20):
        assert len(batch) == 12
        classes = [LABELS[i] for i in batch]
        assert len(set(classes)) == 4 and set(Counter(classes).values()) == {3}
        assert classes == sorted(classes, key=classes.index)  # grouped by identity
        for c in set(classes):  # without replacement when the class is big enough
            idx = [i for i in batch if LABELS[i] == c]
            if LABELS.count(c) >= 3:
                assert len(set(idx)) == 3


def test_deterministic_and_resumable():
    a = list(itertools.islice(PKBatchSampler(LABELS, 3, 2, seed=5), 10))
    b = list(itertools.islice(PKBatchSampler(LABELS, 3, 2, seed=5, start_batch=4), 6))
    assert a[4:] == b
    c = list(itertools.islice(PKBatchSampler(LABELS, 3, 2, seed=6), 10))
    assert a != c


@pytest.mark.parametrize("world_size", [2, 3, 6])
def test_rank_shards_union_is_single_process(world_size):
    single = list(itertools.islice(PKBatchSampler(LABELS, 3, 4, seed=2), 5))
    shards = [
        list(itertools.islice(PKBatchSampler(LABELS, 3, 4, seed=2, rank=r, world_size=world_size), 5))
        for r in range(world_size)
    ]
    for b in range(5):
        assert sum((shards[r][b] for r in range(world_size)), []) == single[b]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"identities": 11, "per_identity": 2}, "identities=11"),
        ({"identities": 0, "per_identity": 2}, "identities=0"),
        ({"identities": 2, "per_identity": 0}, "per_identity=0"),
        ({"identities": 3, "per_identity": 3, "world_size": 2}, "divisible"),
        ({"identities": 2, "per_identity": 2, "rank": 2, "world_size": 2}, "rank=2"),
    ],
)
def test_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        PKBatchSampler(LABELS, **kwargs)
