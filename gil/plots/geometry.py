"""Figures of the embedding geometry of several runs (notebooks 04–05), drawn from :mod:`gil.metrics` tables:
pair-distance histograms, 2-D maps ``[n, 2]``, per-identity margins, class-centre angles, and GIL's adaptive
margins on class centres with the loss's rule drawn over all cosines."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch
from matplotlib.figure import Figure

from gil.losses.gil import GILConfig, margin_of_cosine
from gil.plots._style import _style


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


def adaptive_margin_panels(pairs: Mapping[str, pd.DataFrame], settings: GILConfig | None = None) -> Figure:
    """GIL's adaptive margins on class centres (:func:`gil.metrics.centre_pair_margins`) of several runs.

    Left: centre cosine histograms. Middle: the loss's margin rule ``clip(m0 (1 + κ cos), m_min, m_max)``
    (:func:`gil.losses.gil.margin_of_cosine`) over all cosines, the runs' centre pairs on it (they differ only
    in where their cosines fall) and the cosine range they span shaded. Right: histograms of the margins
    assigned (x range: the data). The rule is ``settings``' (default: :class:`gil.losses.gil.GILConfig()`).
    """
    _style()
    fig, axes = plt.subplots(1, 3, figsize=(9.8, 3.4))
    palette = sns.color_palette("colorblind", len(pairs))
    cos = torch.linspace(-1.0, 1.0, 201, dtype=torch.float64)  # [201] centre cosines
    settings = settings or GILConfig()
    rule = margin_of_cosine(cos, settings)  # [201]
    axes[1].plot(cos.numpy(), rule.numpy(), color="0.2", lw=1.2, label="margin rule")
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
    axes[1].set_title(f"margin rule, m0={settings.m0:g}, κ={settings.kappa:g}")
    axes[2].set_xlabel("adaptive margin")
    axes[2].set_title("margins assigned")
    for ax in axes:
        ax.legend(fontsize=8)
        ax.tick_params(axis="x", labelrotation=30)
    for ax in (axes[0], axes[2]):
        ax.set_ylabel("density")
    fig.tight_layout()
    return fig
