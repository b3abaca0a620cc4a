"""The selection of GIL's default on validation identities (#17): cells, files, refusals, and the decision rule."""

from __future__ import annotations

import dataclasses
import json
import re

import numpy as np
import pandas as pd
import pytest

from gil import cli
from gil.experiments import selection


@pytest.fixture(scope="module")
def validation_root(tmp_path_factory):
    from gil.data.syngait import generate

    root = tmp_path_factory.mktemp("validation") / "tiny-val"
    generate("tiny", root, seed=selection.VALIDATION_SEED, workers=1, progress=False)
    return root


def test_cells_score_the_validation_twin_and_merge_in_place(tiny_cli_options, validation_root, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["select", *tiny_cli_options, "--out", str(out), "--validation-data", str(validation_root)]
    argv += ["--backbone", "gaitset", "--candidate", "triplet", "--candidate", "sphere", "--seed", "0"]
    assert cli.main(argv) == 0
    frame = pd.read_csv(out / "selection.csv")
    assert list(frame.columns) == selection.SELECTION_COLUMNS
    assert len(frame) == 6 and set(frame["candidate"]) == {"triplet", "sphere"}
    assert set(frame["condition"]) == {"NM", "BG", "CL"} and (frame["mean_norm"] > 0).all()
    meta = json.loads((out / "selection.json").read_text())
    assert meta["validation_data"]["seed"] == selection.VALIDATION_SEED
    assert [c["validation_identities"] for c in meta["cells"]] == [8, 8]  # every identity of the tiny twin
    assert all(c["eval_s"] > 0 for c in meta["cells"])  # the validation scoring is timed apart from the training
    assert "collapses" in capsys.readouterr().out  # the verdict is printed once triplet and a candidate are in

    assert len(list((tmp_path / "runs").glob("select-gaitset-*"))) == 2  # the study's run cache, one run per cell

    assert cli.main([*argv[:-4], "--candidate", "sphere", "--seed", "0"]) == 0  # rerun one cell: replaced, not added
    again = pd.read_csv(out / "selection.csv")
    assert len(again) == 6
    pd.testing.assert_frame_equal(again, frame)  # CPU runs repeat exactly (the cell reuses its run folder)

    # issue #30: a cell with another budget is refused before any training, naming the file and both settings
    before = {name: (out / name).read_bytes() for name in ("selection.csv", "selection.json")}
    runs = sorted((tmp_path / "runs").iterdir())
    capsys.readouterr()
    assert cli.main([*argv[:-4], "--candidate", "sphere", "--seed", "1", "--set", "trainer.steps=3"]) == 2
    message = (r"selection.json: its cells were made with other settings \(overrides: .*"
                       r"this call's \{.*'trainer.steps': 3")  # fmt: skip
    assert re.search(message, capsys.readouterr().err)
    assert {name: (out / name).read_bytes() for name in before} == before
    assert sorted((tmp_path / "runs").iterdir()) == runs


def test_the_validation_twin_must_be_other_people_of_the_same_preset(tiny_root, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"gil data generate --preset small --seed 1 --out"):
        selection.validation_subjects(tmp_path / "missing")
    overrides = {"data.root": str(tiny_root), "trainer.steps": 1, "trainer.device": "cpu"}
    with pytest.raises(ValueError, match="the same seed as the training data, hence the same identities"):
        selection.run_cell("gaitset", "triplet", 0, tiny_root, tmp_path / "runs", "embedded/tiny_triplet", overrides)
    other = tmp_path / "other"
    other.mkdir()
    meta = json.loads((tiny_root / "syngait.json").read_text())
    meta["preset"]["name"], meta["seed"] = "small", 1
    (other / "syngait.json").write_text(json.dumps(meta))
    (other / "001").mkdir()
    with pytest.raises(ValueError, match="preset small .* differs from the training data's tiny"):
        selection.run_cell("gaitset", "triplet", 0, other, tmp_path / "runs", "embedded/tiny_triplet", overrides)
    with pytest.raises(ValueError, match="unknown candidate 'best'; known: triplet, first"):
        selection.cell_config("gaitset", "best", 0)
    with pytest.raises(ValueError, match="unknown backbone 'gaitx'; the selection runs gaitset, .*, gaitbase"):
        selection.cell_config("gaitx", "first", 0)


def test_candidates_are_the_first_reconstruction_with_one_change_each():
    first = selection.CANDIDATES["first"].loss().terms["gil"]
    assert (first.form, first.pair_weight, first.margin, first.uniformity_weight) == (
        "margin", "official", "adaptive", 0.1
    )  # fmt: skip
    changes = {
        name: {k: v for k, v in dataclasses.asdict(loss_of.loss().terms["gil"]).items() if getattr(first, k) != v}
        for name, loss_of in selection.CANDIDATES.items()
        if name not in ("first", "triplet")
    }
    assert changes == {
        "lambda_0.01": {"uniformity_weight": 0.01},
        "norm_scaled": {"uniformity_scale": "norm"},
        "sphere": {"metric_space": "sphere"},
    }
    config = selection.cell_config("gaitpart", "sphere", 2)
    assert config.model.name == "gaitpart" and config.trainer.seed == 2
    assert config.loss.terms["gil"].metric_space == "sphere"


def _frame(cells):
    rows = []
    for backbone, candidate, seed, rank1, norm in cells:
        rows += [
            dict(backbone=backbone, candidate=candidate, seed=seed, condition=c, rank1=rank1, map=0.0, mean_norm=norm)
            for c in ("NM", "BG", "CL")
        ]
    return pd.DataFrame(rows)


def test_the_decision_rule_drops_collapsing_candidates_and_breaks_ties_towards_the_smallest_change():
    cells = []
    for seed, noise in enumerate((0.0, 1.0, -1.0)):
        for backbone in ("gaitset", "gaitgl"):
            cells += [
                (backbone, "triplet", seed, 50.0, 6.0),
                (backbone, "first", seed, 70.0, 0.1 if backbone == "gaitset" else 5.0),  # best, but collapses
                (backbone, "lambda_0.01", seed, 55.0 + noise, 6.0),  # within the seed spread of the best
                (backbone, "norm_scaled", seed, 56.0 - noise, 5.5),
                (backbone, "sphere", seed, 40.0, 1.9),  # ratio 3.16 > 3: collapses
            ]
    table = selection.verdict(_frame(cells))
    assert table["collapses"].to_dict() == {
        "first": True, "lambda_0.01": False, "norm_scaled": False, "sphere": True
    }  # fmt: skip
    assert table.loc["first", "worst_norm_ratio"] == pytest.approx(60.0)
    assert table["chosen"].tolist().count(True) == 1 and table.loc["lambda_0.01", "chosen"]  # tie -> smaller change
    assert table.loc["norm_scaled", "rank1"] == pytest.approx(56.0)

    clear = [c if c[1] != "norm_scaled" else (*c[:3], 60.0, 5.5) for c in cells]  # now far beyond the spread
    assert selection.verdict(_frame(clear))["chosen"].idxmax() == "norm_scaled"
    assert np.isclose(selection.verdict(_frame(clear)).loc["lambda_0.01", "gap_to_best"], -5.0)


def test_a_backbone_that_joined_after_the_decision_checks_the_default_and_never_changes_the_pick():
    decided = [
        (backbone, candidate, seed, rank1, 6.0)
        for seed in (0, 1, 2)
        for backbone in ("gaitset", "gaitgl")
        for candidate, rank1 in (("triplet", 50.0), ("lambda_0.01", 55.0), ("norm_scaled", 54.0))
    ]
    gaitbase = [
        ("gaitbase", "triplet", 0, 40.0, 6.0),
        ("gaitbase", "lambda_0.01", 0, 42.0, 5.0),
        ("gaitbase", "triplet", 1, 41.0, 9.0),
        ("gaitbase", "lambda_0.01", 1, 10.0, 2.0),  # ratio 4.5: collapses on seed 1
        ("gaitbase", "norm_scaled", 1, 90.0, 6.0),  # far better, but GaitBase does not take part in the rule
        ("gaitbase", "triplet", 2, 41.0, 9.0),  # no partner yet: not a row
    ]
    frame = _frame(decided + gaitbase)
    assert selection.verdict(frame).equals(selection.verdict(_frame(decided)))
    check = selection.default_check(frame, "gaitbase")
    assert check.index.tolist() == [0, 1]
    assert check["rank1_lambda_0.01"].tolist() == pytest.approx([42.0, 10.0])
    assert check["norm_ratio"].tolist() == pytest.approx([1.2, 4.5])
    assert check["collapses"].tolist() == [False, True]
    assert selection.default_check(frame, "gaitbase", "norm_scaled")["rank1_norm_scaled"].tolist() == [90.0]
    assert selection.default_check(_frame(decided), "gaitbase").empty
    with pytest.raises(ValueError, match="no default yet"):
        selection.default_check(_frame(gaitbase), "gaitbase")
    assert selection.cell_config("gaitbase", "triplet", 0).model.name == "gaitbase"


def test_the_rule_before_any_gil_cell_is_an_empty_table():
    table = selection.verdict(_frame([("gaitset", "triplet", 0, 50.0, 6.0)]))
    assert table.empty and not table["chosen"].any()


def test_a_candidate_that_collapsed_on_an_earlier_seed_is_not_trained_again(tmp_path):
    cells = [
        ("gaitset", "triplet", 0, 50.0, 6.0),
        ("gaitset", "first", 0, 20.0, 0.1),
        ("gaitset", "sphere", 0, 60.0, 5.0),
    ]
    _frame(cells).to_csv(tmp_path / "selection.csv", index=False)
    assert selection.collapsed_candidates(tmp_path, before_seed=1) == {"first"}
    assert selection.collapsed_candidates(tmp_path, before_seed=0) == set()  # only earlier seeds count
    assert selection.collapsed_candidates(tmp_path / "none", before_seed=1) == set()
    # run_selection asks before each cell: a collapsed candidate's later seeds are skipped without training
    (tmp_path / "val").mkdir()
    (tmp_path / "val" / "syngait.json").write_text('{"seed": 1}')  # read for the file's header, never trained on
    frame = selection.run_selection(tmp_path, ["gaitset"], ["first"], [1], validation_root=tmp_path / "val")
    assert set(frame["seed"]) == {0}
