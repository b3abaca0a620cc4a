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

    def table(self) -> pd.DataFrame:
        """One row per probe group: ``rank-1 (%)``, ``rank-5 (%)``, ``rank-10 (%)``, ``mAP (%)``, ``mINP (%)``
        (NaN where not computed) and ``probes`` — what ``gil eval`` prints."""
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
