"""OpenGait's dataset layout ``ROOT/<subject>/<condition>/<view>/*.pkl`` (CASIA-B, OUMVLP, SynGait).

Indexing only lists paths (``os.scandir``); frames are read on ``__getitem__`` by the safe reader of
:mod:`gil.data.pkl` (re-exported here: :func:`safe_load_pkl`, :class:`PklReadError`).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from gil.data.pkl import PklReadError, safe_load_pkl

__all__ = [
    "GaitDataset",
    "PklReadError",
    "SequenceRecord",
    "dataset_info",
    "index_dataset",
    "safe_load_pkl",
    "summarize",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SequenceRecord:
    """One sequence: who, in which condition and view, and the pkl that holds its frames."""

    subject: str
    condition: str
    view: str
    path: Path


def _subdirs(path: str) -> list[os.DirEntry]:
    with os.scandir(path) as it:
        return sorted((e for e in it if e.is_dir() and not e.name.startswith(".")), key=lambda e: e.name)


def index_dataset(root: str | os.PathLike, subjects: list[str] | tuple[str, ...] | None = None) -> list[SequenceRecord]:
    """List every sequence under ``root`` (paths only), optionally only the given ``subjects``.

    Raises ``FileNotFoundError`` for a missing root or requested subject, ``ValueError`` naming the
    folder for an empty root, subject, condition, or a view folder without a pkl.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"data root {root} does not exist (expected ROOT/<subject>/<cond>/<view>/*.pkl)")
    subject_dirs = _subdirs(str(root))
    if not subject_dirs:
        raise ValueError(f"data root {root} has no subject folders (expected ROOT/<subject>/<cond>/<view>/*.pkl)")
    if subjects is not None:
        wanted = set(subjects)
        missing = wanted - {e.name for e in subject_dirs}
        if missing:
            raise FileNotFoundError(f"data root {root} lacks subjects {sorted(missing)[:10]} ({len(missing)} missing)")
        subject_dirs = [e for e in subject_dirs if e.name in wanted]
    records = []
    for sub in subject_dirs:
        conds = _subdirs(sub.path)
        if not conds:
            raise ValueError(f"subject folder {sub.path} has no condition folders")
        for cond in conds:
            views = _subdirs(cond.path)
            if not views:
                raise ValueError(f"condition folder {cond.path} has no view folders")
            for view in views:
                with os.scandir(view.path) as it:
                    pkls = sorted(e.name for e in it if e.is_file() and e.name.endswith(".pkl"))
                if not pkls:
                    raise ValueError(f"view folder {view.path} has no .pkl file")
                name = f"{view.name}.pkl" if f"{view.name}.pkl" in pkls else pkls[0]
                if len(pkls) > 1:
                    log.debug("%s holds %d pkls; using %s", view.path, len(pkls), name)
                records.append(SequenceRecord(sub.name, cond.name, view.name, Path(view.path) / name))
    return records


def to_uint8(frames: np.ndarray, path: object = "") -> np.ndarray:
    """Frames as uint8: floats in [0, 1] are scaled by 255, floats in [0, 255] are rounded."""
    if frames.dtype == np.uint8:
        return frames
    top = float(np.nanmax(frames))
    if not np.isfinite(frames).all() or frames.min() < 0 or top > 255:
        raise ValueError(f"{path}: float frames must be finite and in [0, 1] or [0, 255]")
    scale = 255.0 if top <= 1.0 else 1.0
    return np.rint(frames * scale).astype(np.uint8)


class GaitDataset:
    """Sequences of one data root. ``ds[i]`` -> uint8 ``[s, h, w]``; ``ds.labels[i]`` its subject index."""

    def __init__(self, root: str | os.PathLike, subjects: list[str] | tuple[str, ...] | None = None):
        self.root = Path(root)
        self.records = index_dataset(root, subjects)
        self.subjects = sorted({r.subject for r in self.records})
        position = {s: i for i, s in enumerate(self.subjects)}
        self.labels = [position[r.subject] for r in self.records]

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: int) -> np.ndarray:
        path = self.records[i].path
        return to_uint8(safe_load_pkl(path), path)

    def __repr__(self) -> str:
        return f"GaitDataset({str(self.root)!r}, {len(self.subjects)} subjects, {len(self)} sequences)"


def dataset_info(root: str | os.PathLike, frames: bool = True) -> pd.DataFrame:
    """One row per sequence: ``subject, condition, view, frames, height, width`` (counts via groupby).

    With ``frames=False`` only the layout is read (fast on OUMVLP); frame columns are then NA.
    """
    rows = []
    for r in index_dataset(root):
        s = h = w = pd.NA
        if frames:
            s, h, w = safe_load_pkl(r.path).shape
        rows.append(
            {
                "subject": r.subject,
                "condition": r.condition,
                "view": r.view,
                "frames": s,
                "height": h,
                "width": w,
            }
        )
    return pd.DataFrame(rows)


def summarize(info: pd.DataFrame) -> pd.DataFrame:
    """Per condition: subjects, views, sequences and frame statistics, from :func:`dataset_info`."""
    g = info.groupby("condition")
    out = pd.DataFrame({"subjects": g["subject"].nunique(), "views": g["view"].nunique(), "sequences": g.size()})
    if info["frames"].notna().all():
        stats = g["frames"].agg(["min", "mean", "max"]).astype(float).round(1)
        out = out.join(stats.add_prefix("frames_"))
    return out
