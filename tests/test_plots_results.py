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


def _run_metrics() -> pd.DataFrame:
    steps = np.arange(0, 50, 10)
    return pd.DataFrame(
        {"step": steps, "total": 1.0 / (steps + 1), "gil/loss": 0.5, "gil/margin": 0.4, "triplet/loss": 0.1,
         "lr": 1e-3, "geometry/uniformity": -1.0, "geometry/mean_norm": 3.0, "seq_per_s": 50.0,
         "gil/mean_margin": 0.25, "triplet/active_fraction": 0.5}
    )  # fmt: skip


def test_loss_and_diagnostic_columns_of_a_metrics_csv():
    metrics = _run_metrics()
    assert plots.loss_columns(metrics) == ["total", "gil/loss", "gil/margin", "triplet/loss"]
    assert plots.diagnostic_columns(metrics) == ["gil/mean_margin", "triplet/active_fraction"]  # not geometry/


def test_training_panels_draw_the_loss_terms_and_the_learning_rate_on_a_log_scale():
    fig = plots.training_panels(_run_metrics(), title="run: training")
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in axes] == list(plots.TRAINING_PANELS)
    assert [line.get_label() for line in axes[0].lines] == ["total", "gil/loss", "gil/margin", "triplet/loss"]
    assert axes[1].get_yscale() == "log" and axes[2].get_ylabel() == "lower = more uniform"
    assert fig._suptitle.get_text() == "run: training"
    plt.close(fig)


def test_diagnostic_panels_one_per_diagnostic_or_the_total():
    fig = plots.diagnostic_panels(_run_metrics())
    assert [ax.get_title() for ax in fig.axes if ax.get_visible()] == ["gil/mean_margin", "triplet/active_fraction"]
    plt.close(fig)
    fig = plots.diagnostic_panels(_run_metrics()[["step", "total", "lr"]])
    assert [ax.get_title() for ax in fig.axes if ax.get_visible()] == ["total"]
    plt.close(fig)
