"""Tests for gil.metrics against float64 loop references and known geometric cases."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from gil import metrics


def unit(v):
    norm = math.sqrt(sum(a * a for a in v))
    return [a / norm for a in v]


def sq_dist(a, b):
    return sum((x - y) ** 2 for x, y in zip(a, b, strict=True))


def mean_part_distance(a, b, metric):
    """Mean over parts of the distance between two sequences ``[p, c]`` (plain loop)."""
    total = 0.0
    for pa, pb in zip(a, b, strict=True):
        if metric == "cosine":
            total += 1.0 - sum(x * y for x, y in zip(unit(pa), unit(pb), strict=True))
        else:
            total += math.sqrt(sq_dist(pa, pb))
    return total / len(a)


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    labels = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 3])
    emb = rng.normal(size=(len(labels), 3, 4)) + 2.0 * rng.normal(size=(4, 3, 4))[labels]
    return emb, labels


# ---------------------------------------------------------------------------------- uniformity, alignment
@pytest.mark.parametrize("t", [2.0, 0.5])
def test_uniformity_matches_loop(data, t):
    emb, _ = data
    got = metrics.uniformity(emb, t=t)
    for p in range(emb.shape[1]):
        pts = [unit(v) for v in emb[:, p]]
        terms = [math.exp(-t * sq_dist(a, b)) for a, b in itertools.combinations(pts, 2)]
        assert got[p] == pytest.approx(math.log(sum(terms) / len(terms)), abs=1e-12)


@pytest.mark.parametrize("alpha", [2.0, 1.0])
def test_alignment_matches_loop(data, alpha):
    emb, labels = data
    got = metrics.alignment(emb, labels, alpha=alpha)
    for p in range(emb.shape[1]):
        pts = [unit(v) for v in emb[:, p]]
        terms = [
            sq_dist(pts[i], pts[j]) ** (alpha / 2)
            for i, j in itertools.combinations(range(len(pts)), 2)
            if labels[i] == labels[j]
        ]
        assert got[p] == pytest.approx(sum(terms) / len(terms), abs=1e-12)


def test_mean_norm_is_the_mean_part_norm():
    emb = np.zeros((2, 2, 3))
    emb[0, 0, :2] = [3, 4]  # norm 5
    emb[1, 1, 2] = 2  # norm 2; the other two parts are 0
    assert metrics.mean_norm(emb) == pytest.approx(7 / 4)
    assert metrics.mean_norm(torch.ones(4, 5)) == pytest.approx(math.sqrt(5))  # [n, c] is one part


def test_even_circle_is_more_uniform_than_a_cluster():
    angles = np.linspace(0, 2 * np.pi, 12, endpoint=False)
    even = np.stack([np.cos(angles), np.sin(angles)], 1)  # [n, c]: p = 1
    cluster = np.stack([np.cos(angles / 20), np.sin(angles / 20)], 1)
    u_even, u_cluster = metrics.uniformity(even)[0], metrics.uniformity(cluster)[0]
    assert u_even < u_cluster
    n, t = 12, 2.0
    assert u_even >= -2 * t * n / (n - 1) - 1e-12  # the documented lower bound
    assert metrics.uniformity(torch.from_numpy(even)) == pytest.approx(metrics.uniformity(even))


def test_uniformity_alignment_table(data):
    emb, labels = data
    table = metrics.uniformity_alignment(emb, labels)
    assert list(table.index) == ["0", "1", "2", "mean"]
    assert table.loc["mean", "uniformity"] == pytest.approx(metrics.uniformity(emb).mean())
    assert table.loc["mean", "alignment"] == pytest.approx(metrics.alignment(emb, labels).mean())


# --------------------------------------------------------------------------------------- class centres
def test_orthogonal_classes_have_90_degree_centres():
    e = np.eye(4)
    offsets = [0.1 * e[3], -0.1 * e[3]]  # symmetric, so the centres are exactly e0, e1, e2
    emb = np.array([e[k] + o for k in range(3) for o in offsets])[:, None, :]  # [6, 1, 4]
    geo = metrics.centre_geometry(emb, ["a", "a", "b", "b", "c", "c"])
    np.testing.assert_allclose(geo.centres[:, 0, :3], np.eye(3), atol=1e-12)
    np.testing.assert_allclose(geo.pair_angles(), [[90.0, 90.0, 90.0]], atol=1e-9)
    np.testing.assert_allclose(geo.nearest["mean"].to_numpy(), 90.0, atol=1e-9)
    assert list(geo.nearest.index) == ["a", "b", "c"]


def test_centre_geometry_matches_loop(data):
    emb, labels = data
    geo = metrics.centre_geometry(emb, labels)
    k, p = 4, emb.shape[1]
    for part in range(p):
        centres = []
        for cls in range(k):
            members = [unit(v) for v, lab in zip(emb[:, part], labels, strict=True) if lab == cls]
            centres.append(unit([sum(col) / len(members) for col in zip(*members, strict=True)]))
        for a in range(k):
            np.testing.assert_allclose(geo.centres[a, part], centres[a], atol=1e-12)
            cosines = [sum(x * y for x, y in zip(centres[a], centres[b], strict=True)) for b in range(k)]
            angles = [0.0 if b == a else math.degrees(math.acos(cosines[b])) for b in range(k)]
            np.testing.assert_allclose(geo.angles[part, a], angles, atol=1e-7)
            assert geo.nearest.loc[a, str(part)] == pytest.approx(min(angles[:a] + angles[a + 1 :]), abs=1e-7)


# ---------------------------------------------------------------------------------------------- margins
def test_identity_margins_hand_built():
    # 1-D: identity A at 0 and 1, B at 4 and 6, C alone at 10.
    emb = np.array([0.0, 1.0, 4.0, 6.0, 10.0])[:, None]
    table = metrics.identity_margins(emb, ["A", "A", "B", "B", "C"])
    assert table.loc["A", "farthest_same"] == 1.0 and table.loc["A", "nearest_other"] == 3.0
    assert table.loc["A", "margin"] == 2.0
    assert table.loc["B", "margin"] == pytest.approx(3.0 - 2.0)
    assert np.isnan(table.loc["C", "farthest_same"]) and table.loc["C", "nearest_other"] == 4.0
    assert list(table["count"]) == [2, 2, 1]


@pytest.mark.parametrize(("metric", "normalize"), [("euclidean", False), ("euclidean", True), ("cosine", False)])
def test_identity_margins_match_loop(data, metric, normalize):
    emb, labels = data
    table = metrics.identity_margins(emb, labels, metric=metric, normalize=normalize)
    x = [[unit(part) for part in seq] for seq in emb] if normalize else emb.tolist()
    for cls in range(4):
        mine = [i for i in range(len(labels)) if labels[i] == cls]
        other = [j for j in range(len(labels)) if labels[j] != cls]
        far = max((mean_part_distance(x[i], x[j], metric) for i in mine for j in mine if i != j), default=np.nan)
        near = min(mean_part_distance(x[i], x[j], metric) for i in mine for j in other)
        assert table.loc[cls, "nearest_other"] == pytest.approx(near, abs=1e-9)
        if np.isnan(far):
            assert np.isnan(table.loc[cls, "farthest_same"])
        else:
            assert table.loc[cls, "margin"] == pytest.approx(near - far, abs=1e-9)


# -------------------------------------------------------------------------------------- distance samples
def test_distance_samples_all_pairs_when_few(data):
    emb, labels = data
    df = metrics.distance_samples(emb, labels, metric="cosine")
    pos, neg = df[df["pair"] == "positive"], df[df["pair"] == "negative"]
    assert len(pos) == 3 + 1 + 6 and len(pos) + len(neg) == 45
    assert (labels[pos["i"]] == labels[pos["j"]]).all() and (labels[neg["i"]] != labels[neg["j"]]).all()
    for row in df.itertuples():
        assert row.i < row.j
        assert row.distance == pytest.approx(mean_part_distance(emb[row.i], emb[row.j], "cosine"), abs=1e-12)


def test_distance_samples_subsamples_deterministically():
    rng = np.random.default_rng(5)
    labels = np.repeat(np.arange(30), 10)  # 300 sequences: 13,500 positives, 31,350 negative pairs
    emb = rng.normal(size=(300, 2, 3))
    a = metrics.distance_samples(emb, labels, max_pairs=200, seed=1)
    b = metrics.distance_samples(emb, labels, max_pairs=200, seed=1)
    assert a.equals(b) and (a["pair"].value_counts() == 200).all()
    neg = a[a["pair"] == "negative"]
    assert (labels[neg["i"]] != labels[neg["j"]]).all() and not neg.duplicated(["i", "j"]).any()


# ------------------------------------------------------------------------------------------------ errors
def test_errors(data):
    emb, labels = data
    with pytest.raises(ValueError, match="labels: expected 10"):
        metrics.alignment(emb, labels[:-1])
    with pytest.raises(ValueError, match="positive pair"):
        metrics.alignment(emb, np.arange(10))
    with pytest.raises(ValueError, match="at least 2 classes"):
        metrics.centre_geometry(emb, np.zeros(10))
    with pytest.raises(ValueError, match="metric: unknown"):
        metrics.distance_samples(emb, labels, metric="l1")
    with pytest.raises(ValueError, match="at least 2 sequences"):
        metrics.uniformity(emb[:1])


def test_package_keeps_every_public_name():
    names = {"PART_REDUCTIONS", "PROJECTIONS", "CentreGeometry", "alignment", "batch_geometry", "centre_geometry"}
    names |= {"centre_pair_margins", "compare_summaries", "distance_samples", "identity_margins", "margin_summary"}
    names |= {"adaptive_margin_summary", "centre_angle_summary", "distance_overlap"}
    names |= {"mean_norm", "part_features", "project_2d", "uniformity", "uniformity_alignment"}
    assert set(metrics.__all__) == names
    assert all(callable(getattr(metrics, name)) or name.isupper() for name in names)
