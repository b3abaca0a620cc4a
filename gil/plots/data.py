"""Figures of the data (notebook 01): silhouettes or gait energy images ``[rows, cols, h, w]`` in a grid, and a
dataset's sequences per condition and view."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from gil.plots._style import _style


def image_grid(
    images: np.ndarray,
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    title: str | None = None,
    cell: float = 1.0,
) -> Figure:
    """Grey images ``[rows, cols, h, w]`` (silhouettes, gait energy images) in a tight grid.

    The figure follows the images' aspect ratio (``cell`` inches per image
    row), so there are no gaps between rows; a shared grey scale runs from 0 to the largest value.
    """
    rows, cols, h, w = images.shape
    left, top = 0.9, 0.3 + 0.35 * bool(title)  # inches for row labels, column labels and title
    width, height = cell * w / h, cell
    fig, axes = plt.subplots(
        rows, cols, figsize=(left + cols * width * 1.06 + 0.1, top + rows * height * 1.06 + 0.1), squeeze=False
    )
    vmax = float(images.max()) or 1.0
    for r in range(rows):
        for c in range(cols):
            ax = axes[r, c]
            ax.imshow(images[r, c], cmap="gray", vmin=0, vmax=vmax, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(col_labels[c], fontsize=9)
            if c == 0:
                ax.set_ylabel(row_labels[r], fontsize=9, rotation=0, ha="right", va="center")
    size = fig.get_size_inches()
    fig.subplots_adjust(left=left / size[0], right=1 - 0.1 / size[0], top=1 - top / size[1], bottom=0.1 / size[1])
    fig.subplots_adjust(wspace=0.06, hspace=0.06)
    if title:
        fig.suptitle(title, y=1 - 0.08 / size[1], va="top")
    return fig


def dataset_overview(info: pd.DataFrame) -> Figure:
    """Sequences per condition × view (heatmap) and the distribution of sequence lengths per condition type.

    ``info`` is :func:`gil.data.opengait.dataset_info` (columns ``subject, condition, view, frames``).
    """
    _style()
    fig, axes = plt.subplots(1, 2, figsize=(9.6, 3.7), gridspec_kw={"width_ratios": [1.35, 1]})
    counts = info.pivot_table(index="condition", columns="view", values="subject", aggfunc="count", fill_value=0)
    sns.heatmap(counts, ax=axes[0], annot=True, fmt="d", cmap="Blues", vmin=0, cbar=False, annot_kws={"fontsize": 8})
    axes[0].set_title("sequences per condition and view")
    axes[0].set_xlabel("view (°)")
    axes[0].set_ylabel("condition")
    axes[0].tick_params(axis="y", rotation=0)
    kind = info["condition"].str.split("-").str[0].str.upper()
    frames = pd.DataFrame({"frames": info["frames"].astype(float), "condition type": kind})
    sns.histplot(frames, x="frames", hue="condition type", multiple="stack", discrete=True, ax=axes[1])
    sns.move_legend(axes[1], "upper left", bbox_to_anchor=(1.0, 1.0), fontsize=9, title_fontsize=9)
    axes[1].set_title("frames per sequence")
    axes[1].set_xlabel("frames")
    axes[1].set_ylabel("sequences")
    fig.tight_layout()
    return fig
