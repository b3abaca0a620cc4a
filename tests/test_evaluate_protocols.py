"""Tests for gil.evaluate: hand-computed protocol numbers, loop references, errors, extraction."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

from gil import evaluate as ev

CONDITIONS = [f"nm-0{i}" for i in range(1, 7)] + ["bg-01", "bg-02", "cl-01", "cl-02"]
VIEWS = [f"{18 * i:03d}" for i in range(11)]
GALLERY = ["nm-01", "nm-02", "nm-03", "nm-04"]
GROUPS = {"NM": ["nm-05", "nm-06"], "BG": ["bg-01", "bg-02"], "CL": ["cl-01", "cl-02"]}


# ------------------------------------------------------------------------------------ loop references
def ref_distance(x: np.ndarray, y: np.ndarray, metric: str) -> float:
    """Mean over parts of the distance between two sequences ``[p, c]``, in a plain loop."""
    total = 0.0
    for xp, yp in zip(x, y, strict=True):
        if metric == "cosine":
            cos = sum(a * b for a, b in zip(xp, yp, strict=True)) / (
                math.sqrt(sum(a * a for a in xp)) * math.sqrt(sum(b * b for b in yp))
            )
            total += 1.0 - cos
        else:
            total += math.sqrt(sum((a - b) ** 2 for a, b in zip(xp, yp, strict=True)))
    return total / len(x)


def ref_cell(emb, sub, probes, gallery, metric, drop=False):
    """Rank-1 % and mAP % of ``probes`` against ``gallery`` (index lists), one probe at a time."""
    hits, aps, counted = 0, [], 0
    for i in probes:
        d = [(ref_distance(emb[i], emb[j], metric), k, sub[j] == sub[i]) for k, j in enumerate(gallery)]
        d.sort()
        relevant = sum(m for _, _, m in d)
        if drop and relevant == 0:
            continue
        counted += 1
        hits += d[0][2]
        if relevant:
            found, precisions = 0, []
            for rank, (_, _, m) in enumerate(d, start=1):
                if m:
                    found += 1
                    precisions.append(found / rank)
            aps.append(sum(precisions) / relevant)
    r1 = 100.0 * hits / counted if counted else math.nan
    return r1, (100.0 * sum(aps) / len(aps) if aps else math.nan)


def ref_protocol(emb, sub, seq, view, groups, gallery_seqs, metric, drop=False):
    views = sorted(set(view))
    out = {}
    for g, probe_seqs in groups.items():
        r1 = np.full((len(views), len(views)), np.nan)
        ap = np.full_like(r1, np.nan)
        for a, v1 in enumerate(views):
            probes = [i for i in range(len(sub)) if seq[i] in probe_seqs and view[i] == v1]
            for b, v2 in enumerate(views):
                if a == b:
                    continue
                gal = [j for j in range(len(sub)) if seq[j] in gallery_seqs and view[j] == v2]
                r1[a, b], ap[a, b] = ref_cell(emb, sub, probes, gal, metric, drop)
        out[g] = (r1, ap)
    return out


def casia_like(n_subjects=6, p=4, c=8, noise=1.6, seed=0):
    rng = np.random.default_rng(seed)
    labels = [(f"{s + 75:03d}", cond, v) for s in range(n_subjects) for cond in CONDITIONS for v in VIEWS]
    sub, cond, view = (list(t) for t in zip(*labels, strict=True))
    centre = rng.normal(size=(n_subjects, p, c))
    view_shift = rng.normal(size=(len(VIEWS), p, c))
    s_idx = np.array([int(s) - 75 for s in sub])
    v_idx = np.array([VIEWS.index(v) for v in view])
    emb = centre[s_idx] + 0.7 * view_shift[v_idx] + noise * rng.normal(size=(len(sub), p, c))
    return emb, sub, cond, view


# ------------------------------------------------------------------------------------ hand-built cases
def hand_casia():
    """Two subjects, views 000/090, 1-D embeddings; see the comments for the hand-computed rank-1."""
    gallery_value = {("A", "000"): 0.0, ("A", "090"): 10.0, ("B", "000"): 5.0, ("B", "090"): 20.0}
    probe_value = {
        # NM: A@000 (0.1) vs 090 gallery {A 10, B 20} -> hit; B@000 (5.1) -> A (4.9 away) miss: 50 %.
        # A@090 (10.1) vs 000 gallery {A 0, B 5} -> miss; B@090 (19) -> B hit: 50 %.
        # Same-view matching would be 100 %: only identical-view exclusion gives 50.
        "NM": {("A", "000"): 0.1, ("B", "000"): 5.1, ("A", "090"): 10.1, ("B", "090"): 19.0},
        # BG: every probe equals its own subject's gallery in the other view: 100 %.
        "BG": {("A", "000"): 10.0, ("B", "000"): 20.0, ("A", "090"): 0.0, ("B", "090"): 5.0},
        # CL: every probe equals the other subject's gallery in the other view: 0 %.
        "CL": {("A", "000"): 20.0, ("B", "000"): 10.0, ("A", "090"): 5.0, ("B", "090"): 0.0},
    }
    rows = []
    for (s, v), x in gallery_value.items():
        rows += [(s, cond, v, x) for cond in GALLERY]
    for g, values in probe_value.items():
        rows += [(s, cond, v, x) for (s, v), x in values.items() for cond in GROUPS[g]]
    sub, cond, view, x = zip(*rows, strict=True)
    return np.array(x)[:, None], sub, cond, view


def test_casia_b_hand_built_identical_view_excluded():
    emb, sub, cond, view = hand_casia()
    res = ev.casia_b(emb, sub, cond, view)
    assert res.summary == pytest.approx({"NM": 50.0, "BG": 100.0, "CL": 0.0})
    nm = res.rank1["NM"]
    assert list(nm.index) == ["000", "090"] and list(nm.columns) == ["000", "090"]
    assert np.isnan(nm.loc["000", "000"]) and np.isnan(nm.loc["090", "090"])
    assert nm.loc["000", "090"] == pytest.approx(50.0) and nm.loc["090", "000"] == pytest.approx(50.0)
    assert res.rank1_per_view.loc["000", "NM"] == pytest.approx(50.0)
    assert res.num_probes == {"NM": 8, "BG": 8, "CL": 8} and res.num_gallery == 16
    # mAP, NM 000 -> 090: A ranks its 4 sequences first (AP 1); B sees A's 4 first (ranks 5-8 relevant).
    ap_b = (1 / 5 + 2 / 6 + 3 / 7 + 4 / 8) / 4
    assert res.mean_ap["NM"].loc["000", "090"] == pytest.approx(100 * (1 + ap_b) / 2)
    assert res.map_summary["BG"] == pytest.approx(100.0)


def hand_oumvlp():
    # Gallery "01": A in 000 and 090, B only in 000. Probes "00": A, B in both views.
    rows = [("A", "01", "000", 0.0), ("A", "01", "090", 10.0), ("B", "01", "000", 5.0)]
    # 000 -> 090: gallery {A}: probe A hits, probe B (no gallery) misses.
    # 090 -> 000: gallery {A 0, B 5}: A@090 (1.0) hits, B@090 (6.0) hits.
    rows += [
        ("A", "00", "000", 0.5),
        ("B", "00", "000", 5.5),
        ("A", "00", "090", 1.0),
        ("B", "00", "090", 6.0),
    ]
    sub, seq, view, x = zip(*rows, strict=True)
    return np.array(x)[:, None], sub, seq, view


@pytest.mark.parametrize(("drop", "cell", "summary", "dropped"), [(False, 50.0, 75.0, 0), (True, 100.0, 100.0, 1)])
def test_oumvlp_keep_vs_drop_probes(drop, cell, summary, dropped):
    emb, sub, seq, view = hand_oumvlp()
    res = ev.oumvlp(emb, sub, seq, view, drop_probes_without_gallery=drop)
    assert res.rank1["all"].loc["000", "090"] == pytest.approx(cell)
    assert res.rank1["all"].loc["090", "000"] == pytest.approx(100.0)
    assert res.summary == pytest.approx({"all": summary})
    assert res.num_dropped == {"all": dropped}
    # AP is undefined for the probe without gallery in both modes: mAP the same.
    assert res.map_summary["all"] == pytest.approx(100.0)


# ------------------------------------------------------------------------------------ loop references
@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_casia_b_matches_loop_reference(metric):
    emb, sub, cond, view = casia_like()
    res = ev.casia_b(emb, sub, cond, view, metric=metric, chunk_size=50)
    ref = ref_protocol(emb, sub, cond, view, GROUPS, GALLERY, metric)
    for g, (r1, ap) in ref.items():
        np.testing.assert_allclose(res.rank1[g].to_numpy(), r1, atol=1e-9)
        np.testing.assert_allclose(res.mean_ap[g].to_numpy(), ap, atol=1e-9)
        per_view = np.nanmean(r1, axis=1)  # de_diag: mean over the other 10 gallery views
        np.testing.assert_allclose(res.rank1_per_view[g].to_numpy(), per_view, atol=1e-9)
        assert res.summary[g] == pytest.approx(per_view.mean(), abs=1e-9)
        assert res.map_summary[g] == pytest.approx(np.nanmean(np.nanmean(ap, axis=1)), abs=1e-9)
    assert 20 < res.summary["CL"] < 95  # not saturated: the reference is actually exercised


@pytest.mark.parametrize("drop", [False, True])
def test_oumvlp_matches_loop_reference(drop):
    rng = np.random.default_rng(1)
    views = ["000", "030", "060", "090"]
    rows = [(f"{s:05d}", q, v) for s in range(8) for q in ("00", "01") for v in views]
    rows = [r for r in rows if not (r[1] == "01" and rng.random() < 0.3)]  # missing gallery sequences
    sub, seq, view = (list(t) for t in zip(*rows, strict=True))
    centre = rng.normal(size=(8, 2, 6))
    emb = centre[[int(s) for s in sub]] + 1.0 * rng.normal(size=(len(sub), 2, 6))
    res = ev.oumvlp(emb, sub, seq, view, drop_probes_without_gallery=drop, chunk_size=7)
    r1, ap = ref_protocol(emb, sub, seq, view, {"all": ["00"]}, ["01"], "euclidean", drop)["all"]
    np.testing.assert_allclose(res.rank1["all"].to_numpy(), r1, atol=1e-9)
    np.testing.assert_allclose(res.mean_ap["all"].to_numpy(), ap, atol=1e-9)
    assert res.summary["all"] == pytest.approx(np.nanmean(np.nanmean(r1, axis=1)), abs=1e-9)


def test_pairwise_distance_matches_loop():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(5, 3, 4)), rng.normal(size=(7, 3, 4))
    for metric in ev.METRICS:
        d = ev.pairwise_distance(x, y, metric, chunk_size=2).numpy()
        ref = [[ref_distance(a, b, metric) for b in y] for a in x]
        np.testing.assert_allclose(d, ref, atol=1e-9)


def test_cosine_differs_from_euclidean_and_ignores_scale():
    emb, sub, cond, view = casia_like(seed=3)
    scale = np.random.default_rng(3).uniform(0.2, 5.0, size=(len(sub), 1, 1))
    cos = ev.casia_b(emb, sub, cond, view, metric="cosine")
    cos_scaled = ev.casia_b(emb * scale, sub, cond, view, metric="cosine")
    euc_scaled = ev.casia_b(emb * scale, sub, cond, view)
    assert cos.summary == pytest.approx(cos_scaled.summary)
    assert euc_scaled.summary != pytest.approx(cos_scaled.summary)


def test_numpy_torch_chunking_and_2d_input_agree():
    emb, sub, cond, view = casia_like(seed=4)
    base = ev.casia_b(emb.astype(np.float32), sub, cond, view)
    as_torch = ev.casia_b(torch.from_numpy(emb).float(), sub, cond, view, chunk_size=13, device="cpu")
    assert as_torch.summary == pytest.approx(base.summary)
    pd.testing.assert_frame_equal(as_torch.rank1["BG"], base.rank1["BG"])
    flat = emb[:, 0, :]  # [n, c] is p = 1
    assert ev.casia_b(flat, sub, cond, view).summary == pytest.approx(
        ev.casia_b(flat[:, None, :], sub, cond, view).summary
    )
    no_map = ev.casia_b(emb, sub, [c.upper() for c in cond], view, compute_map=False)
    assert no_map.summary == pytest.approx(ev.casia_b(emb, sub, cond, view).summary) and not no_map.mean_ap


def test_to_dict_is_json_and_round_trips():
    emb, sub, cond, view = hand_casia()
    res = ev.casia_b(emb, sub, cond, view)
    text = json.dumps(res.to_dict(), allow_nan=False)
    back = ev.ProtocolResult.from_dict(json.loads(text))
    assert back.summary == res.summary and back.num_probes == res.num_probes
    pd.testing.assert_frame_equal(back.rank1["NM"], res.rank1["NM"])
    pd.testing.assert_frame_equal(back.map_per_view, res.map_per_view)


# ------------------------------------------------------------------------------------------------ errors
def test_errors_name_the_parameter():
    emb, sub, cond, view = hand_casia()
    with pytest.raises(ValueError, match="conditions: expected"):
        ev.casia_b(emb, sub, cond[:-1], view)
    with pytest.raises(ValueError, match=r"unknown CASIA-B condition.*'xx-01'"):
        ev.casia_b(emb, sub, ["xx-01", *cond[1:]], view)
    with pytest.raises(ValueError, match="gallery is empty"):
        ev.casia_b(emb, sub, ["nm-05"] * len(sub), view)
    with pytest.raises(ValueError, match="metric: unknown"):
        ev.casia_b(emb, sub, cond, view, metric="manhattan")
    with pytest.raises(ValueError, match=r"embeddings: expected shape"):
        ev.casia_b(emb[:, :, None, None], sub, cond, view)
    with pytest.raises(ValueError, match="sequences: unknown OUMVLP"):
        ev.oumvlp(emb, sub, ["02"] * len(sub), view)
    with pytest.raises(ValueError, match="gallery is empty"):
        ev.oumvlp(emb, sub, ["00"] * len(sub), view)
