"""gil.experiments.study_records: the study page's other records as tables and words, on hand-built files."""

import json

import pandas as pd
import pytest

from gil.experiments import study_records


def test_first_study_note_gives_the_seeds_and_the_commits_in_order():
    summary = pd.DataFrame({"variant": ["triplet", "triplet", "gil"], "seeds": [5, 5, 4]})
    provenance = {"cells": [{"commit": "bbbbbbbbbbbbbb"}, {"commit": "aaaaaaaaaaaa"}, {"commit": "bbbbbbbbbbbbbb"}]}
    assert study_records.first_study_note(summary, provenance) == (
        "Seeds per variant: 5; commits bbbbbbbbbb, aaaaaaaaaa."
    )


def test_authors_pr_diagnosis_puts_the_studys_triplet_cell_beside_the_runs(tmp_path):
    assert study_records.authors_pr_diagnosis(tmp_path, pd.DataFrame()) is None  # no file
    runs = [
        {"terms": "triplet", "mean_norm_step100": 5.0, "triplet_active_fraction_step100": 0.3},
        {"terms": "triplet + CE", "rank1_NM": 70.0, "rank1_BG": 60.0, "rank1_CL": 30.0, "rank1_cosine_NM": 71.0,
         "mean_norm_step100": 4.0, "ce_accuracy_step250": 0.01},
    ]  # fmt: skip
    (tmp_path / study_records.DIAGNOSIS).write_text(json.dumps({"runs": runs}))
    ablation = pd.DataFrame(
        {"backbone": ["gaitgl"] * 4, "variant": ["triplet"] * 3 + ["gil_margin"], "seed": [0, 0, 0, 0],
         "condition": ["NM", "BG", "CL", "NM"], "rank1": [76.2, 66.0, 31.5, 99.0]}
    )  # fmt: skip
    table = study_records.authors_pr_diagnosis(tmp_path, ablation)
    assert table.index.name == "GaitGL, seed 0"
    assert list(table.columns) == ["triplet", "triplet + CE"]  # one column per run
    assert list(table.index) == ["rank1_NM", "rank1_BG", "rank1_CL", "rank1_cosine_NM", *study_records.DIAGNOSIS_ROWS]
    assert table.loc[["rank1_NM", "rank1_BG", "rank1_CL"], "triplet"].tolist() == [76.2, 66.0, 31.5]
    assert table.loc["ce_accuracy_step250", "triplet + CE"] == 0.01
    assert pd.isna(table.loc["triplet_mean_dist_step100", "triplet"])  # not logged: blank on the page


def _jsonl(path, rows) -> None:
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")


def test_gpu_tables_average_over_the_listed_seeds_with_todays_names(tmp_path):
    _jsonl(
        tmp_path / "gaitset_variants.jsonl",
        [
            {"backbone": "gaitset", "variant": "gil_margin", "seed": 0, "NM": 10.0, "BG": 8.0, "CL": 4.0},
            {"backbone": "gaitset", "variant": "gil_margin", "seed": 1, "NM": 20.0, "BG": 10.0, "CL": 6.0},
            {"backbone": "gaitset", "variant": "triplet", "seed": 0, "NM": 80.0, "BG": 70.0, "CL": 40.0},
        ],
    )
    variants = study_records.gpu_variant_table(tmp_path)
    assert list(variants.index) == [("gaitset", "gil_margin_first"), ("gaitset", "triplet")]  # renamed
    assert variants.loc[("gaitset", "gil_margin_first")].tolist() == [15.0, 9.0, 5.0, [0, 1]]
    _jsonl(
        tmp_path / "gaitset_uniformity.jsonl",
        [
            {"backbone": "gaitset", "uniformity_weight": 0.1, "seed": s, "NM": 10.0 + s, "BG": 8.0, "CL": 4.0,
             "mean_part_norm": 0.01, "last_active": 0.9}
            for s in (0, 2)
        ]
        + [{"backbone": "gaitpart", "uniformity_weight": 0.1, "seed": 0, "NM": 0.0, "BG": 0.0, "CL": 0.0,
            "mean_part_norm": 0.0, "last_active": 0.0}],
    )  # fmt: skip
    sweep = study_records.gpu_uniformity_table(tmp_path)
    assert sweep.index.name == "GaitSet + GIL margin, λ_u"
    assert sweep.loc[0.1, "NM"] == 11.0 and sweep.loc[0.1, "seeds"] == [0, 2]  # GaitSet only


