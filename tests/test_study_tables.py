"""gil.experiments.study_tables: the study's tables and words as pages 06 and 07 show them, on hand-built summaries."""

import json
import math

import pandas as pd
import pytest

from gil.experiments import paper, study, study_tables

NAN = math.nan


def _row(backbone, variant, condition, mean, lo, hi, diff=NAN, diff_lo=NAN, diff_hi=NAN, seeds=3):
    return {"backbone": backbone, "variant": variant, "condition": condition, "seeds": seeds, "mean": mean, "lo": lo,
            "hi": hi, "diff_vs_baseline": diff, "diff_lo": diff_lo, "diff_hi": diff_hi}  # fmt: skip


def _summary() -> pd.DataFrame:
    """summarize()'s layout: gaitgl with triplet and gil_margin (helps on NM, cannot be told apart on BG, equivalent
    within ±2 on CL: its whole interval lies inside ±2 points),
    gaitset with triplet, gil_margin (hurts) and gil_softmax on one seed (no interval)."""
    rows = []
    for backbone in ("gaitgl", "gaitset"):  # gaitgl first: the tables put gaitset first all the same
        for condition in ("NM", "BG", "CL"):
            rows.append(_row(backbone, "triplet", condition, 70.0, 68.0, 72.0, 0.0, 0.0, 0.0))
    for condition, (diff, lo, hi) in {"NM": (2.0, 0.5, 3.5), "BG": (1.0, -1.0, 3.0), "CL": (0.0, -2.0, 2.0)}.items():
        rows.append(_row("gaitgl", "gil_margin", condition, 70.0 + diff, 69.0 + diff, 71.0 + diff, diff, lo, hi))
    for condition in ("NM", "BG", "CL"):
        rows.append(_row("gaitset", "gil_margin", condition, 60.0, 58.04, 61.96, -10.0, -12.0, -8.0))
        rows.append(_row("gaitset", "gil_softmax", condition, 71.0, NAN, NAN, 1.0, seeds=1))
    return pd.DataFrame(rows)


def test_rank1_table_shows_mean_and_interval_per_variant_and_condition():
    table = study_tables.rank1_table(_summary(), "gaitset")
    assert table.index.name == "gaitset" and table.columns.name is None
    assert list(table.index) == ["triplet", "gil_margin", "gil_softmax"]  # the summary's order
    assert list(table.columns) == ["NM", "BG", "CL", "seeds"]
    assert table.loc["gil_margin", "CL"] == "60.0 [58.0, 62.0]"
    assert table["seeds"].to_dict() == {"triplet": 3, "gil_margin": 3, "gil_softmax": 1}  # each row's own seeds
    assert table.loc["gil_softmax", "NM"] == "71.0 [nan, nan]"  # one seed: no interval
    named = study_tables.rank1_table(_summary()[lambda d: d["backbone"] == "gaitgl"], name="first study")
    assert named.index.name == "first study" and named.loc["gil_margin", "NM"] == "72.0 [71.0, 73.0]"


def test_verdict_table_holds_each_conditions_paired_verdict():
    table = study_tables.verdict_table(_summary(), "gaitgl")
    assert table.index.name == "gaitgl" and list(table.index) == ["triplet", "gil_margin"]
    assert table.loc["triplet", "NM"] == "baseline"
    assert table.loc["gil_margin", "NM"] == "better than the baseline: +2.0 points, 95% CI [+0.5, +3.5]"
    assert table.loc["gil_margin", "BG"].startswith("no detectable difference")
    assert table.loc["gil_margin", "CL"] == "equivalent within ±2 points: +0.0 points, 95% CI [-2.0, +2.0]"


def test_verdict_lines_one_per_backbone_in_the_pages_order():
    overall = study.overall_verdict(_summary())
    assert study_tables.verdict_lines(overall).splitlines() == [
        "- **gaitset**: gil_margin hurts on NM, BG, CL; gil_softmax too few seeds on NM, BG, CL",
        "- **gaitgl**: gil_margin helps on NM; cannot be told apart on BG; equivalent within ±2 on CL",
    ]
    assert study_tables.verdict_lines(overall, ["gaitgl"]).startswith("- **gaitgl**: gil_margin helps")
    assert study_tables.variant_lines(overall[overall["backbone"] == "gaitgl"]) == (
        "- **gil_margin** helps on NM; cannot be told apart on BG; equivalent within ±2 on CL"
    )


def test_backbones_in_the_pages_order_others_last():
    frame = pd.DataFrame({"backbone": ["mine", "gaitgl", "gaitset", "gaitgl"]})
    assert study_tables.backbones(frame) == ["gaitset", "gaitgl", "mine"]


def test_provenance_table_lists_how_the_cells_were_made():
    ablation = pd.DataFrame(
        {"backbone": ["gaitgl"] * 3, "variant": ["triplet", "triplet", "gil_margin"], "seed": [0, 1, 0]}
    )
    provenance = {
        "command": "gil study",
        "base_config": "embedded/small_triplet",
        "overrides": {},
        "machine": {"commit": "abcdef0123456789", "torch": "2.4", "torch_threads": 2, "cpu": "x86", "cores": 4},
        "cells": [
            {"variant": "triplet", "seed": 0, "reused": True},
            {"variant": "triplet", "seed": 1, "command": "gil study --seed 1", "commit": "1234567890ab"},
            {"variant": "gil_margin", "seed": 0},
        ],
    }
    table = study_tables.provenance_table(ablation, provenance)
    assert list(table.columns) == ["provenance"]
    facts = table["provenance"]
    assert facts["commands"] == "gil study; gil study --seed 1"
    assert facts["commits"] == "abcdef0123, 1234567890"
    assert facts["overrides"] == "none"
    assert facts["machine"] == "x86, 4 cores"
    assert facts["cells (backbone × variant × seed)"] == 3
    assert facts["cells reusing a selection run"] == 1
    assert facts["seeds per backbone and variant"] == {"gaitgl · triplet": 2, "gaitgl · gil_margin": 1}


