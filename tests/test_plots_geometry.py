"""Smoke tests for gil.plots.geometry, the embedding-geometry figures: they draw, label and return a Figure."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from gil import metrics, plots  # noqa: E402
from gil.losses import GILConfig  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_margin_and_centre_panels():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(24, 2, 4))
    labels = np.repeat(np.arange(6), 4)
    margins = {name: metrics.identity_margins(x * s, labels) for name, s in (("a", 1.0), ("b", 2.0))}
    fig = plots.margin_panels(margins)
    assert [ax.get_title() for ax in fig.axes] == ["per-identity margin", "one dot per identity"]
    geometry = metrics.centre_geometry(x, labels)
    fig = plots.centre_angle_panels({"a": geometry.pair_angles().ravel()}, {"a": geometry.nearest["mean"].to_numpy()})
    assert len(fig.axes) == 2
    pairs = {"a": metrics.centre_pair_margins(geometry.centres)}
    fig = plots.adaptive_margin_panels(pairs)
    assert len(fig.axes) == 3 and fig.axes[1].get_ylabel() == "adaptive margin"


def test_adaptive_margin_panels_draw_the_loss_rule():
    centres = np.eye(3)[:, None, :]  # [k=3, p=1, c=3], orthogonal centres: cosine 0
    fig = plots.adaptive_margin_panels({"a": metrics.centre_pair_margins(centres)}, GILConfig(m_max=0.25))
    cos, margin = fig.axes[1].get_lines()[0].get_data()
    np.testing.assert_allclose(margin, np.clip(0.2 * (1 + 0.5 * cos), 0.05, 0.25))
