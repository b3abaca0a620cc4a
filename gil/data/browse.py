"""Looking at a data root (notebook 01): what it is; one sequence by subject, condition and view; the middle frames
of a subject and the gait energy images (GEIs) of several, laid out ``[rows, cols, h, w]`` for
:func:`gil.plots.image_grid`; how far apart GEIs are; the train/test split of what is on disk.

A sequence is uint8 ``[s, h, w]`` (:class:`~gil.data.opengait.GaitDataset`); a GEI is its mean over frames, float
``[h, w]`` in 0…255. Real CASIA-B misses a few sequences: a missing one is ``None`` here and a blank image in a grid.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from gil.data.opengait import GaitDataset
from gil.data.partitions import Partition

CONDITIONS = ("nm-01", "nm-02", "bg-01", "bg-02", "cl-01", "cl-02")  # two sequences of each condition, in page order
GEI_CONDITIONS = ("nm-01", "nm-02", "bg-01", "cl-01")  # two normal walks, a bag, a coat


def describe_root(root: str | Path) -> str:
    """What a data root is, in Markdown: the SynGait preset, seed and sizes its ``syngait.json`` records, or that it
    has none (then it is not the synthetic twin)."""
    meta_path = Path(root) / "syngait.json"
    if not meta_path.is_file():
        return f"`{root}` has no `syngait.json`: it is not the synthetic twin (real data?)."
    meta = json.loads(meta_path.read_text())
    preset = meta["preset"]
    return (
        f"`{root}` is **synthetic**: SynGait preset `{preset['name']}` (seed {meta['seed']}), "
        f"{preset['subjects']} subjects, {len(preset['views'])} views, {len(preset['conditions'])} sequences "
        f"per subject and view, {preset['frames'][0]}–{preset['frames'][1]} frames per sequence."
    )


def find_sequence(dataset: GaitDataset, subject: str, condition: str, view: str) -> np.ndarray | None:
    """The frames uint8 ``[s, h, w]`` of one sequence, or ``None`` where ``dataset`` has no such sequence."""
    key = (subject, condition, view)
    i = next((i for i, r in enumerate(dataset.records) if (r.subject, r.condition, r.view) == key), None)
    return None if i is None else dataset[i]


def views_of(dataset: GaitDataset, subject: str) -> list[str]:
    """The views (sorted) in which ``dataset`` has at least one sequence of ``subject``."""
    return sorted({r.view for r in dataset.records if r.subject == subject})


def conditions_of(dataset: GaitDataset, subject: str, view: str, candidates: Sequence[str] = CONDITIONS) -> list[str]:
    """The ``candidates`` (in their order) that ``dataset`` has for ``subject`` in ``view``."""
    present = {r.condition for r in dataset.records if r.subject == subject and r.view == view}
    return [c for c in candidates if c in present]


def as_grid(images: Mapping[tuple[Hashable, Hashable], np.ndarray], rows: Sequence, cols: Sequence) -> np.ndarray:
    """``images[(row, col)]`` ``[h, w]`` stacked to ``[len(rows), len(cols), h, w]``; a missing key is a blank
    (zeros) image of the first image's shape and dtype."""
    if not images:
        raise ValueError("images: nothing to lay out (every sequence of the grid is missing)")
    blank = np.zeros_like(next(iter(images.values())))
    return np.stack([[images.get((r, c), blank) for c in cols] for r in rows])


