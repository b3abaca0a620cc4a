"""Summary tables that set several runs side by side (one row per run, index ``run``): rank-1 / mAP summaries,
per-identity margin summaries (:func:`~gil.metrics.margins.identity_margins` tables), how positive and negative
pair distances overlap (:func:`~gil.metrics.margins.distance_samples` tables), how far apart class centres are
(:class:`~gil.metrics.geometry.CentreGeometry`) and the adaptive margins their pairs get."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from gil.evaluate import ProtocolResult
from gil.losses import GILConfig
from gil.metrics.geometry import CentreGeometry


def compare_summaries(results: Mapping[str, ProtocolResult], baseline: str | None = None) -> pd.DataFrame:
    """Rank-1 and mAP summaries of several runs side by side, with each run's difference to ``baseline``.

    ``results``: run name -> :class:`~gil.evaluate.result.ProtocolResult`. Rows: the runs, then
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
    """Per run, from :func:`~gil.metrics.margins.identity_margins` tables: ``identities``, ``positive`` (share of
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


def distance_overlap(samples: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Per run, from :func:`~gil.metrics.margins.distance_samples` tables (columns ``pair``, ``distance``): the ``median
    positive`` and ``median negative`` distance, and the ``share of negatives < median positive``."""
    rows = {}
    for name, frame in samples.items():
        positive = frame.loc[frame["pair"] == "positive", "distance"]
        negative = frame.loc[frame["pair"] == "negative", "distance"]
        rows[name] = {
            "median positive": float(positive.median()),
            "median negative": float(negative.median()),
            "share of negatives < median positive": float((negative < positive.median()).mean()),
        }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("run")


def centre_angle_summary(centres: Mapping[str, CentreGeometry]) -> pd.DataFrame:
    """Per run, from :func:`~gil.metrics.geometry.centre_geometry`: the ``mean pair angle (°)`` over every centre
    pair and part, and the ``mean`` and ``smallest nearest angle (°)`` (each class's nearest other centre, mean over
    parts)."""
    rows = {
        name: {
            "mean pair angle (°)": float(g.pair_angles().mean()),
            "mean nearest angle (°)": float(g.nearest["mean"].mean()),
            "smallest nearest angle (°)": float(g.nearest["mean"].min()),
        }
        for name, g in centres.items()
    }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("run")


def adaptive_margin_summary(pairs: Mapping[str, pd.DataFrame], settings: GILConfig) -> pd.DataFrame:
    """Per run, its class-centre pairs (:func:`~gil.metrics.margins.centre_pair_margins` tables) under
    ``settings``' margin rule: ``mean cosine``, ``mean margin``, and the shares of pairs clipped at ``m_max`` and at
    ``m_min``."""
    return pd.DataFrame(
        {
            run: {
                "mean cosine": frame["cosine"].mean(),
                "mean margin": frame["margin"].mean(),
                "share at m_max": (frame["margin"] >= settings.m_max - 1e-12).mean(),
                "share at m_min": (frame["margin"] <= settings.m_min + 1e-12).mean(),
            }
            for run, frame in pairs.items()
        }
    ).T.rename_axis("run")
