"""The outcome of an evaluation protocol (:func:`~gil.evaluate.protocols.casia_b`,
:func:`~gil.evaluate.protocols.oumvlp`, :func:`~gil.evaluate.retrieval.cross_view_gallery`,
:func:`~gil.evaluate.retrieval.probe_gallery`) and its JSON form, the content of a
run's ``eval.json``."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class ProtocolResult:
    """Outcome of a protocol; all accuracies in percent.

    ``summary``: mean rank-1 per probe group (``{"NM", "BG", "CL"}`` or ``{"all"}``).
    ``rank1[group]``: probe view × gallery view table, NaN on the diagonal (identical view excluded)
    and where a cell has no probe (single-view-gallery protocols only; empty otherwise).
    ``rank1_per_view``: probe view × group, mean over gallery views other than the probe's (single-view
    gallery) or over the probes of the view (cross-view gallery); empty for
    :func:`~gil.evaluate.retrieval.probe_gallery`.
    ``map_summary``, ``mean_ap``, ``map_per_view``: the same for mAP. ``cmc_summary[k][group]``: rank-k
    for k = 1, 5, 10; ``minp_summary[group]``: mINP. mAP, CMC and mINP are empty when
    ``compute_map=False``. ``num_probes[group]``, ``num_gallery``: sequence counts; ``num_dropped[group]``:
    probe × gallery-view pairs left out by ``drop_probes_without_gallery`` (OUMVLP), or probes whose
    identity is absent from the gallery (:func:`~gil.evaluate.retrieval.probe_gallery`, which leaves them out as
    OpenGait does).
    """

    protocol: str
    metric: str
    drop_probes_without_gallery: bool
    summary: dict[str, float]
    rank1: dict[str, pd.DataFrame]
    rank1_per_view: pd.DataFrame
    map_summary: dict[str, float] = field(default_factory=dict)
    mean_ap: dict[str, pd.DataFrame] = field(default_factory=dict)
    map_per_view: pd.DataFrame = field(default_factory=pd.DataFrame)
    cmc_summary: dict[int, dict[str, float]] = field(default_factory=dict)
    minp_summary: dict[str, float] = field(default_factory=dict)
    num_probes: dict[str, int] = field(default_factory=dict)
    num_gallery: int = 0
    num_dropped: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict (NaN written as ``None``), the content of ``eval.json``."""
        return {
            "protocol": self.protocol,
            "metric": self.metric,
            "drop_probes_without_gallery": self.drop_probes_without_gallery,
            "summary": {k: _json_float(v) for k, v in self.summary.items()},
            "map_summary": {k: _json_float(v) for k, v in self.map_summary.items()},
            "rank1": {k: _frame_to_json(v) for k, v in self.rank1.items()},
            "rank1_per_view": _frame_to_json(self.rank1_per_view),
            "mean_ap": {k: _frame_to_json(v) for k, v in self.mean_ap.items()},
            "map_per_view": _frame_to_json(self.map_per_view),
            "cmc_summary": {str(k): {g: _json_float(v) for g, v in row.items()} for k, row in self.cmc_summary.items()},
            "minp_summary": {k: _json_float(v) for k, v in self.minp_summary.items()},
            "num_probes": dict(self.num_probes),
            "num_gallery": self.num_gallery,
            "num_dropped": dict(self.num_dropped),
        }

    def table(self, decimals: int | None = 2) -> pd.DataFrame:
        """One row per probe group: ``rank-1 (%)``, ``rank-5 (%)``, ``rank-10 (%)``, ``mAP (%)``, ``mINP (%)``
        (NaN where not computed) and ``probes`` — what ``gil eval`` prints. Percentages rounded to ``decimals``
        for reading (``None``: full precision, as :meth:`to_dict` and ``eval.json`` keep them)."""
        ranks = sorted(set(self.cmc_summary) | {1})
        rows = {
            group: {
                **{f"rank-{k} (%)": value if k == 1 else self.cmc_summary[k].get(group, math.nan) for k in ranks},
                "mAP (%)": self.map_summary.get(group, math.nan),
                "mINP (%)": self.minp_summary.get(group, math.nan),
                "probes": self.num_probes.get(group, 0),
            }
            for group, value in self.summary.items()
        }
        frame = pd.DataFrame.from_dict(rows, orient="index")
        frame.index.name = "probe"
        return frame if decimals is None else frame.round(decimals)

    def per_view(self, decimals: int | None = 2) -> pd.DataFrame:
        """One row per probe view: ``rank-1 <group>`` per probe group, then ``mAP <group>`` when computed (percent,
        rounded to ``decimals``; ``None``: full precision) — :attr:`rank1_per_view` and :attr:`map_per_view` side by
        side, averaged as :meth:`protocol_note` says. Empty for a protocol without views (``probe_gallery``)."""
        if self.rank1_per_view.empty:
            return pd.DataFrame()
        frames = [self.rank1_per_view.add_prefix("rank-1 ")]
        if not self.map_per_view.empty:
            frames.append(self.map_per_view.add_prefix("mAP "))
        frame = pd.concat(frames, axis=1)
        frame.index.name, frame.columns.name = "probe view", None
        return frame if decimals is None else frame.round(decimals)

    def protocol_note(self) -> str:
        """What the protocol averages and what it leaves out, in a sentence or two (printed under ``gil eval``'s
        tables); empty for a protocol this module does not know."""
        if self.protocol in ("casia_b", "oumvlp"):
            views = len(next(iter(self.rank1.values())).columns) if self.rank1 else len(self.rank1_per_view)
            note = (
                "Single-view gallery: each probe is matched against the gallery sequences of one view at a time, and "
                "pairs of identical probe and gallery views are excluded: a probe view's figure is the mean over the "
                f"{views - 1} other gallery views, a group's the mean over its probe views."
            )
            if self.drop_probes_without_gallery:
                dropped = sum(self.num_dropped.values())
                left_out = f"left out ({dropped} pairs)"
                return f"{note} Probe x gallery-view pairs whose subject has no sequence in that view are {left_out}."
            if self.protocol == "oumvlp":
                return f"{note} A probe whose subject has no sequence in a gallery view counts as a miss there."
            return note
        if self.protocol.endswith("_cross_view"):
            return (
                "Cross-view gallery: each probe is ranked against the whole gallery (every view) less the sequences "
                "of its own subject in its own view; a probe view's rank-1 counts every probe of that view (one "
                "without a match is a miss), a group's is the mean over its probe views."
            )
        if self.protocol == "probe_gallery":
            dropped = sum(self.num_dropped.values())
            return (
                "Probe/gallery: each probe is ranked against the whole gallery; probes whose identity has no gallery "
                f"sequence are left out of every measure ({dropped} left out)."
            )
        return ""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProtocolResult:
        """Inverse of :meth:`to_dict` (e.g. on ``json.load`` of ``eval.json``)."""
        try:
            return cls(
                protocol=data["protocol"],
                metric=data["metric"],
                drop_probes_without_gallery=bool(data["drop_probes_without_gallery"]),
                summary={k: _nan(v) for k, v in data["summary"].items()},
                rank1={k: _frame_from_json(v) for k, v in data["rank1"].items()},
                rank1_per_view=_frame_from_json(data["rank1_per_view"]),
                map_summary={k: _nan(v) for k, v in data["map_summary"].items()},
                mean_ap={k: _frame_from_json(v) for k, v in data["mean_ap"].items()},
                map_per_view=_frame_from_json(data["map_per_view"]),
                cmc_summary={  # absent from older eval.json files
                    int(k): {g: _nan(v) for g, v in row.items()} for k, row in data.get("cmc_summary", {}).items()
                },
                minp_summary={k: _nan(v) for k, v in data.get("minp_summary", {}).items()},
                num_probes=dict(data["num_probes"]),
                num_gallery=int(data["num_gallery"]),
                num_dropped=dict(data["num_dropped"]),
            )
        except KeyError as err:
            raise ValueError(f"ProtocolResult.from_dict: missing key {err} in the evaluation dict") from err


def _json_float(x: float) -> float | None:
    return None if math.isnan(x) else float(x)


def _nan(x: float | None) -> float:
    return math.nan if x is None else float(x)


def _frame_to_json(df: pd.DataFrame) -> dict[str, Any]:
    return {
        "index": [str(i) for i in df.index],
        "index_name": df.index.name,
        "columns": [str(c) for c in df.columns],
        "columns_name": df.columns.name,
        "data": [[_json_float(float(v)) for v in row] for row in df.to_numpy(dtype=float)],
    }


def _frame_from_json(d: Mapping[str, Any]) -> pd.DataFrame:
    values = np.array([[_nan(v) for v in row] for row in d["data"]], dtype=float)
    df = pd.DataFrame(values.reshape(len(d["index"]), len(d["columns"])), index=d["index"], columns=d["columns"])
    df.index.name, df.columns.name = d.get("index_name"), d.get("columns_name")
    return df
