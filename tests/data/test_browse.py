"""gil.data.browse: sequences by key, the middle-frame and GEI grids, GEI gaps and the split, on a hand-made root."""

import json
import pickle

import numpy as np
import pandas as pd
import pytest

from gil.data import browse
from gil.data.opengait import GaitDataset, dataset_info
from gil.data.partitions import Partition

H, W = 4, 3


def _write(root, subject: str, condition: str, view: str, frames: np.ndarray) -> None:
    folder = root / subject / condition / view
    folder.mkdir(parents=True)
    (folder / f"{view}.pkl").write_bytes(pickle.dumps(frames, protocol=4))


@pytest.fixture
def root(tmp_path):
    """Subjects 001 and 002; frame k of a sequence is filled with a value naming the sequence and k, so every
    image below can be checked by its value. 001 has nm-01 and cl-01 in views 000 and 090 (cl-01 / 090 missing);
    002 has nm-01 and cl-01 in 090."""
    for subject, condition, view, base in [
        ("001", "nm-01", "000", 10),
        ("001", "nm-01", "090", 20),
        ("001", "cl-01", "000", 30),
        ("002", "nm-01", "090", 60),
        ("002", "cl-01", "090", 80),
    ]:
        frames = np.stack([np.full((H, W), base + k, np.uint8) for k in range(5)])  # [s=5, h, w], middle: base + 2
        _write(tmp_path, subject, condition, view, frames)
    return tmp_path


def test_find_sequence_returns_the_frames_or_none(root):
    dataset = GaitDataset(root)
    frames = browse.find_sequence(dataset, "001", "nm-01", "090")
    assert frames.shape == (5, H, W) and frames.dtype == np.uint8 and frames[0, 0, 0] == 20
    assert browse.find_sequence(dataset, "001", "cl-01", "090") is None
    assert browse.find_sequence(dataset, "003", "nm-01", "000") is None


def test_views_and_conditions_of_a_subject(root):
    dataset = GaitDataset(root)
    assert browse.views_of(dataset, "001") == ["000", "090"]
    assert browse.views_of(dataset, "002") == ["090"]
    assert browse.conditions_of(dataset, "001", "000") == ["nm-01", "cl-01"]  # in CONDITIONS' order
    assert browse.conditions_of(dataset, "001", "090") == ["nm-01"]
    assert browse.conditions_of(dataset, "001", "000", candidates=("cl-01", "bg-01")) == ["cl-01"]


def test_middle_frames_lay_out_conditions_by_views_with_blanks(root):
    grid = browse.middle_frames(GaitDataset(root), "001", ["nm-01", "cl-01"], ["000", "090"])
    assert grid.shape == (2, 2, H, W) and grid.dtype == np.uint8
    assert grid[:, :, 0, 0].tolist() == [[12, 22], [32, 0]]  # the middle frame is base + 2; cl-01 / 090 is blank


def test_as_grid_needs_one_image():
    with pytest.raises(ValueError, match="images"):
        browse.as_grid({}, ["a"], ["b"])
    grid = browse.as_grid({("a", "y"): np.ones((H, W))}, ["a", "b"], ["x", "y"])
    assert grid[:, :, 0, 0].tolist() == [[0.0, 1.0], [0.0, 0.0]]


def test_energy_images_are_the_mean_over_frames_and_skip_missing(root):
    geis = browse.energy_images(GaitDataset(root), ["001", "002"], ["nm-01", "cl-01"], "090")
    assert set(geis) == {("001", "nm-01"), ("002", "nm-01"), ("002", "cl-01")}
    assert geis["002", "cl-01"].shape == (H, W)
    assert geis["002", "cl-01"][0, 0] == pytest.approx(82.0)  # mean of 80 … 84


def test_gei_gaps_by_kind_of_pair():
    geis = {  # constant images: the gap is |a - b| / 255
        ("001", "nm-01"): np.full((H, W), 0.0),
        ("001", "cl-01"): np.full((H, W), 51.0),
        ("002", "nm-01"): np.full((H, W), 102.0),
        ("002", "cl-01"): np.full((H, W), 102.0 + 25.5),
        ("003", "cl-01"): np.full((H, W), 255.0),  # no nm-01: in no pair
    }
    gaps = browse.gei_gaps(geis)
    assert gaps.index.name == "comparison"
    assert list(gaps.columns) == ["mean |ΔGEI|", "pairs", "relative to other subjects"]
    same, other = gaps.loc["same subject, nm-01 vs cl-01"], gaps.loc["other subject, nm-01 vs nm-01"]
    assert same["mean |ΔGEI|"] == pytest.approx((0.2 + 0.1) / 2) and same["pairs"] == 2
    assert other["mean |ΔGEI|"] == pytest.approx(0.4) and other["pairs"] == 1
    assert (same["relative to other subjects"], other["relative to other subjects"]) == ("38%", "100%")


def test_gei_gaps_of_one_subject_and_of_none():
    one = browse.gei_gaps({("001", "nm-01"): np.zeros((H, W)), ("001", "bg-01"): np.full((H, W), 255.0)})
    assert one.loc["same subject, nm-01 vs bg-01", "mean |ΔGEI|"] == pytest.approx(1.0)
    assert one.loc["same subject, nm-01 vs bg-01", "relative to other subjects"] == "–"
    with pytest.raises(ValueError, match="nm-01"):
        browse.gei_gaps({("001", "cl-01"): np.zeros((H, W))})


def test_split_table_and_unused_subjects(root):
    info = dataset_info(root, frames=False)
    info = pd.concat([info, info.iloc[:1].assign(subject="009")])  # a subject in neither set
    split = browse.split_table(info, Partition(train=("001",), test=("002", "003")))
    assert list(split.index) == ["train", "test"]
    assert list(split.columns) == ["subjects", "ids", "on disk", "sequences"]
    assert split.loc["train"].tolist() == [1, "001 … 001", 1, 3]
    assert split.loc["test"].tolist() == [2, "002 … 003", 1, 2]  # 003 is not on disk
    assert browse.unused_subjects(info, Partition(train=("001",), test=("002",))) == ["009"]


def test_describe_root_reads_the_twins_description(root):
    assert browse.describe_root(root) == f"`{root}` has no `syngait.json`: it is not the synthetic twin (real data?)."
    preset = {"name": "tiny", "subjects": 8, "views": ["000", "090"], "conditions": ["nm-01"] * 3, "frames": [6, 9]}
    (root / "syngait.json").write_text(json.dumps({"preset": preset, "seed": 4}))
    assert browse.describe_root(root) == (
        f"`{root}` is **synthetic**: SynGait preset `tiny` (seed 4), 8 subjects, 2 views, 3 sequences per subject "
        "and view, 6–9 frames per sequence."
    )
