"""Figures of the loss-anatomy toy problem (:mod:`gil.experiments.toy`, notebook 00): points ``[n, 3]`` on the
sphere, pair matrices ``[n, n]``, the adaptive margin rule and the toy's training curves."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch
from matplotlib.figure import Figure

from gil.losses.gil import GILConfig, margin_of_cosine
from gil.plots._style import _style


def _class_palette(num: int) -> list:
    return sns.color_palette("tab10" if num <= 10 else "husl", num)


def _view_direction(ax: plt.Axes) -> np.ndarray:
    """Unit vector from the sphere's centre towards the camera of a 3-D axis."""
    elev, azim = np.radians(ax.elev), np.radians(ax.azim)
    return np.array([np.cos(elev) * np.cos(azim), np.cos(elev) * np.sin(azim), np.sin(elev)])


def _sphere_3d(ax: plt.Axes, points: np.ndarray, labels: np.ndarray, title: str) -> None:
    """Points on a wire-frame sphere; those on the far side are drawn faint and hollow."""
    u, v = np.mgrid[0 : 2 * np.pi : 25j, 0 : np.pi : 13j]
    ax.plot_wireframe(np.cos(u) * np.sin(v), np.sin(u) * np.sin(v), np.cos(v), color="0.85", lw=0.4)
    palette = _class_palette(int(labels.max()) + 1)
    colours = np.array([palette[c] for c in labels])
    front = points @ _view_direction(ax) >= 0
    ax.scatter(*points[~front].T, facecolors="none", edgecolors=colours[~front], s=12, alpha=0.35, depthshade=False)
    ax.scatter(*points[front].T, c=colours[front], s=16, edgecolors="k", linewidths=0.3, depthshade=False)
    ax.set_box_aspect((1, 1, 1))
    ax.set_axis_off()
    ax.set_title(title, fontsize=10)