def test_stage_table_adds_a_total(tmp_path):
    (tmp_path / "selection.json").write_text(json.dumps({"cells": [{"wall_s": 3600, "eval_s": 1800}]}))
    (tmp_path / "provenance.json").write_text(json.dumps({"cells": [{"wall_s": 1800}, {"wall_s": 1800}]}))
    table = study_tables.stage_table(tmp_path)
    assert table.index.name == "make study, recorded"
    assert list(table.index) == ["select", "study", "calibrate", "total"]  # calibrate: provenance.json's, no cells
    assert table.loc["calibrate"].tolist() == [0, 0.0]
    assert table.loc["total"].tolist() == [3, 2.5]
    assert table.loc["select", "hours"] == pytest.approx(1.5)


def test_load_shown_says_why_there_is_nothing(tmp_path):
    ablation, provenance, why = study_tables.load_shown(tmp_path)
    assert ablation is None and provenance is None and why.startswith("**No study results yet.**")
    (tmp_path / "ablation.csv").write_text(",".join(study.ABLATION_COLUMNS) + "\n")
    (tmp_path / "provenance.json").write_text(json.dumps({"cells": []}))
    ablation, provenance, why = study_tables.load_shown(tmp_path)
    assert ablation is None and provenance == {"cells": []} and why == f"**No study cells yet** in `{tmp_path}`."
    (tmp_path / "ablation.csv").write_text(",".join(study.ABLATION_COLUMNS) + "\ngaitgl,triplet,0,NM,70.0,50.0\n")
    ablation, _, why = study_tables.load_shown(tmp_path)
    assert why is None and ablation["rank1"].tolist() == [70.0]


def test_paper_rank1_table_names_the_methods_and_shows_the_half_width():
    table = study_tables.paper_rank1_table(_summary(), "gaitset")
    assert table.index.name == "gaitset"
    assert list(table.index) == ["baseline (triplet)", "+ GIL (L_m)", "+ GIL (L_s)"]  # METHODS' order
    assert table.loc["+ GIL (L_m)", "BG"] == "60.0 ± 2.0"
    assert table.loc["+ GIL (L_s)", "NM"] == "71.0 ± nan"
    assert list(study_tables.paper_rank1_table(_summary(), "gaitgl").index) == ["baseline (triplet)", "+ GIL (L_m)"]


def test_gains_table_sets_the_study_beside_the_published_gains():
    published = study_tables.gains_table(paper.published_gains())
    assert published.index.name == "GIL minus baseline" and list(published.columns) == ["NM", "BG", "CL", "all"]
    assert published.loc["paper · LT (74) · GaitGL + GIL (L_m)", "CL"] == "+6.2"  # 89.8 − 83.6
    assert published.loc["authors' branch · OU-MVLP · GaitGL + GiLoss", "all"] == "+0.6"
    assert published.loc["paper · LT (74) · GaitGL + GIL (L_m)", "all"] == ""  # no number: blank
    both = study_tables.gains_table(paper.published_gains(), _summary())
    ours = [row for row in both.index if row.startswith("this package")]
    assert ours == [  # gaitset before gaitgl; the triplet baseline is no gain
        "this package · twin · gaitset + GIL (L_m)",
        "this package · twin · gaitset + GIL (L_s)",
        "this package · twin · gaitgl + GIL (L_m)",
    ]
    assert both.loc["this package · twin · gaitgl + GIL (L_m)", "NM"] == "+2.0 [+0.5, +3.5]"
    assert both.loc["this package · twin · gaitset + GIL (L_s)", "CL"] == "+1.0 [+nan, +nan]"
    assert len(both) == len(published) + 3


def test_gain_verdicts_in_words_with_the_seeds():
    text = study_tables.gain_verdicts(_summary())
    lines, seeds = text.split("\n\n")
    assert lines.splitlines() == [
        "- **gaitset, + GIL (L_m)**: hurts on NM, BG, CL",
        "- **gaitset, + GIL (L_s)**: too few seeds on NM, BG, CL",
        "- **gaitgl, + GIL (L_m)**: helps on NM; cannot be told apart on BG; equivalent within ±2 on CL",
    ]
    assert seeds == (
        "Seeds: gaitgl · triplet 3, gaitset · triplet 3, gaitgl · gil_margin 3, gaitset · gil_margin 3, "
        "gaitset · gil_softmax 1."  # in the summary's order
    )


def test_detection_lines_set_the_papers_gains_against_what_the_study_detects():
    summary = _summary()
    summary["mde"] = [float("nan")] * len(summary)
    summary.loc[(summary["backbone"] == "gaitgl") & (summary["variant"] == "gil_margin"), "mde"] = [5.0, 3.0, 2.0]
    lines = study_tables.detection_lines(summary, paper.published_gains()).splitlines()
    assert lines == [
        "- **GIL (L_m), NM**: the paper's -1.0 is smaller than what this study detects reliably (±5.0); we see "
        "+2.0 [+0.5, +3.5]: helps",
        "- **GIL (L_m), BG**: the paper's +0.5 is smaller than what this study detects reliably (±3.0); we see "
        "+1.0 [-1.0, +3.0]: cannot be told apart",
        "- **GIL (L_m), CL**: the paper's +6.2 would have been detected here (detectable from ±2.0); we see "
        "+0.0 [-2.0, +2.0]: equivalent within ±2",
    ]  # the softmax form is not in this summary for gaitgl: no line
