"""gil.experiments.comparison: one run against the baseline in words, from hand-built tables."""

import pandas as pd
import pytest

from gil.experiments import comparison


def _table() -> pd.DataFrame:
    """compare_summaries' layout: the runs, then "<run> − <baseline>" rows; rank-1 and mAP columns."""
    rows = {
        "triplet": {"rank-1 NM": 80.0, "rank-1 BG": 70.0, "rank-1 CL": 40.0, "rank-1 mean": 63.3, "mAP mean": 50.0},
        "gil_margin": {"rank-1 NM": 82.0, "rank-1 BG": 69.5, "rank-1 CL": 43.0, "rank-1 mean": 64.8, "mAP mean": 51.0},
        "gil_softmax": {"rank-1 NM": 80.0, "rank-1 BG": 70.0, "rank-1 CL": 40.0, "rank-1 mean": 63.3, "mAP mean": 50.0},
    }
    table = pd.DataFrame.from_dict(rows, orient="index")
    for name in ("gil_margin", "gil_softmax"):
        table.loc[f"{name} − triplet"] = table.loc[name] - table.loc["triplet"]
    return table


def test_summary_verdict_states_the_mean_and_each_condition():
    assert comparison.summary_verdict(_table(), "gil_margin", "triplet") == (
        "**gil_margin** vs **triplet**: mean rank-1 higher by 1.5 points "
        "(NM +2.0, BG -0.5, CL +3.0 points; better on 2 of 3 conditions)."
    )


def test_summary_verdict_of_an_identical_run_and_of_a_lower_one():
    assert "mean rank-1 the same by 0.0 points" in comparison.summary_verdict(_table(), "gil_softmax", "triplet")
    table = _table()
    table.loc["gil_margin − triplet", "rank-1 mean"] = -0.25
    assert "mean rank-1 lower by 0.2 points" in comparison.summary_verdict(table, "gil_margin", "triplet")


def test_summary_verdict_names_a_missing_row():
    with pytest.raises(ValueError, match="gil_margin − gaitset"):
        comparison.summary_verdict(_table(), "gil_margin", "gaitset")


def test_view_gap_finds_the_views_of_the_largest_and_smallest_gap():
    views = ["000", "090", "180"]
    base = pd.DataFrame({"NM": [50.0, 80.0, 60.0], "CL": [30.0, 60.0, 40.0]}, index=views)
    other = pd.DataFrame({"NM": [54.0, 79.0, 60.0], "CL": [32.0, 58.0, 42.0]}, index=views)  # gaps +3, -1.5, +1
    assert comparison.view_gap({"triplet": base, "gil": other}, "gil", "triplet") == (
        "gil − triplet, mean over conditions: most in gil's favour at 000° (+3.0), least at 090° (-1.5); "
        "better on 2 of 3 views"
    )
