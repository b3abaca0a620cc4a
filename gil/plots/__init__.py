# ruff: noqa: E402 (the extra is checked before the figure modules import matplotlib)
"""Figures for the notebooks (matplotlib + seaborn). Each function takes data and returns a Figure.

Nothing here computes a result: protocols live in :mod:`gil.evaluate`, geometry and margins in :mod:`gil.metrics`,
the toy problem in :mod:`gil.experiments.toy`; where a figure draws GIL's margin rule as a curve it calls the
loss's own :func:`gil.losses.gil.margin_of_cosine`. :mod:`gil.plots.results` draws runs and their evaluation,
:mod:`gil.plots.geometry` the embedding geometry of runs, :mod:`gil.plots.anatomy` the loss-anatomy toy problem,
:mod:`gil.plots.data` the data."""

from gil.extras import require

require("matplotlib", "plots", "gil.plots")
require("seaborn", "plots", "gil.plots")

from gil.plots._style import CONDITION_ORDER
from gil.plots.anatomy import TOY_HISTORY_PANELS, margin_curves, pair_matrices, sphere_panels, toy_history_panels
from gil.plots.data import dataset_overview, image_grid
from gil.plots.geometry import (
    adaptive_margin_panels,
    centre_angle_panels,
    distance_histograms,
    embedding_maps,
    histograms,
    margin_panels,
)
from gil.plots.results import (
    TRAINING_PANELS,
    diagnostic_columns,
    diagnostic_panels,
    gap_curves,
    interval_plot,
    loss_columns,
    metric_panels,
    rank1_difference_heatmaps,
    rank1_heatmaps,
    rank1_per_view,
    training_curves,
    training_panels,
)

__all__ = [
    "CONDITION_ORDER",
    "sphere_panels",
    "pair_matrices",
    "margin_curves",
    "toy_history_panels",
    "image_grid",
    "dataset_overview",
    "TOY_HISTORY_PANELS",
    "training_curves",
    "rank1_heatmaps",
    "rank1_per_view",
    "histograms",
    "distance_histograms",
    "embedding_maps",
    "gap_curves",
    "interval_plot",
    "metric_panels",
    "margin_panels",
    "centre_angle_panels",
    "adaptive_margin_panels",
    "rank1_difference_heatmaps",
    "TRAINING_PANELS",
    "loss_columns",
    "diagnostic_columns",
    "training_panels",
    "diagnostic_panels",
]
