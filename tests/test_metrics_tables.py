"""gil.metrics.tables: several runs side by side, on hand-built distance samples and centre geometries."""

import numpy as np
import pandas as pd
import pytest

from gil import metrics


def test_distance_overlap_of_positive_and_negative_pairs():
    samples = {
        "a": pd.DataFrame({"pair": ["positive"] * 3 + ["negative"] * 4, "distance": [0.1, 0.2, 0.9, 0.15, 0.5, 1, 2]}),
        "b": pd.DataFrame({"pair": ["positive", "negative"], "distance": [0.5, 1.0]}),
    }
    table = metrics.distance_overlap(samples)
    assert table.index.name == "run" and list(table.index) == ["a", "b"]
    assert list(table.columns) == ["median positive", "median negative", "share of negatives < median positive"]
    assert table.loc["a"].tolist() == pytest.approx([0.2, 0.75, 0.25])  # one negative (0.15) below 0.2
    assert table.loc["b"].tolist() == pytest.approx([0.5, 1.0, 0.0])


def test_centre_angle_summary_of_three_orthogonal_and_of_two_close_classes():
    square = np.eye(3)[:, None, :]  # three classes, one sequence each, [n, p=1, c=3]: every centre angle 90°
    close = np.array([[1.0, 0.0], [np.cos(0.1), np.sin(0.1)], [-1.0, 0.0]])[:, None, :]  # 5.7° and 174.3°, 180°
    table = metrics.centre_angle_summary(
        {"square": metrics.centre_geometry(square, [0, 1, 2]), "close": metrics.centre_geometry(close, [0, 1, 2])}
    )
    assert table.index.name == "run"
    assert list(table.columns) == ["mean pair angle (°)", "mean nearest angle (°)", "smallest nearest angle (°)"]
    assert table.loc["square"].tolist() == pytest.approx([90.0, 90.0, 90.0], abs=1e-4)
    small = np.degrees(0.1)
    assert table.loc["close", "smallest nearest angle (°)"] == pytest.approx(small, abs=1e-4)
    assert table.loc["close", "mean pair angle (°)"] == pytest.approx((small + 180 - small + 180) / 3, abs=1e-4)
    assert table.loc["close", "mean nearest angle (°)"] == pytest.approx((small + small + 180 - small) / 3, abs=1e-4)


def test_adaptive_margin_summary_counts_the_clipped_pairs():
    from gil.losses import GILConfig

    rule = GILConfig(m_min=0.1, m_max=0.3)
    frame = pd.DataFrame({"cosine": [-1.0, 0.0, 1.0, 0.5], "margin": [0.1, 0.2, 0.3, 0.25]})
    table = metrics.adaptive_margin_summary({"gil": frame}, rule)
    assert table.index.name == "run" and list(table.index) == ["gil"]
    row = table.loc["gil"]
    assert row["mean cosine"] == pytest.approx(0.125) and row["mean margin"] == pytest.approx(0.2125)
    assert row["share at m_max"] == 0.25 and row["share at m_min"] == 0.25
