"""Summary tables that set several runs side by side (one row per run): rank-1 / mAP summaries and per-identity
margin summaries (:func:`gil.metrics.identity_margins` tables)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from gil.evaluate import ProtocolResult


def compare_summaries(results: Mapping[str, ProtocolResult], baseline: str | None = None) -> pd.DataFrame:
    """Rank-1 and mAP summaries of several runs side by side, with each run's difference to ``baseline``.

    ``results``: run name -> :class:`~gil.evaluate.ProtocolResult`. Rows: the runs, then
    ``"<run> − <baseline>"`` for every other run (``baseline`` defaults to the first). Columns:
    ``rank-1 <group>`` per probe group, ``rank-1 mean``, and the same for ``mAP`` when computed (percent).
    """
    if not results:
        raise ValueError("results: expected at least one run")
    names = list(results)
    baseline = names[0] if baseline is None else baseline
    if baseline not in results:
        raise ValueError(f"baseline: {baseline!r} is not one of the runs {names}")
    rows = {}
    for name, result in results.items():
        row = {f"rank-1 {g}": v for g, v in result.summary.items()}
        row["rank-1 mean"] = float(np.mean(list(result.summary.values())))
        if result.map_summary:
            row.update({f"mAP {g}": v for g, v in result.map_summary.items()})
            row["mAP mean"] = float(np.mean(list(result.map_summary.values())))
        rows[name] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    for name in names:
        if name != baseline:
            table.loc[f"{name} − {baseline}"] = table.loc[name] - table.loc[baseline]
    table.index.name = "run"
    return table


def margin_summary(margins: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Per run, from :func:`gil.metrics.identity_margins` tables: ``identities``, ``positive`` (share of
    identities with a margin > 0), median ``margin``, mean ``farthest_same`` and ``nearest_other``."""
    rows = {
        name: {
            "identities": len(frame),
            "positive": float((frame["margin"] > 0).mean()),
            "median margin": float(frame["margin"].median()),
            "mean farthest_same": float(frame["farthest_same"].mean()),
            "mean nearest_other": float(frame["nearest_other"].mean()),
        }
        for name, frame in margins.items()
    }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("run")
