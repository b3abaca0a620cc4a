"""Smoke tests for gil.plots.results, the figures of runs and their evaluation: they draw, label and return a Figure."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from gil import plots  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_metric_panels_skips_missing_columns():
    frame = pd.DataFrame({"step": [1, 2, 3], "total": [1.0, 0.8, 0.5], "lr": [1e-3, 1e-3, 1e-4]})
    fig = plots.metric_panels(
        frame, {"loss": ["total", "gil/loss"], "lr": ["lr"], "speed": ["seq_per_s"]}, logy=["lr"], ncols=2
    )
    assert isinstance(fig, Figure)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == ["loss", "lr", "speed"]
    assert visible[1].get_yscale() == "log"
    assert any(t.get_text() == "not logged" for t in visible[2].texts)


def test_rank1_heatmaps_and_differences():
    views = ["000", "090", "180"]
    table = pd.DataFrame([[np.nan, 50.0, 25.0], [75.0, np.nan, 0.0], [100.0, 50.0, np.nan]], index=views, columns=views)
    fig = plots.rank1_heatmaps({"NM": table, "CL": table})
    assert [ax.get_title() for ax in fig.axes[:2]] == ["NM probes", "CL probes"]
    fig = plots.rank1_difference_heatmaps({"NM": table - 50.0})
    mesh = fig.axes[0].collections[0]
    assert mesh.norm.vmin == -50.0 and mesh.norm.vmax == 50.0


def test_interval_plot_zooms_to_the_data_and_lists_every_variant():
    rows = []
    for condition, base in (("NM", 76.0), ("CL", 55.0)):
        for j, variant in enumerate(("triplet", "gil_margin", "gil_softmax")):
            mean = base + j
            lo, hi = (np.nan, np.nan) if variant == "gil_softmax" else (mean - 1, mean + 1)  # one seed: no interval
            rows.append({"condition": condition, "variant": variant, "mean": mean, "lo": lo, "hi": hi})
    fig = plots.interval_plot(pd.DataFrame(rows))
    assert [ax.get_title() for ax in fig.axes] == ["NM probes", "CL probes"]
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["triplet", "gil_margin", "gil_softmax"]
    left, right = fig.axes[1].get_xlim()
    assert 50 < left < 54 and 57 <= right < 62  # zoomed to the data, not from zero


def test_gap_curves_draw_one_line_and_band_per_variant_and_the_zero_line():
    gap = pd.DataFrame(
        [
            dict(backbone="gaitgl", condition=c, step=s, seeds=3, gap=g, lo=g - 1, hi=g + 1)
            for c in ("NM", "CL")
            for s, g in ((100, 1.0), (200, -0.5))
        ]
    )
    fig = plots.gap_curves({"gil_margin": gap, "gil_softmax": gap.assign(gap=gap["gap"] + 2)}, title="GaitGL")
    assert isinstance(fig, Figure)
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in axes] == ["NM", "CL"]
    lines = axes[0].get_lines()
    assert len(lines) == 3 and list(lines[0].get_ydata()) == [1.0, -0.5]  # two variants and the zero line
    assert [t.get_text() for t in axes[0].get_legend().get_texts()] == ["gil_margin", "gil_softmax"]