def _selection() -> pd.DataFrame:
    rows = []
    for backbone in ("gaitset", "gaitgl"):
        for candidate, norm in (("triplet", 2.0), ("first", 0.1)):
            for seed in (0, 1):
                for condition, rank1 in (("NM", 80.0 + seed), ("BG", 70.0), ("CL", 60.0)):
                    rows.append({"backbone": backbone, "candidate": candidate, "seed": seed, "condition": condition,
                                 "rank1": rank1, "mean_norm": norm + seed})  # fmt: skip
    return pd.DataFrame(rows)


def test_selection_table_per_candidate_and_backbone():
    table = study_records.selection_table(_selection())
    assert list(table.index) == ["triplet", "first"]
    assert list(table.columns) == [(m, b) for m in ("seeds", "rank1", "mean_norm") for b in ("gaitset", "gaitgl")]
    assert table.loc["first", ("seeds", "gaitgl")] == 2
    assert table.loc["first", ("rank1", "gaitset")] == pytest.approx(
        (70.0 + 211.0 / 3) / 2
    )  # seed 0: 70, seed 1: 70.33…
    assert table.loc["triplet", ("mean_norm", "gaitgl")] == pytest.approx(2.5)


def test_selection_status_chooses_only_with_three_seeds():
    rule = pd.DataFrame({"chosen": [False, True]}, index=["first", "lambda_0.01"])
    selection = _selection()
    assert study_records.selection_status(selection, rule) == (
        "Seeds finished: [0, 1] — the rule's inputs so far; no default is chosen before three seeds."
    )
    three = pd.concat([selection, selection.assign(seed=2)])
    assert study_records.selection_status(three, rule) == "Seeds finished: [0, 1, 2] — chosen by the rule: lambda_0.01."


def test_the_default_check_in_words_says_whether_and_where_it_collapses():
    check = pd.DataFrame(
        {"rank1_triplet": [40.0, 44.0], "rank1_lambda_0.01": [42.0, 45.0], "norm_ratio": [1.2, 0.9],
         "collapses": [False, False]},
        index=pd.Index([0, 1], name="seed"),
    )  # fmt: skip
    words = study_records.default_check_words(check, "gaitbase", "lambda_0.01")
    assert "seeds [0, 1]" in words and "collapses on no seed" in words and "1.20" in words and "+1.5" in words
    check.loc[1, ["norm_ratio", "collapses"]] = [3.5, True]
    words = study_records.default_check_words(check, "gaitbase", "lambda_0.01")
    assert "**collapses** on seed(s) [1]" in words and "3.50" in words and "needs another λ_u" in words
    assert study_records.default_check_words(check.iloc[:0], "gaitbase", "lambda_0.01").startswith("No gaitbase")


def test_curve_tables_and_the_last_steps_words():
    learning = pd.DataFrame(
        {"backbone": "gaitgl", "variant": "triplet", "condition": "NM", "step": [100, 100, 200, 200],
         "seed": [0, 1, 0, 1], "rank1": [50.0, 60.0, 70.0, 72.0]}
    )  # fmt: skip
    levels = study_records.curve_levels(learning)
    assert levels.columns.name == "mean rank-1 at step" and list(levels.columns) == [100, 200]
    assert levels.loc[("gaitgl", "triplet", "NM")].tolist() == [55.0, 71.0]
    by_step = pd.DataFrame(
        {"backbone": "gaitgl", "variant": ["gil_margin", "gil_softmax", "gil_margin"], "step": [100, 100, 200],
         "verdict": ["helps on NM", "hurts on CL", "cannot be told apart on NM"]}
    )  # fmt: skip
    verdicts = study_records.curve_verdicts(by_step)
    assert list(verdicts.index) == [100, 200]
    assert verdicts.loc[100, ("gaitgl", "gil_softmax")] == "hurts on CL"
    assert pd.isna(verdicts.loc[200, ("gaitgl", "gil_softmax")])
    assert study_records.last_step_words(by_step, [0, 1]) == (
        "At the last scored step (200), seeds [0, 1]: **gaitgl · gil_margin** cannot be told apart on NM"
        " (against triplet, paired; helps / hurts only when the 95% interval excludes zero)."
    )
