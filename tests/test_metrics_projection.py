"""gil.metrics.projection, gil.metrics.tables and the centre margins of gil.metrics.margins."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from gil import metrics
from gil.evaluate import ProtocolResult
from gil.losses import GILConfig


def clustered(n_classes: int = 5, per_class: int = 8, parts: int = 3, dim: int = 6, seed: int = 0):
    """Well separated clusters: ``[n, p, c]`` embeddings and their labels."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_classes, parts, dim)) * 4
    x = np.repeat(centres, per_class, axis=0) + rng.normal(scale=0.2, size=(n_classes * per_class, parts, dim))
    return x, np.repeat(np.arange(n_classes), per_class)


def test_part_features_mean_and_flatten():
    x, _ = clustered()
    mean = metrics.part_features(x, "mean")
    flat = metrics.part_features(x, "flatten")
    assert mean.shape == (40, 6) and flat.shape == (40, 18)
    unit = x / np.linalg.norm(x, axis=-1, keepdims=True)
    np.testing.assert_allclose(mean, unit.mean(1))
    np.testing.assert_allclose(np.linalg.norm(flat, axis=1), 1.0)
    # squared distance of the flattened vectors = mean over parts of per-part squared distances
    per_part = ((unit[0] - unit[1]) ** 2).sum(-1).mean()
    assert math.isclose(((flat[0] - flat[1]) ** 2).sum(), per_part, rel_tol=1e-12)
    with pytest.raises(ValueError, match="parts"):
        metrics.part_features(x, "max")


@pytest.mark.parametrize("method", ["tsne", pytest.param("umap", marks=pytest.mark.slow)])  # umap: numba compile
def test_project_2d_separates_clusters_and_is_repeatable(method):
    x, labels = clustered()
    coords = metrics.project_2d(x, method=method, seed=1)
    assert coords.shape == (40, 2) and np.isfinite(coords).all()
    np.testing.assert_allclose(coords, metrics.project_2d(x, method=method, seed=1))
    # every point's nearest neighbour in 2-D has its label
    d = ((coords[:, None] - coords[None]) ** 2).sum(-1) + np.diag(np.full(40, np.inf))
    assert (labels[d.argmin(1)] == labels).all()


def test_project_2d_small_sets_and_errors():
    x, _ = clustered(n_classes=2, per_class=4)  # 8 points: n_neighbors / perplexity must shrink
    assert metrics.project_2d(x, method="tsne").shape == (8, 2)
    with pytest.raises(ValueError, match="method"):
        metrics.project_2d(x, method="pca")
    with pytest.raises(ValueError, match="at least 4"):
        metrics.project_2d(x[:3], method="tsne")


def result(summary, map_summary=None):
    return ProtocolResult(
        protocol="casia-b",
        metric="euclidean",
        drop_probes_without_gallery=False,
        summary=summary,
        rank1={},
        rank1_per_view=pd.DataFrame(),
        map_summary=map_summary or {},
    )


def test_compare_summaries_differences():
    table = metrics.compare_summaries(
        {
            "triplet": result({"NM": 80.0, "BG": 60.0, "CL": 40.0}, {"NM": 70.0, "BG": 50.0, "CL": 30.0}),
            "GIL": result({"NM": 82.0, "BG": 59.0, "CL": 43.0}, {"NM": 71.0, "BG": 52.0, "CL": 33.0}),
        }
    )
    assert list(table.index) == ["triplet", "GIL", "GIL − triplet"]
    assert table.loc["GIL − triplet", "rank-1 NM"] == pytest.approx(2.0)
    assert table.loc["GIL − triplet", "rank-1 BG"] == pytest.approx(-1.0)
    assert table.loc["triplet", "rank-1 mean"] == pytest.approx(60.0)
    assert table.loc["GIL − triplet", "mAP mean"] == pytest.approx(2.0)
    with pytest.raises(ValueError, match="baseline"):
        metrics.compare_summaries({"a": result({"NM": 1.0})}, baseline="b")


def test_margin_summary():
    frame = pd.DataFrame(
        {"count": [2, 2, 2], "farthest_same": [1.0, 2.0, 3.0], "nearest_other": [2.0, 1.0, 3.5]},
        index=["a", "b", "c"],
    )
    frame["margin"] = frame["nearest_other"] - frame["farthest_same"]
    row = metrics.margin_summary({"run": frame}).loc["run"]
    assert row["identities"] == 3
    assert row["positive"] == pytest.approx(2 / 3)
    assert row["median margin"] == pytest.approx(0.5)


def test_centre_pair_margins_matches_the_rule():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(4, 2, 5))  # [k, p, c]
    centres /= np.linalg.norm(centres, axis=-1, keepdims=True)
    table = metrics.centre_pair_margins(centres, GILConfig(m_min=0.15, m_max=0.25))
    assert len(table) == 2 * 6
    for row in table.itertuples():
        cos = float(centres[row.a, row.part] @ centres[row.b, row.part])
        assert row.a < row.b
        assert row.cosine == pytest.approx(cos)
        assert row.margin == pytest.approx(min(max(0.2 * (1 + 0.5 * cos), 0.15), 0.25))
    with pytest.raises(ValueError, match="centres"):
        metrics.centre_pair_margins(centres[:1])