def _lon_lat(xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors ``[..., 3]`` -> longitude, latitude in radians (for a Mollweide axis)."""
    return np.arctan2(xyz[..., 1], xyz[..., 0]), np.arcsin(np.clip(xyz[..., 2], -1, 1))


def _sphere_map(ax: plt.Axes, points: np.ndarray, labels: np.ndarray, path: np.ndarray | None) -> None:
    """The whole sphere on a Mollweide map; ``path [T, C, 3]`` draws each class centre's track."""
    palette = _class_palette(int(labels.max()) + 1)
    lon, lat = _lon_lat(points)
    ax.scatter(lon, lat, c=[palette[c] for c in labels], s=10, edgecolors="k", linewidths=0.25, zorder=3)
    if path is not None:
        for c in range(path.shape[1]):
            plon, plat = _lon_lat(path[:, c])
            jump = np.abs(np.diff(plon)) > np.pi  # break the line where it wraps round ±180°
            cut = np.flatnonzero(jump) + 1
            plon, plat = np.insert(plon, cut, np.nan), np.insert(plat, cut, np.nan)
            ax.plot(plon, plat, color=palette[c], lw=1.2, alpha=0.9, zorder=2)
            ax.plot(plon[-1:], plat[-1:], marker="*", ms=9, color=palette[c], mec="k", mew=0.5, zorder=4)
    ax.set_xticklabels([])
    ax.set_yticklabels([])
    ax.grid(True, color="0.85", lw=0.5)


def sphere_panels(
    panels: Mapping[str, np.ndarray],
    labels: Sequence[int] | np.ndarray,
    paths: Mapping[str, np.ndarray] | None = None,
    views: Sequence[str] = ("3d", "map"),
    title: str = "",
) -> Figure:
    """Point sets ``[n, 3]`` on the unit sphere side by side, one column per named set.

    ``views``: rows to draw, ``"3d"`` (a wire-frame sphere, far-side points faint and hollow) and/or
    ``"map"`` (the whole sphere on a Mollweide map, so nothing hides behind it). ``paths`` (optional,
    per column name) are class-centre tracks ``[T, C, 3]`` drawn on the map, ending in a star.
    A legend below names the classes.
    """
    _style()
    labels = np.asarray(labels)
    bad = [v for v in views if v not in ("3d", "map")]
    if bad:
        raise ValueError(f"views: expected '3d' and/or 'map', got {bad}")
    cols = len(panels)
    heights = [3.0 if view == "3d" else 1.9 for view in views]
    fig = plt.figure(figsize=(3.4 * cols, sum(heights) + 0.9 + 0.3 * bool(title)))
    grid = fig.add_gridspec(len(views), cols, height_ratios=heights, hspace=0.08, wspace=0.05)
    for row, view in enumerate(views):
        for col, (name, points) in enumerate(panels.items()):
            if view == "3d":
                ax = fig.add_subplot(grid[row, col], projection="3d")
                ax.view_init(elev=20, azim=35)
                _sphere_3d(ax, np.asarray(points), labels, name)
                ax.set_box_aspect((1, 1, 1), zoom=1.3)
            else:
                ax = fig.add_subplot(grid[row, col], projection="mollweide")
                _sphere_map(ax, np.asarray(points), labels, (paths or {}).get(name))
                if row == 0:
                    ax.set_title(name, fontsize=10)
    palette = _class_palette(int(labels.max()) + 1)
    handles = [
        plt.Line2D([], [], ls="", marker="o", color=palette[c], mec="k", mew=0.3, label=f"class {c}")
        for c in np.unique(labels)
    ]
    fig.legend(handles=handles, loc="lower center", ncols=min(len(handles), 10), fontsize=9, frameon=False)
    if title:
        fig.suptitle(title)
    height = fig.get_figheight()
    fig.subplots_adjust(left=0.01, right=0.99, top=1 - (0.65 if title else 0.35) / height, bottom=0.5 / height)
    return fig


def _class_blocks(ax: plt.Axes, labels: np.ndarray) -> None:
    """Lines between the class blocks of a class-sorted matrix and the class names at block centres."""
    classes, starts, counts = np.unique(labels, return_index=True, return_counts=True)
    for edge in starts[1:]:
        ax.axhline(edge, color="w", lw=0.8)
        ax.axvline(edge, color="w", lw=0.8)
    centres = starts + counts / 2
    ax.set_xticks(centres, [str(c) for c in classes], rotation=0)
    ax.set_yticks(centres, [str(c) for c in classes], rotation=0)
    ax.tick_params(length=0)


def pair_matrices(cos: np.ndarray, weights: np.ndarray, labels: Sequence[int] | np.ndarray, title: str = "") -> Figure:
    """Cosine ``s_ij`` beside GIL's pair weight ``w_ij`` (both ``[n, n]``, rows sorted by ``labels``)."""
    _style()
    labels = np.sort(np.asarray(labels))
    fig, axes = plt.subplots(1, 2, figsize=(9.4, 4.2))
    panels = (
        (cos, "cosine $s_{ij}$", "vlag_r", -1.0, 1.0),
        (weights, "pair weight $w_{ij}$", "magma", 1.0, 2.0),
    )
    for ax, (values, name, cmap, lo, hi) in zip(axes, panels, strict=True):
        sns.heatmap(values, ax=ax, cmap=cmap, vmin=lo, vmax=hi, square=True, cbar_kws={"label": name, "shrink": 0.8})
        _class_blocks(ax, labels)
        ax.set_xlabel("class of $j$")
        ax.set_ylabel("class of $i$")
        ax.set_title(name)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def margin_curves(tables: Mapping[str, pd.DataFrame], settings: GILConfig | None = None) -> Figure:
    """Adaptive margin ``m(a, b)`` against centre cosine for every class pair, one panel per named table.

    Tables are :func:`gil.experiments.toy.margin_table`; the line is the loss's rule
    (:func:`gil.losses.gil.margin_of_cosine`) over all cosines, crowded pairs are red and labelled.
    The rule is ``settings``' (default: :class:`gil.losses.gil.GILConfig()`).
    """
    _style()
    settings = settings or GILConfig()
    fig, axes = plt.subplots(1, len(tables), figsize=(4.8 * len(tables), 3.8), squeeze=False, sharey=True)
    s = torch.linspace(-1, 1, 201, dtype=torch.float64)  # [201] centre cosines
    rule = margin_of_cosine(s, settings)  # [201]
    for ax, (name, table) in zip(axes[0], tables.items(), strict=True):
        ax.plot(s.numpy(), rule.numpy(), color="0.5", lw=1, label="$m(a,b)$ formula")
        ax.axhline(settings.m0, color="0.5", ls=":", lw=1, label=f"fixed margin $m_0$ = {settings.m0:g}")
        other = table[~table["crowded"]]
        crowded = table[table["crowded"]]
        ax.scatter(other["centre_cos"], other["margin"], s=22, color="tab:blue", label="other class pairs", zorder=3)
        ax.scatter(crowded["centre_cos"], crowded["margin"], s=40, color="tab:red", label="crowded pairs", zorder=4)
        for i, row in enumerate(crowded.itertuples()):  # stacked labels: crowded pairs often overlap
            ax.annotate(
                row.pair,
                (row.centre_cos, row.margin),
                xytext=(-18, 6 + 12 * i),
                textcoords="offset points",
                ha="right",
                fontsize=8,
                color="tab:red",
                arrowprops={"arrowstyle": "-", "color": "tab:red", "lw": 0.6},
            )
        ax.set_xlim(-1.05, 1.05)
        ax.set_xticks([-1, -0.5, 0, 0.5, 1])
        lo, hi = ax.get_ylim()
        ax.set_ylim(lo, hi + 0.15 * (hi - lo))  # room for the stacked labels above the points
        ax.set_xlabel(r"centre cosine $\mu_a^\top \mu_b$")
        ax.set_title(name)
    axes[0, 0].set_ylabel("margin $m(a, b)$")
    axes[0, 0].legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig


TOY_HISTORY_PANELS = (
    ("uniformity", "sample uniformity (lower: more even)"),
    ("centre_uniformity", "centre uniformity $L_u$ (lower: more even)"),
    ("nearest_centre_angle", "smallest centre–centre angle (°)"),
)


def toy_history_panels(frame: pd.DataFrame, panels: Sequence[tuple[str, str]] = TOY_HISTORY_PANELS) -> Figure:
    """Toy training curves, one panel per ``(column, title)``, a line per ``loss_name``
    (:func:`gil.experiments.toy.history`)."""
    _style()
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.0), squeeze=False)
    for ax, (column, title) in zip(axes[0], panels, strict=True):
        for name, group in frame.groupby("loss_name", sort=False):
            ax.plot(group["step"], group[column], lw=1.6, label=name)
        ax.set_xlabel("training step")
        ax.set_title(title, fontsize=10)
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    return fig
