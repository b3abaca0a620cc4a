import json
from dataclasses import replace

import numpy as np
import pytest

from gil.data.opengait import GaitDataset, safe_load_pkl
from gil.data.syngait import CASIA_B_CONDITIONS, PRESETS, example_frames, generate


def test_layout_and_counts(tiny_root):
    p = PRESETS["tiny"]
    part = json.loads((tiny_root / "partition.json").read_text())
    assert part["TRAIN_SET"] == [f"{i:03d}" for i in range(1, 5)]
    assert part["TEST_SET"] == [f"{i:03d}" for i in range(5, 9)]
    meta = json.loads((tiny_root / "syngait.json").read_text())
    assert meta["seed"] == 0 and meta["preset"]["name"] == "tiny"
    ds = GaitDataset(tiny_root)
    assert len(ds) == 8 * 10 * 11
    assert {r.condition for r in ds.records} == set(CASIA_B_CONDITIONS)
    assert {r.view for r in ds.records} == {f"{v:03d}" for v in range(0, 181, 18)}
    x = safe_load_pkl(tiny_root / "001" / "nm-01" / "090" / "090.pkl")
    assert x.dtype == np.uint8 and x.shape[1:] == (64, 64)
    assert p.frames[0] <= len(x) <= p.frames[1]
    assert set(np.unique(x)) <= {0, 255}
    assert not list(tiny_root.parent.glob(".*partial*"))  # no temp folder left


def test_same_seed_byte_identical_whatever_the_workers(tiny_root, tmp_path):
    # the fixture used 2 processes; regenerate subject 001 in this process and compare bytes
    small = replace(PRESETS["tiny"], subjects=2, train_subjects=1, conditions=("nm-01", "bg-01", "cl-01"))
    again = generate(small, tmp_path / "again", seed=0, workers=1, progress=False)
    files = sorted(p.relative_to(again) for p in again.rglob("*.pkl"))
    assert len(files) == 2 * 3 * 11
    for rel in files:
        assert (again / rel).read_bytes() == (tiny_root / rel).read_bytes(), rel
    other = generate(replace(small, subjects=2), tmp_path / "other", seed=1, workers=1, progress=False)
    assert (other / files[0]).read_bytes() != (again / files[0]).read_bytes()


def test_generate_refuses_foreign_folder_and_skips_done(tiny_root, tmp_path):
    assert generate("tiny", tiny_root, seed=0, progress=False) == tiny_root  # already there
    with pytest.raises(ValueError, match="already exists"):
        generate("tiny", tiny_root, seed=1, progress=False)
    with pytest.raises(ValueError, match="known: tiny, small, casia-b"):
        generate("huge", tmp_path / "x")


def _components(mask):
    from scipy import ndimage

    labels, n = ndimage.label(mask)
    return np.bincount(labels.ravel())[1:] if n else np.array([0])


def test_silhouette_is_a_plausible_person():
    frames = example_frames("tiny", subject=2, frame=0)  # [conditions, views, 64, 64]
    for f in frames.reshape(-1, 64, 64):
        mask = f > 0
        rows = np.flatnonzero(mask.any(1))
        assert rows[0] <= 2 and rows[-1] >= 61  # height fills the frame
        sizes = _components(mask)
        assert sizes.max() >= 0.8 * sizes.sum()  # one main blob
        assert 0.08 < mask.mean() < 0.5
        cols = np.flatnonzero(mask.any(0))
        assert 8 < cols[-1] - cols[0] < 64  # taller than wide


def test_bag_and_coat_change_the_silhouette():
    frames = example_frames("tiny", subject=0, frame=0).astype(bool)  # nm, bg, cl
    area = frames.mean(axis=(2, 3))  # [conditions, views]
    assert area[2].mean() > 1.1 * area[0].mean()  # the coat widens the body
    assert np.abs(frames[1] ^ frames[0]).mean() > 0.01  # the bag shows


def test_identity_is_not_given_by_area(tiny_root):
    ds = GaitDataset(tiny_root)
    area = {}
    for i, r in enumerate(ds.records):
        if r.condition.startswith("nm"):
            area.setdefault(r.subject, []).append((ds[i] > 0).mean())
    ranges = [(min(v), max(v)) for v in area.values()]
    for lo, hi in ranges:  # every subject's area range overlaps every other subject's
        assert all(lo < h2 and l2 < hi for l2, h2 in ranges)
