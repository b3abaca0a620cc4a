"""Fingerprints name run folders and the committed study's cells: a refactor must not change them.

``fingerprints.json`` holds every bundled config's and calibration model's fingerprint (with ``data.root`` at a fixed
absolute path), computed before the loss terms became typed (issue #26); the committed study, selection and curve
files record each cell's fingerprint, computed on the ``small`` twin, whose ``syngait.json`` (all a generated root
counts by) is rebuilt here without rendering a frame. (The committed calibration cells were trained by older code,
whose fingerprints of the same configs differed; they are not checked against today's.)
"""

import json
from dataclasses import asdict
from pathlib import Path

import pytest

from gil import config as config_lib
from gil.data import syngait
from gil.experiments import calibration, curves, selection, study
from gil.experiments.project import checkout

HERE = Path(__file__).parent
RECORDED = json.loads((HERE / "fingerprints.json").read_text())
BUNDLED = RECORDED["bundled"]
FIXED_ROOT = {"data.root": "/fingerprint/data"}
STUDY = checkout() / "results" / "study"


@pytest.mark.parametrize("name", sorted(BUNDLED))
def test_bundled_configs_keep_their_fingerprints(name):
    assert config_lib.load(name, FIXED_ROOT).fingerprint() == BUNDLED[name]


def test_every_bundled_config_has_a_recorded_fingerprint():
    assert sorted(BUNDLED) == config_lib.bundled_configs()


@pytest.fixture(scope="module")
def small_root(tmp_path_factory):
    """A folder holding only the ``small`` twin's ``syngait.json`` (seed 0), as ``gil data generate`` writes it."""
    root = tmp_path_factory.mktemp("syngait-small")
    meta = {"preset": asdict(syngait.get_preset("small")), "seed": 0, "version": syngait.VERSION}
    (root / "syngait.json").write_text(json.dumps(meta, indent=2) + "\n")
    return {"data.root": str(root)}


def _cells(name, key="cells"):
    return json.loads((STUDY / name).read_text())[key]


def test_the_committed_study_cells_keep_their_fingerprints(small_root):
    cells = _cells("provenance.json")
    assert len(cells) >= 51
    for cell in cells:
        config = study.variant_config(cell["variant"], cell["seed"], overrides=small_root, backbone=cell["backbone"])
        assert config.fingerprint() == cell["fingerprint"], cell["run"]


@pytest.mark.parametrize("cell", sorted(RECORDED["calibration"]))
def test_the_calibration_models_keep_their_fingerprints(cell):
    model, seed = cell.split("/")
    assert (
        calibration.model_config(model, int(seed), overrides=FIXED_ROOT).fingerprint() == RECORDED["calibration"][cell]
    )


def test_the_committed_selection_cells_keep_their_fingerprints(small_root):
    cells = _cells("selection.json")
    assert len(cells) == 33  # 27 cells the rule decided on, 6 of GaitBase's check of the default
    for cell in cells:
        config = selection.cell_config(cell["backbone"], cell["candidate"], cell["seed"], overrides=small_root)
        assert config.fingerprint() == cell["fingerprint"], cell["run"]


def test_the_committed_learning_curves_keep_their_fingerprints(small_root):
    cells = _cells("curves.json")
    assert len(cells) == 9
    for cell in cells:
        config = curves.curve_config(cell["variant"], cell["seed"], overrides=small_root, backbone=cell["backbone"])
        assert config.fingerprint() == cell["fingerprint"], cell["run"]


def test_the_generated_partition_adds_nothing_and_an_edited_one_is_another_experiment(tiny_root, tmp_path):
    """Issue #30, case 5: the fingerprint covers the split's contents, yet keeps every existing name."""
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "syngait.json").write_text((tiny_root / "syngait.json").read_text())

    def fingerprint(root):
        return config_lib.load("embedded/tiny_triplet", {"data.root": str(root)}).fingerprint()

    without_split = fingerprint(copy)
    assert fingerprint(tiny_root) == without_split  # the file gil data generate wrote counts as nothing
    split = json.loads((tiny_root / "partition.json").read_text())
    (copy / "partition.json").write_text(json.dumps(split))  # the same sets, written another way
    assert fingerprint(copy) == without_split
    swapped = {"TRAIN_SET": split["TEST_SET"], "TEST_SET": split["TRAIN_SET"]}
    (copy / "partition.json").write_text(json.dumps(swapped))
    assert fingerprint(copy) != without_split
    path = tmp_path / "split.json"
    path.write_text(json.dumps(split))
    by_path = config_lib.load("embedded/tiny_triplet", {"data.root": str(copy), "data.partition": str(path)})
    before = by_path.fingerprint()
    path.write_text(json.dumps(swapped))
    assert by_path.fingerprint() != before  # a partition file given by path counts by its contents too
