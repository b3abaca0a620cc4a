"""The outcome of a cross-view protocol (:func:`gil.evaluate.casia_b` / :func:`gil.evaluate.oumvlp`) and its
JSON form, the content of a run's ``eval.json``."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class ProtocolResult:
    """Outcome of a cross-view protocol; all accuracies in percent.

    ``summary``: mean rank-1 per probe group (``{"NM", "BG", "CL"}`` or ``{"all"}``).
    ``rank1[group]``: probe view × gallery view table, NaN on the diagonal (identical view excluded)
    and where a cell has no probe. ``rank1_per_view``: probe view × group, mean over gallery views
    other than the probe's. ``map_summary``, ``mean_ap``, ``map_per_view``: the same for mAP (empty
    when ``compute_map=False``). ``num_probes[group]``, ``num_gallery``: sequence counts;
    ``num_dropped[group]``: probe × gallery-view pairs left out by ``drop_probes_without_gallery``.
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
            "num_probes": dict(self.num_probes),
            "num_gallery": self.num_gallery,
            "num_dropped": dict(self.num_dropped),
        }

    def table(self) -> pd.DataFrame:
        """One row per probe group: ``rank-1 (%)``, ``mAP (%)`` (NaN without mAP) and ``probes`` — what
        ``gil eval`` prints."""
        rows = {
            group: {
                "rank-1 (%)": value,
                "mAP (%)": self.map_summary.get(group, math.nan),
                "probes": self.num_probes.get(group, 0),
            }
            for group, value in self.summary.items()
        }
        frame = pd.DataFrame.from_dict(rows, orient="index")
        frame.index.name = "probe"
        return frame

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
