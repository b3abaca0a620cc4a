"""Figures of training runs and their evaluation (notebooks 01–04, 06): training curves, rank-1 tables
(probe view × gallery view) per probe condition, and confidence intervals across seeds."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from gil.plots._style import CONDITION_ORDER, _style


def training_curves(metrics: Mapping[str, pd.DataFrame], columns: Sequence[str], titles: Sequence[str]) -> Figure:
    """One panel per column of ``metrics.csv`` (``step`` on x), one line per run."""
    _style()
    fig, axes = plt.subplots(1, len(columns), figsize=(4.2 * len(columns), 3.2), squeeze=False)
    for ax, column, title in zip(axes[0], columns, titles, strict=True):
        for name, frame in metrics.items():
            if column in frame:
                ax.plot(frame["step"], frame[column], label=name, lw=1.4)
        ax.set_xlabel("training step")
        ax.set_title(title)
    axes[0, 0].legend()
    fig.tight_layout()
    return fig


def _view_heatmaps(
    tables: Mapping[str, pd.DataFrame], title: str, vmin: float, vmax: float, cmap: str, label: str
) -> Figure:
    """Probe view × gallery view tables, one panel per probe condition, one shared colour bar."""
    _style()
    groups = [g for g in CONDITION_ORDER if g in tables] or list(tables)
    # two panels a row: 11 x 11 annotated cells stay legible at the book's column width (~9.5 in)
    ncols = min(len(groups), 2)
    nrows = -(-len(groups) // ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(4.4 * ncols + 0.9, 4.0 * nrows), squeeze=False, layout="constrained"
    )
    flat = list(axes.ravel())
    for ax in flat[len(groups) :]:
        ax.set_visible(False)
    for ax, group in zip(flat, groups, strict=False):
        sns.heatmap(
            tables[group],
            ax=ax,
            vmin=vmin,
            vmax=vmax,
            cmap=cmap,
            annot=True,
            fmt=".0f",
            annot_kws={"fontsize": 7.5},
            cbar=False,
            square=True,
        )
        ax.grid(False)
        ax.tick_params(axis="x", labelrotation=90, labelsize=8)
        ax.tick_params(axis="y", labelrotation=0, labelsize=8)
        ax.set_title(f"{group} probes")
        ax.set_xlabel("gallery view (°)")
        ax.set_ylabel("probe view (°)")
    fig.colorbar(flat[0].collections[0], ax=flat[: len(groups)], label=label, shrink=0.8)
    if title:
        fig.suptitle(title)
    return fig


LOSS_TERM_SUFFIXES = ("/loss", "/margin", "/softmax")  # metrics.csv columns of a loss's own terms (gil/loss …)
# the training page's panels of one run: title -> (columns, y label); "loss" is filled in by loss_columns
TRAINING_PANELS = {
    "loss": ((), "loss"),
    "learning rate": (("lr",), "lr"),
    "batch uniformity": (("geometry/uniformity",), "lower = more uniform"),
    "throughput": (("seq_per_s",), "sequences / s"),
}


def loss_columns(metrics: pd.DataFrame) -> list[str]:
    """``total`` and the columns of the losses' own terms (:data:`LOSS_TERM_SUFFIXES`) of a ``metrics.csv``."""
    return ["total"] + [c for c in metrics if c.endswith(LOSS_TERM_SUFFIXES)]


def diagnostic_columns(metrics: pd.DataFrame) -> list[str]:
    """The losses' own diagnostics of a ``metrics.csv`` (``triplet/active_fraction``, ``gil/mean_margin`` …): the
    ``term/name`` columns that are neither a loss term (:func:`loss_columns`) nor the batch geometry."""
    terms = set(loss_columns(metrics))
    return [c for c in metrics if "/" in c and c not in terms and not c.startswith("geometry/")]


def training_panels(metrics: pd.DataFrame, title: str = "") -> Figure:
    """One run's training (:data:`TRAINING_PANELS`): the total loss and its terms, the learning rate (log scale),
    the batch uniformity and the throughput, against the step."""
    panels = {name: list(columns) or loss_columns(metrics) for name, (columns, _) in TRAINING_PANELS.items()}
    ylabels = {name: label for name, (_, label) in TRAINING_PANELS.items()}
    return metric_panels(metrics, panels, ylabels=ylabels, logy=["learning rate"], title=title)


def diagnostic_panels(metrics: pd.DataFrame, title: str = "") -> Figure:
    """One panel per diagnostic of the losses (:func:`diagnostic_columns`), four a row; the total loss alone
    when the run logged none."""
    columns = diagnostic_columns(metrics) or ["total"]
    return metric_panels(metrics, {column: [column] for column in columns}, ncols=4, title=title)


def rank1_heatmaps(rank1: Mapping[str, pd.DataFrame], title: str = "") -> Figure:
    """Probe view × gallery view rank-1 (%) per probe condition; the excluded diagonal is blank."""
    return _view_heatmaps(rank1, title, vmin=0, vmax=100, cmap="viridis", label="rank-1 (%)")


def rank1_per_view(per_view: Mapping[str, pd.DataFrame]) -> Figure:
    """Rank-1 per probe view (mean over other gallery views), one panel per condition, a line per run."""
    _style()
    first = next(iter(per_view.values()))
    groups = [g for g in CONDITION_ORDER if g in first.columns] or list(first.columns)
    fig, axes = plt.subplots(1, len(groups), figsize=(3.1 * len(groups), 3.0), squeeze=False, sharey=True)
    for ax, group in zip(axes[0], groups, strict=True):
        for name, frame in per_view.items():
            ax.plot(frame.index.astype(str), frame[group], marker="o", ms=3.5, label=name)
        ax.set_title(f"{group} probes")
        ax.set_xlabel("probe view (°)")
        ax.tick_params(axis="x", rotation=60)
    axes[0, 0].set_ylabel("rank-1 (%)")
    axes[0, 0].legend()
    fig.tight_layout()
    return fig