def middle_frames(dataset: GaitDataset, subject: str, conditions: Sequence[str], views: Sequence[str]) -> np.ndarray:
    """The middle frame of ``subject``'s sequence in every condition (rows) and view (columns): uint8
    ``[len(conditions), len(views), h, w]``, blank where the sequence is missing."""
    middle = {}
    for condition in conditions:
        for view in views:
            frames = find_sequence(dataset, subject, condition, view)  # [s, h, w] or None
            if frames is not None:
                middle[condition, view] = frames[len(frames) // 2]
    return as_grid(middle, conditions, views)


def energy_images(
    dataset: GaitDataset, subjects: Sequence[str], conditions: Sequence[str], view: str
) -> dict[tuple[str, str], np.ndarray]:
    """The GEI (mean silhouette, float ``[h, w]`` in 0…255) of every ``(subject, condition)`` in ``view`` that
    ``dataset`` has; missing sequences are left out."""
    geis = {}
    for subject in subjects:
        for condition in conditions:
            frames = find_sequence(dataset, subject, condition, view)  # [s, h, w] or None
            if frames is not None:
                geis[subject, condition] = frames.mean(axis=0)
    return geis


def _gap(geis: Mapping[tuple[str, str], np.ndarray], a: tuple[str, str], b: tuple[str, str]) -> float:
    """Mean absolute pixel difference of two GEIs ``[h, w]`` (0…255), on a 0…1 scale."""
    return float(np.abs(geis[a] - geis[b]).mean() / 255)


def gei_gaps(geis: Mapping[tuple[str, str], np.ndarray], reference: str = "nm-01") -> pd.DataFrame:
    """How far apart GEIs are: mean absolute pixel difference (0 identical, 1 opposite) of GEI pairs, by kind.

    ``geis``: ``(subject, condition) -> [h, w]`` in 0…255 (:func:`energy_images`). Two kinds of pairs: the same
    subject's ``reference`` and each other condition (``same subject, <reference> vs <condition>``), and two subjects'
    ``reference`` (``other subject, <reference> vs <reference>``). Rows: the kinds (index ``comparison``), columns
    ``mean |ΔGEI|``, ``pairs`` and ``relative to other subjects`` (the mean as a percentage of the other-subject
    mean; ``–`` without other-subject pairs).
    """
    subjects = sorted({s for s, _ in geis})
    conditions = list(dict.fromkeys(c for _, c in geis if c != reference))
    rows = []
    for s in subjects:
        if (s, reference) not in geis:
            continue
        for c in conditions:
            if (s, c) in geis:
                rows.append(
                    {"comparison": f"same subject, {reference} vs {c}", "gap": _gap(geis, (s, reference), (s, c))}
                )
        for t in subjects:
            if t > s and (t, reference) in geis:
                other = f"other subject, {reference} vs {reference}"
                rows.append({"comparison": other, "gap": _gap(geis, (s, reference), (t, reference))})
    if not rows:
        raise ValueError(f"geis: no pair of GEIs with a {reference!r} one to compare")
    gaps = pd.DataFrame(rows).groupby("comparison")["gap"].agg(["mean", "count"])
    between = f"other subject, {reference} vs {reference}"
    if between in gaps.index:
        gaps["relative to other subjects"] = (gaps["mean"] / gaps.loc[between, "mean"]).map("{:.0%}".format)
    else:
        gaps["relative to other subjects"] = "–"
    return gaps.rename(columns={"mean": "mean |ΔGEI|", "count": "pairs"})


def split_table(info: pd.DataFrame, partition: Partition) -> pd.DataFrame:
    """The train/test split against what is on disk: rows ``train``, ``test``; columns ``subjects`` (in the split),
    ``ids`` (first … last), ``on disk`` (of them, with sequences in ``info``), ``sequences`` (theirs in ``info``).

    ``info``: :func:`gil.data.opengait.dataset_info` (one row per sequence, column ``subject``).
    """
    on_disk = set(info["subject"])
    return pd.DataFrame(
        {
            name: {
                "subjects": len(ids),
                "ids": f"{ids[0]} … {ids[-1]}" if ids else "",
                "on disk": len(on_disk & set(ids)),
                "sequences": int(info["subject"].isin(ids).sum()),
            }
            for name, ids in (("train", partition.train), ("test", partition.test))
        }
    ).T


def unused_subjects(info: pd.DataFrame, partition: Partition) -> list[str]:
    """Subjects with sequences in ``info`` that are in neither set of ``partition`` (sorted)."""
    return sorted(set(info["subject"]) - set(partition.train) - set(partition.test))
