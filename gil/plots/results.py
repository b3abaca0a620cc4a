"""Figures of training runs and their evaluation (notebooks 02–06)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

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


def histograms(
    samples: Mapping[str, np.ndarray], xlabel: str, title: str = "", bins: int = 40, ax: plt.Axes | None = None
) -> Figure:
    """Overlaid density histograms, one per named sample."""
    _style()
    fig = ax.figure if ax is not None else plt.figure(figsize=(5.2, 3.4))
    ax = ax or fig.add_subplot()
    edges = _shared_edges(samples.values(), bins)  # the same bins for every sample, so heights compare
    for name, values in samples.items():
        values = np.asarray(values, dtype=float)
        sns.histplot(
            values[np.isfinite(values)],
            bins=edges,
            stat="density",
            element="step",
            fill=True,
            alpha=0.3,
            label=name,
            ax=ax,
        )
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    return fig


def _shared_edges(samples: Iterable[np.ndarray], bins: int) -> np.ndarray:
    """Histogram bin edges spanning the finite values of all samples."""
    values = np.concatenate([np.asarray(v, dtype=float).ravel() for v in samples])
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return np.linspace(0.0, 1.0, bins + 1)
    lo, hi = float(values.min()), float(values.max())
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5, hi + 0.5
    return np.linspace(lo, hi, bins + 1)


def distance_histograms(samples: Mapping[str, pd.DataFrame]) -> Figure:
    """Positive vs negative pair distances (``gil.metrics.distance_samples``), a panel per run."""
    _style()
    fig, axes = plt.subplots(1, len(samples), figsize=(4.6 * len(samples), 3.2), squeeze=False, sharey=True)
    for ax, (name, frame) in zip(axes[0], samples.items(), strict=True):
        sns.histplot(frame, x="distance", hue="pair", stat="density", common_norm=False, element="step", bins=50, ax=ax)
        ax.set_title(name)
        ax.set_xlabel("distance (mean over parts)")
    fig.tight_layout()
    return fig


def embedding_maps(coords: Mapping[str, np.ndarray], labels: Sequence[str], title: str = "") -> Figure:
    """2-D projections ``[n, 2]`` side by side, coloured by identity."""
    _style()
    codes, uniques = pd.factorize(np.asarray(labels))
    palette = sns.color_palette("husl", len(uniques))
    fig, axes = plt.subplots(1, len(coords), figsize=(4.6 * len(coords), 4.3), squeeze=False)
    for ax, (name, xy) in zip(axes[0], coords.items(), strict=True):
        ax.scatter(xy[:, 0], xy[:, 1], c=[palette[c] for c in codes], s=5, alpha=0.8, linewidths=0)
        ax.set_title(name)
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title)
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


# --- results figures (02–05)
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


def _zero_line(ax: plt.Axes, x: float = 0.0, vertical: bool = True) -> None:
    (ax.axvline if vertical else ax.axhline)(x, color="0.3", lw=1.0, ls="--", zorder=0)


def margin_panels(margins: Mapping[str, pd.DataFrame], unit: str = "distance") -> Figure:
    """Per-identity margins (:func:`gil.metrics.identity_margins`) of several runs.

    Left: margin histograms, dashed line at 0 (right of it: the identity is separated). Right:
    farthest same-identity distance vs nearest other-identity distance, one dot per identity;
    above the diagonal is a positive margin.
    """
    _style()
    fig, (left, right) = plt.subplots(1, 2, figsize=(9.5, 3.7))
    palette = sns.color_palette("colorblind", len(margins))
    size = min(len(f) for f in margins.values())
    edges = _shared_edges([f["margin"].to_numpy(float) for f in margins.values()], min(30, max(5, size // 2)))
    for colour, (name, frame) in zip(palette, margins.items(), strict=True):
        values = frame["margin"].dropna().to_numpy(dtype=float)
        left.hist(values, bins=edges, histtype="stepfilled", alpha=0.35, color=colour, label=name, density=True)
        left.hist(values, bins=edges, histtype="step", color=colour, density=True)
        right.scatter(frame["farthest_same"], frame["nearest_other"], s=16, alpha=0.8, color=colour, label=name)
    _zero_line(left)
    left.set_xlabel(f"margin = nearest other − farthest same ({unit})")
    left.set_ylabel("density")
    left.set_title("per-identity margin")
    left.legend(fontsize=8)
    values = np.concatenate([f[["farthest_same", "nearest_other"]].to_numpy(float).ravel() for f in margins.values()])
    values = values[np.isfinite(values)]
    pad = 0.05 * max(float(np.ptp(values)), 1e-6)
    span = (float(values.min()) - pad, float(values.max()) + pad)
    right.plot(span, span, color="0.3", lw=1.0, ls="--", zorder=0, label="margin = 0")
    right.set_xlim(span)
    right.set_ylim(span)
    right.set_aspect("equal")
    right.set_xlabel(f"farthest same-identity ({unit})")
    right.set_ylabel(f"nearest other-identity ({unit})")
    right.set_title("one dot per identity")
    right.legend(fontsize=8)
    fig.tight_layout()
    return fig


def centre_angle_panels(pair_angles: Mapping[str, np.ndarray], nearest: Mapping[str, np.ndarray]) -> Figure:
    """Class-centre geometry of several runs: all pairwise centre angles (left) and each class's
    nearest-centre angle (right), as overlaid density histograms."""
    _style()
    fig, (left, right) = plt.subplots(1, 2, figsize=(9.5, 3.4))
    histograms(pair_angles, "angle between two class centres (°)", "all centre pairs (all parts)", ax=left)
    histograms(
        nearest,
        "angle to the nearest other centre (°)",
        "nearest centre (mean over parts)",
        bins=min(40, max(5, min(len(v) for v in nearest.values()) // 2)),
        ax=right,
    )
    fig.tight_layout()
    return fig


def adaptive_margin_panels(
    pairs: Mapping[str, pd.DataFrame], m0: float = 0.2, kappa: float = 0.5, m_min: float = 0.05, m_max: float = 0.5
) -> Figure:
    """GIL's adaptive margins on class centres (:func:`gil.metrics.centre_pair_margins`) of several runs.

    Left: centre cosine histograms. Middle: the margin rule ``clip(m0 (1 + κ cos), m_min, m_max)`` over
    all cosines, the runs' centre pairs on it (they differ only in where their cosines fall) and the
    cosine range they span shaded. Right: histograms of the margins assigned (x range: the data).
    """
    _style()
    fig, axes = plt.subplots(1, 3, figsize=(9.8, 3.4))
    palette = sns.color_palette("colorblind", len(pairs))
    cos = np.linspace(-1.0, 1.0, 201)
    axes[1].plot(cos, np.clip(m0 * (1 + kappa * cos), m_min, m_max), color="0.2", lw=1.2, label="margin rule")
    cos_edges = _shared_edges([f["cosine"].to_numpy(float) for f in pairs.values()], 40)
    margin_edges = _shared_edges([f["margin"].to_numpy(float) for f in pairs.values()], 40)
    axes[1].axvspan(cos_edges[0], cos_edges[-1], color="0.85", zorder=0, label="runs' range")
    rng = np.random.default_rng(0)
    for colour, (name, frame) in zip(palette, pairs.items(), strict=True):
        style = {"density": True, "histtype": "stepfilled", "alpha": 0.35, "color": colour, "label": name}
        axes[0].hist(frame["cosine"], bins=cos_edges, **style)
        shown = frame.iloc[rng.permutation(len(frame))[:2000]]
        axes[1].scatter(shown["cosine"], shown["margin"], s=8, alpha=0.5, color=colour, label=name)
        axes[2].hist(frame["margin"], bins=margin_edges, **style)
    axes[0].set_xlabel("cosine of two class centres")
    axes[0].set_title("centre cosines (all parts)")
    axes[1].set_xlabel("cosine of two class centres")
    axes[1].set_ylabel("adaptive margin")
    axes[1].set_title(f"margin rule, m0={m0:g}, κ={kappa:g}")
    axes[2].set_xlabel("adaptive margin")
    axes[2].set_title("margins assigned")
    for ax in axes:
        ax.legend(fontsize=8)
        ax.tick_params(axis="x", labelrotation=30)
    for ax in (axes[0], axes[2]):
        ax.set_ylabel("density")
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