def interval_plot(
    summary: pd.DataFrame,
    value: str = "mean",
    lo: str = "lo",
    hi: str = "hi",
    x: str = "condition",
    hue: str = "variant",
    xlabel: str = "rank-1 (%)",
) -> Figure:
    """Means with confidence intervals from a tidy table (one row per ``x`` × ``hue``): a panel per ``x``, a
    row per ``hue``, the axis zoomed to the data so that differences of a point are visible; the dashed line
    is the first ``hue`` (the baseline). Missing intervals (one seed) are drawn as the mean alone."""
    _style()
    panels = list(dict.fromkeys(summary[x]))
    rows = list(dict.fromkeys(summary[hue]))
    height = 0.42 * len(rows) + 1.4
    # narrow panels: the three conditions fit the book's column (~9.5 in) without shrinking the labels
    fig, axes = plt.subplots(1, len(panels), figsize=(2.6 * len(panels) + 2.0, height), sharey=True, squeeze=False)
    palette = sns.color_palette("colorblind", len(rows))
    ys = np.arange(len(rows))
    for ax, panel in zip(axes[0], panels, strict=True):
        table = summary[summary[x] == panel].set_index(hue).reindex(rows)
        err = np.nan_to_num(np.vstack([table[value] - table[lo], table[hi] - table[value]]))
        for j in range(len(rows)):
            ax.errorbar(table[value].iloc[j], ys[j], xerr=err[:, j : j + 1], fmt="o", capsize=3, color=palette[j])
        ax.axvline(table[value].iloc[0], color="0.5", lw=0.8, ls="--")
        ax.set_title(f"{panel} probes")
        ax.set_xlabel(xlabel)
    axes[0, 0].set_yticks(ys, rows)
    axes[0, 0].invert_yaxis()
    fig.tight_layout()
    return fig


def metric_panels(
    metrics: pd.DataFrame,
    panels: Mapping[str, Sequence[str]],
    ylabels: Mapping[str, str] | None = None,
    logy: Sequence[str] = (),
    ncols: int = 4,
    title: str = "",
) -> Figure:
    """One run's ``metrics.csv`` (``step`` on x): a panel per title, a line per listed column.

    Columns missing from ``metrics`` are skipped; a panel with none left says so. ``logy``: panel
    titles drawn on a log scale.
    """
    _style()
    ylabels = ylabels or {}
    nrows = -(-len(panels) // ncols)
    ncols = min(ncols, len(panels))
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.4 * ncols, 2.3 * nrows), squeeze=False)
    for ax, (name, columns) in zip(axes.flat, panels.items(), strict=False):
        present = [c for c in columns if c in metrics]
        for column in present:
            ax.plot(
                metrics["step"], metrics[column], lw=1.4, marker="o" if len(metrics) < 12 else None, ms=3, label=column
            )
        if not present:
            ax.text(0.5, 0.5, "not logged", ha="center", va="center", transform=ax.transAxes, color="0.4")
        if len(present) > 1:
            ax.legend(fontsize=7.5)
        if name in logy and present and (metrics[present].to_numpy() > 0).all():
            ax.set_yscale("log")
        ax.set_title(name)
        ax.set_xlabel("training step")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(ylabels.get(name, ""))
    for ax in axes.flat[len(panels) :]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def rank1_difference_heatmaps(difference: Mapping[str, pd.DataFrame], title: str = "") -> Figure:
    """Rank-1 differences (percentage points, probe view × gallery view) per probe condition, on a
    diverging scale symmetric around 0; the excluded diagonal is blank."""
    groups = [g for g in CONDITION_ORDER if g in difference] or list(difference)
    finite = np.concatenate([np.asarray(difference[g], dtype=float).ravel() for g in groups])
    finite = finite[np.isfinite(finite)]
    limit = max(1.0, float(np.abs(finite).max())) if len(finite) else 1.0
    return _view_heatmaps(difference, title, vmin=-limit, vmax=limit, cmap="RdBu_r", label="rank-1 difference (points)")


def gap_curves(gaps: Mapping[str, pd.DataFrame], title: str = "") -> Figure:
    """The paired rank-1 gap to the baseline against training steps: one panel per probe condition, one line per
    variant (``gaps[variant]`` from :func:`gil.experiments.curves.gap_by_step` of one backbone), its 95% interval
    shaded; zero dashed."""
    _style()
    frames = [frame for frame in gaps.values() if len(frame)]
    conditions = [c for c in CONDITION_ORDER if any(c in set(f["condition"]) for f in frames)]
    fig, axes = plt.subplots(1, max(1, len(conditions)), figsize=(4.0 * max(1, len(conditions)), 3.2), squeeze=False)
    for ax, condition in zip(axes[0], conditions, strict=False):
        for variant, frame in gaps.items():
            rows = frame[frame["condition"] == condition].sort_values("step")
            if rows.empty:
                continue
            line = ax.plot(rows["step"], rows["gap"], marker="o", ms=3, lw=1.4, label=variant)[0]
            ax.fill_between(rows["step"], rows["lo"], rows["hi"], color=line.get_color(), alpha=0.15, lw=0)
        ax.axhline(0.0, color="0.4", lw=1, ls="--")
        ax.set_xlabel("training step")
        ax.set_title(condition)
    axes[0, 0].set_ylabel("rank-1 gap to triplet (points)")
    axes[0, 0].legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
