"""Draw ``data/silhouettes.png``: one SynGait subject, views (columns) × nm / bg / cl (rows).

Run from the repository root: ``python data/make_silhouettes.py`` (renders in memory, seconds).
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from gil.data.syngait import PRESETS, example_frames  # noqa: E402

CONDITIONS = ("nm-01", "bg-01", "cl-01")


def main(out: Path | None = None, subjects: tuple[int, ...] = (0, 1)) -> None:
    out = out or Path(__file__).resolve().parent / "silhouettes.png"
    preset = PRESETS["small"]
    rows = [
        (s, c, f)
        for s in subjects
        for c, f in zip(CONDITIONS, example_frames(preset, subject=s, frame=4), strict=True)
    ]
    fig, axes = plt.subplots(len(rows), len(preset.views), figsize=(len(preset.views) * 0.9, len(rows) * 1.0))
    for r, (subject, cond, frames) in enumerate(rows):
        for v, view in enumerate(preset.views):
            ax = axes[r, v]
            ax.imshow(frames[v], cmap="gray", vmin=0, vmax=255)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(f"{view}°", fontsize=8)
            if v == 0:
                ax.set_ylabel(f"{subject + 1:03d}\n{cond}", fontsize=7)
    fig.suptitle("SynGait (synthetic): views × conditions, two subjects", fontsize=9)
    fig.tight_layout(pad=0.2)
    tmp = out.with_name(out.name + ".tmp.png")
    fig.savefig(tmp, dpi=110)
    os.replace(tmp, out)


if __name__ == "__main__":
    main()
