import itertools

import numpy as np
import pytest
import torch

from gil.data.loader import build_test_loader, build_train_loader
from gil.data.opengait import GaitDataset
from gil.data.transforms import crop_width, downscale, prepare, sample_clip


def test_sample_clip_is_ordered_and_loops_short_sequences():
    frames = np.arange(10)[:, None, None] * np.ones((1, 2, 2), int)
    rng = np.random.default_rng(0)
    for _ in range(20):
        clip = sample_clip(frames, 4, rng)[:, 0, 0]
        assert np.all(np.diff(clip) == 1)
    short = sample_clip(frames[:3], 7, rng)[:, 0, 0]
    assert len(short) == 7 and np.all((np.diff(short) == 1) | (np.diff(short) == -2))
    with pytest.raises(ValueError):
        sample_clip(frames[:0], 3, rng)


def test_crop_downscale_prepare():
    x = np.zeros((2, 64, 64), np.uint8)
    x[:, :, 10:54] = 255
    assert crop_width(x, 10).shape == (2, 64, 44)
    y = prepare(x, (64, 44))
    assert y.dtype == np.float32 and y.shape == (2, 64, 44) and y.min() == 1.0
    small = downscale(np.kron(np.eye(2, dtype=np.uint8), np.ones((2, 2), np.uint8))[None] * 255, (2, 2))
    assert np.allclose(small, np.eye(2))  # exact 2x2 area averages
    z = prepare(x, (32, 22))
    assert z.shape == (2, 32, 22) and np.allclose(z, 1.0)
    odd = downscale(x[:, :, 10:54], (30, 20))
    assert odd.shape == (2, 30, 20) and np.allclose(odd, 1.0, atol=1e-5)


def _batches(loader, n):
    return [(x.clone(), y.clone()) for x, y in itertools.islice(iter(loader), n)]


def test_train_loader_shapes_and_determinism_across_workers_and_resume(tiny_root):
    ds = GaitDataset(tiny_root)
    batch = {"identities": 2, "per_identity": 2, "frames": 6, "resolution": (32, 22), "seed": 3}
    a = _batches(build_train_loader(ds, **batch), 3)
    x, y = a[0]
    assert x.shape == (4, 6, 32, 22) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert 0.0 <= x.min() and x.max() <= 1.0 and len(set(y.tolist())) == 2
    b = _batches(build_train_loader(ds, **batch, workers=2), 3)
    c = _batches(build_train_loader(ds, **batch, start_batch=1), 2)
    for (xa, ya), (xb, yb) in zip(a, b, strict=True):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    for (xa, ya), (xc, yc) in zip(a[1:], c, strict=True):
        assert torch.equal(xa, xc) and torch.equal(ya, yc)
    ranks = [_batches(build_train_loader(ds, 2, 2, 6, (32, 22), seed=3, rank=r, world_size=2), 1)[0] for r in range(2)]
    assert torch.equal(torch.cat([r[0] for r in ranks]), a[0][0])


def test_test_loader_pads_and_keeps_order(tiny_root):
    ds = GaitDataset(tiny_root, subjects=["001"])
    out = list(itertools.islice(build_test_loader(ds, (64, 44), batch_size=3), 2))
    sils, lengths, idx = out[0]
    assert sils.shape == (3, int(lengths.max()), 64, 44) and idx.tolist() == [0, 1, 2]
    for j in range(3):
        ref = torch.from_numpy(prepare(ds[j], (64, 44)))
        assert torch.equal(sils[j, : lengths[j]], ref) and sils[j, lengths[j] :].abs().sum() == 0
    assert out[1][2].tolist() == [3, 4, 5]


def test_single_frame_clips_repeat_one_frame_in_training_and_the_middle_frame_at_test(tiny_root):
    ds = GaitDataset(tiny_root)
    loader = build_train_loader(ds, identities=2, per_identity=2, frames=5, resolution=(32, 22), single_frame=True)
    sils, _ = next(iter(loader))
    assert sils.shape == (4, 5, 32, 22)
    assert torch.equal(sils, sils[:, :1].expand_as(sils))  # no motion inside a clip
    sils, lengths, index = next(iter(build_test_loader(ds, (32, 22), batch_size=2, single_frame=3)))
    assert lengths.tolist() == [3, 3]
    middle = ds[int(index[0])]
    expected = torch.from_numpy(prepare(middle[len(middle) // 2][None], (32, 22)))
    assert torch.equal(sils[0], expected.expand(3, 32, 22))
    with pytest.raises(ValueError, match="single_frame"):
        build_test_loader(ds, (32, 22), single_frame=-1)
