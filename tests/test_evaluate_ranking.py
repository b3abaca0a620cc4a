"""OpenGait's evaluation measures (#18, item 5): rank-1/5/10, mAP, mINP, the cross-view gallery and the generic
probe/gallery protocol, against OpenGait's formulas transcribed below.

The transcriptions follow ``opengait/evaluation/metric.py`` (``evaluate_rank``, ``evaluate_many``,
``compute_ACC_mAP``) and ``evaluator.py`` (``cross_view_gallery_evaluation``, the SUSTech1K rank-5 of
``single_view_gallery_evaluation``) line by line, with one change: ``np.argsort(kind="stable")``, because numpy's
default sort leaves the order of tied distances unspecified (the tests use integer distances to have ties).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gil import evaluate as ev
from gil.config import from_dict


# ---------------------------------------------------------------------------- OpenGait, transcribed
def og_evaluate_rank(distmat, p_lbls, g_lbls, max_rank=50):
    num_p, num_g = distmat.shape
    max_rank = min(max_rank, num_g)
    indices = np.argsort(distmat, axis=1, kind="stable")
    matches = (g_lbls[indices] == p_lbls[:, np.newaxis]).astype(np.int32)
    all_cmc, all_AP, all_INP, num_valid_p = [], [], [], 0.0
    for p_idx in range(num_p):
        raw_cmc = matches[p_idx]
        if not np.any(raw_cmc):
            continue
        cmc = raw_cmc.cumsum()
        max_pos_idx = np.max(np.where(raw_cmc == 1))
        all_INP.append(cmc[max_pos_idx] / (max_pos_idx + 1.0))
        cmc[cmc > 1] = 1
        all_cmc.append(cmc[:max_rank])
        num_valid_p += 1.0
        num_rel = raw_cmc.sum()
        tmp_cmc = np.asarray([x / (i + 1.0) for i, x in enumerate(raw_cmc.cumsum())]) * raw_cmc
        all_AP.append(tmp_cmc.sum() / num_rel)
    all_cmc = np.asarray(all_cmc).astype(np.float32).sum(0) / num_valid_p
    return all_cmc, all_AP, all_INP


def og_evaluate_many(distmat, q_pids, g_pids, q_camids, g_camids, max_rank=50):
    num_q, num_g = distmat.shape
    max_rank = min(max_rank, num_g)
    indices = np.argsort(distmat, axis=1, kind="stable")
    matches = (g_pids[indices] == q_pids[:, np.newaxis]).astype(np.int32)
    all_cmc, all_AP, all_INP, num_valid_q = [], [], [], 0.0
    for q_idx in range(num_q):
        order = indices[q_idx]
        keep = np.invert((g_pids[order] == q_pids[q_idx]) & (g_camids[order] == q_camids[q_idx]))
        orig_cmc = matches[q_idx][keep]
        if not np.any(orig_cmc):
            continue
        cmc = orig_cmc.cumsum()
        max_pos_idx = np.max(np.where(orig_cmc == 1))
        all_INP.append(cmc[max_pos_idx] / (max_pos_idx + 1.0))
        cmc[cmc > 1] = 1
        all_cmc.append(cmc[:max_rank])
        num_valid_q += 1.0
        num_rel = orig_cmc.sum()
        tmp_cmc = np.asarray([x / (i + 1.0) for i, x in enumerate(orig_cmc.cumsum())]) * orig_cmc
        all_AP.append(tmp_cmc.sum() / num_rel)
    all_cmc = np.asarray(all_cmc).astype(np.float32).sum(0) / num_valid_q
    return all_cmc, np.mean(all_AP), np.mean(all_INP)


def og_compute_acc_map(distmat, q_pids, g_pids, q_views=None, g_views=None, rank=1):
    all_ACC, all_AP = [], []
    for q_idx in range(distmat.shape[0]):
        q_idx_dist, q_idx_glabels = distmat[q_idx], g_pids
        if q_views is not None and g_views is not None:
            q_idx_mask = np.isin(g_views, q_views[q_idx], invert=True) | np.isin(g_pids, q_pids[q_idx], invert=True)
            q_idx_dist, q_idx_glabels = q_idx_dist[q_idx_mask], q_idx_glabels[q_idx_mask]
        assert len(q_idx_glabels) > 0
        q_idx_matches = (q_idx_glabels[np.argsort(q_idx_dist, kind="stable")] == q_pids[q_idx]).astype(np.int32)
        cmc = q_idx_matches.cumsum()
        cmc[cmc > 1] = 1
        all_ACC.append(cmc[rank - 1])
        num_rel = q_idx_matches.sum()
        if num_rel > 0:
            tmp_cmc = np.asarray([x / (i + 1.0) for i, x in enumerate(q_idx_matches.cumsum())]) * q_idx_matches
            all_AP.append(tmp_cmc.sum() / num_rel)
    return np.mean(all_ACC), np.mean(all_AP)


def og_cuda_dist(x, y):
    """OpenGait's euclidean ``cuda_dist`` on ``[n, c, p]`` arrays, on the CPU."""
    x, y = torch.from_numpy(x).double(), torch.from_numpy(y).double()
    dist = torch.zeros(x.size(0), y.size(0), dtype=torch.float64)
    for i in range(x.size(2)):
        _x, _y = x[:, :, i], y[:, :, i]
        sq = torch.sum(_x**2, 1).unsqueeze(1) + torch.sum(_y**2, 1).unsqueeze(0) - 2 * torch.matmul(_x, _y.T)
        dist += torch.sqrt(torch.relu(sq))
    return dist / x.size(2)


# ------------------------------------------------------------------------------------------ inputs
def tied_problem(seed, q=40, m=60, ids=12, absent=5):
    """Integer distances (many ties); probes of ``absent`` identities that the gallery does not hold."""
    rng = np.random.default_rng(seed)
    distance = rng.integers(0, 6, size=(q, m)).astype(np.float64)
    gallery_ids = rng.integers(0, ids, size=m)
    probe_ids = rng.integers(0, ids + absent, size=q)  # ids >= `ids` are not in the gallery
    cams_q, cams_g = rng.integers(0, 3, size=q), rng.integers(0, 3, size=m)
    return distance, probe_ids, gallery_ids, cams_q, cams_g


def ours(distance, probe_ids, gallery_ids, exclude=None):
    t = torch.as_tensor
    return ev.rank_probes(t(distance), t(probe_ids), t(gallery_ids), None if exclude is None else t(exclude))


@pytest.mark.parametrize("seed", range(6))
def test_rank_k_map_minp_equal_evaluate_rank_with_ties_and_absent_probes(seed):
    distance, probe_ids, gallery_ids, _, _ = tied_problem(seed)
    cmc, aps, inps = og_evaluate_rank(distance, probe_ids, gallery_ids)
    ranked = ours(distance, probe_ids, gallery_ids)
    assert (~ranked.matched).sum() > 0  # the case the issue names is there
    for k in (1, 5, 10):
        assert ev.cmc(ranked.first_match, k, misses_count=False) == pytest.approx(100 * cmc[k - 1], abs=1e-4)
    kept = ranked.matched
    assert 100 * np.mean(ranked.average_precision[kept]) == pytest.approx(100 * np.mean(aps), abs=1e-6)
    assert 100 * np.mean(ranked.inverse_negative_penalty[kept]) == pytest.approx(100 * np.mean(inps), abs=1e-6)
    assert np.isnan(ranked.average_precision[~kept]).all() and (ranked.first_match[~kept] == -1).all()


@pytest.mark.parametrize("seed", range(6))
def test_same_camera_exclusion_equals_evaluate_many(seed):
    distance, probe_ids, gallery_ids, cams_q, cams_g = tied_problem(seed)
    cmc, mean_ap, mean_inp = og_evaluate_many(distance, probe_ids, gallery_ids, cams_q, cams_g)
    exclude = (gallery_ids[None, :] == probe_ids[:, None]) & (cams_g[None, :] == cams_q[:, None])
    ranked = ours(distance, probe_ids, gallery_ids, exclude)
    for k in (1, 5, 10):
        assert ev.cmc(ranked.first_match, k, misses_count=False) == pytest.approx(100 * cmc[k - 1], abs=1e-4)
    kept = ranked.matched
    assert np.mean(ranked.average_precision[kept]) == pytest.approx(mean_ap, abs=1e-8)
    assert np.mean(ranked.inverse_negative_penalty[kept]) == pytest.approx(mean_inp, abs=1e-8)


@pytest.mark.parametrize("seed", range(6))
def test_cross_view_exclusion_and_misses_equal_compute_acc_map(seed):
    distance, probe_ids, gallery_ids, views_q, views_g = tied_problem(seed)
    exclude = (gallery_ids[None, :] == probe_ids[:, None]) & (views_g[None, :] == views_q[:, None])
    ranked = ours(distance, probe_ids, gallery_ids, exclude)
    for k in (1, 5, 10):
        acc, mean_ap = og_compute_acc_map(distance, probe_ids, gallery_ids, views_q, views_g, rank=k)
        assert ev.cmc(ranked.first_match, k, misses_count=True) == pytest.approx(100 * acc, abs=1e-6)
    assert np.mean(ranked.average_precision[ranked.matched]) == pytest.approx(mean_ap, abs=1e-8)


def test_hand_built_ranking():
    # gallery ids by distance: [B, A, B, A(excluded)]; probe A: first match at position 1, AP = 1/2, INP = 1/2
    distance = np.array([[3.0, 1.0, 0.0, 2.0, 0.5]])
    gallery = np.array([0, 0, 1, 1, 0])  # ids: A=0, B=1; item 4 (A, distance 0.5) is excluded
    exclude = np.array([[False, False, False, False, True]])
    ranked = ours(distance, np.array([0]), gallery, exclude)
    # ranked: item 2 (B, 0.0), item 1 (A, 1.0), item 3 (B, 2.0), item 0 (A, 3.0)
    assert ranked.first_match.tolist() == [1]
    assert ranked.average_precision[0] == pytest.approx((1 / 2 + 2 / 4) / 2)
    assert ranked.inverse_negative_penalty[0] == pytest.approx(2 / 4)
    assert ev.cmc(ranked.first_match, 1, misses_count=True) == 0.0
    assert ev.cmc(ranked.first_match, 2, misses_count=True) == 100.0
    # ties go to the lower gallery index: at equal distance the match (index 0) comes first
    tie = ours(np.array([[1.0, 1.0]]), np.array([0]), np.array([0, 1]))
    assert tie.first_match.tolist() == [0]
    tie = ours(np.array([[1.0, 1.0]]), np.array([0]), np.array([1, 0]))
    assert tie.first_match.tolist() == [1]


# ------------------------------------------------------------------------------------ protocols
CASIA_TYPES = [f"nm-0{i}" for i in range(1, 7)] + ["bg-01", "bg-02", "cl-01", "cl-02"]


def casia_like(seed=0, subjects=7, views=("000", "054", "090", "144"), p=3, c=5):
    rng = np.random.default_rng(seed)
    rows = [(f"{s:03d}", t, v) for s in range(subjects) for t in CASIA_TYPES for v in views]
    sub, typ, view = (np.array(col, dtype=object) for col in zip(*rows, strict=True))
    centre = rng.normal(size=(subjects, p, c))
    emb = centre[[int(s) for s in sub]] + 1.3 * rng.normal(size=(len(rows), p, c))
    # a few identities missing from parts of the gallery, so that misses and absent probes occur
    keep = ~((sub == "006") & np.isin(typ, ["nm-02", "bg-02", "cl-02"]) & (view != "000"))
    keep &= ~((sub == "005") & np.isin(typ, ["nm-01", "nm-02", "nm-03", "nm-04"]))
    return emb[keep], sub[keep], typ[keep], view[keep]


def test_cross_view_gallery_equals_opengaits_evaluation():
    emb, sub, typ, view = casia_like()
    result = ev.cross_view_gallery(emb, sub, typ, view, dataset="casia-b")
    feature = np.ascontiguousarray(emb.transpose(0, 2, 1))  # OpenGait's [n, c, p]
    probes = {"NM": ["nm-01"], "BG": ["bg-01"], "CL": ["cl-01"]}
    gseq = np.isin(typ, ["nm-02", "bg-02", "cl-02"])
    for group, probe_seq in probes.items():
        accs, maps = [], []
        for probe_view in sorted(np.unique(view)):
            pseq = np.isin(typ, probe_seq) & np.isin(view, probe_view)
            dist = og_cuda_dist(feature[pseq], feature[gseq]).numpy()
            acc, mean_ap = og_compute_acc_map(dist, sub[pseq], sub[gseq], view[pseq], view[gseq])
            accs.append(100 * acc)
            maps.append(100 * mean_ap)
            assert result.rank1_per_view.loc[probe_view, group] == pytest.approx(100 * acc, abs=1e-6)
            assert result.map_per_view.loc[probe_view, group] == pytest.approx(100 * mean_ap, abs=1e-6)
        assert result.summary[group] == pytest.approx(np.mean(accs), abs=1e-6)
        assert result.map_summary[group] == pytest.approx(np.mean(maps), abs=1e-6)
        assert result.cmc_summary[1][group] == result.summary[group]
    assert result.num_gallery == int(gseq.sum())


def test_probe_gallery_equals_evaluate_rank_and_evaluate_many():
    emb, sub, typ, view = casia_like(seed=1)
    probe, gallery = ev.type_mask(typ, ["nm-05", "nm-06"], "probe"), ev.type_mask(typ, ["nm-01"], "gallery")
    feature = np.ascontiguousarray(emb.transpose(0, 2, 1))
    dist = og_cuda_dist(feature[probe], feature[gallery]).numpy()

    result = ev.probe_gallery(emb, sub, probe, gallery)
    cmc, aps, inps = og_evaluate_rank(dist, sub[probe], sub[gallery])
    for k in (1, 5, 10):
        assert result.cmc_summary[k]["all"] == pytest.approx(100 * cmc[k - 1], abs=1e-4)
    assert result.summary["all"] == result.cmc_summary[1]["all"]
    assert result.map_summary["all"] == pytest.approx(100 * np.mean(aps), abs=1e-6)
    assert result.minp_summary["all"] == pytest.approx(100 * np.mean(inps), abs=1e-6)
    absent = int(np.isin(sub[probe], sub[gallery], invert=True).sum())
    assert absent > 0 and result.num_dropped["all"] == absent and result.num_probes["all"] == int(probe.sum())

    result = ev.probe_gallery(emb, sub, probe, gallery, views=view, exclude_same_view=True)
    cmc, mean_ap, mean_inp = og_evaluate_many(dist, sub[probe], sub[gallery], view[probe], view[gallery])
    for k in (1, 5, 10):
        assert result.cmc_summary[k]["all"] == pytest.approx(100 * cmc[k - 1], abs=1e-4)
    assert result.map_summary["all"] == pytest.approx(100 * mean_ap, abs=1e-6)
    assert result.minp_summary["all"] == pytest.approx(100 * mean_inp, abs=1e-6)


def test_single_view_rank5_equals_opengaits_sustech_formula():
    """casia_b's rank-5: per view pair OpenGait's top-k count (``single_view_gallery_evaluation`` with
    ``num_rank=5``), identical view excluded, mean over gallery views then probe views."""
    emb, sub, typ, view = casia_like(seed=2)
    keep = sub != "005"  # every probe has its subject in every gallery view, as on the full CASIA-B
    emb, sub, typ, view = emb[keep], sub[keep], typ[keep], view[keep]
    result = ev.casia_b(emb, sub, typ, view)
    feature = np.ascontiguousarray(emb.transpose(0, 2, 1))
    views = sorted(np.unique(view))
    for group, probe_seq in {"NM": ["nm-05", "nm-06"], "BG": ["bg-01", "bg-02"], "CL": ["cl-01", "cl-02"]}.items():
        for k in (5, 10):
            acc = np.zeros((len(views), len(views)))
            for a, pv in enumerate(views):
                pseq = np.isin(typ, probe_seq) & np.isin(view, pv)
                for b, gv in enumerate(views):
                    gseq = np.isin(typ, ["nm-01", "nm-02", "nm-03", "nm-04"]) & np.isin(view, [gv])
                    dist = og_cuda_dist(feature[pseq], feature[gseq])
                    idx = dist.topk(min(k, dist.shape[1]), largest=False)[1].numpy()  # ties: see the module note
                    hit = np.cumsum(sub[pseq].reshape(-1, 1) == sub[gseq][idx], 1) > 0
                    acc[a, b] = 100 * hit[:, -1].sum() / dist.shape[0]
            de_diag = (acc.sum(1) - np.diag(acc)) / (len(views) - 1)
            assert result.cmc_summary[k][group] == pytest.approx(de_diag.mean(), abs=1e-6)


def test_rank_k_beyond_the_gallery_and_without_map():
    emb, sub, typ, view = casia_like(seed=3)
    probe, gallery = ev.type_mask(typ, ["nm-05"], "probe"), ev.type_mask(typ, ["nm-01"], "gallery")
    gallery &= view == "000"  # 6 gallery sequences (one per subject with an nm-01) < rank 10
    result = ev.probe_gallery(emb, sub, probe, gallery)
    assert result.num_gallery < 10 and result.cmc_summary[10]["all"] == 100.0
    fast = ev.casia_b(emb, sub, typ, view, compute_map=False)
    assert fast.cmc_summary == {} and fast.minp_summary == {} and not fast.table()["mAP (%)"].notna().any()


def test_results_round_trip_through_json_with_the_new_measures():
    emb, sub, typ, view = casia_like()
    for result in (ev.casia_b(emb, sub, typ, view), ev.cross_view_gallery(emb, sub, typ, view)):
        back = ev.ProtocolResult.from_dict(result.to_dict())
        assert back.cmc_summary == result.cmc_summary and back.minp_summary == result.minp_summary
        assert list(back.table().columns) == [
            "rank-1 (%)",
            "rank-5 (%)",
            "rank-10 (%)",
            "mAP (%)",
            "mINP (%)",
            "probes",
        ]
    old = result.to_dict()
    del old["cmc_summary"], old["minp_summary"]  # an eval.json written before these measures
    assert ev.ProtocolResult.from_dict(old).cmc_summary == {}


def test_oumvlp_cross_view_gallery():
    rng = np.random.default_rng(4)
    rows = [(f"{s:05d}", t, v) for s in range(6) for t in ("00", "01") for v in ("000", "015", "030")]
    sub, typ, view = (np.array(col, dtype=object) for col in zip(*rows, strict=True))
    emb = rng.normal(size=(len(rows), 2, 4))
    result = ev.cross_view_gallery(emb, sub, typ, view, dataset="oumvlp")
    assert set(result.summary) == {"all"} and result.num_probes == {"all": 18} and result.num_gallery == 18


# ------------------------------------------------------------------------------------ errors
def test_errors_name_the_parameter():
    emb, sub, typ, view = casia_like()
    with pytest.raises(ValueError, match=r"probe: no sequence has type\(s\) \['xx-01'\]; the types present are bg-01"):
        ev.type_mask(typ, ["xx-01"], "probe")
    with pytest.raises(ValueError, match="exclude_same_view=True needs views"):
        ev.probe_gallery(emb, sub, typ == "nm-05", exclude_same_view=True)
    with pytest.raises(ValueError, match=r"probe: expected a bool mask of shape \[\d+\]"):
        ev.probe_gallery(emb, sub, np.flatnonzero(typ == "nm-05"))
    with pytest.raises(ValueError, match="probe selects no sequence"):
        ev.probe_gallery(emb, sub, np.zeros(len(sub), dtype=bool))
    with pytest.raises(ValueError, match="no probe's identity is in the gallery"):
        ev.probe_gallery(emb, sub, sub == "000", sub == "001")
    with pytest.raises(ValueError, match="dataset: expected one of casia-b, oumvlp"):
        ev.cross_view_gallery(emb, sub, typ, view, dataset="grew")
    with pytest.raises(ValueError, match=r"distance: expected shape \[2, 3\]"):
        ev.rank_probes(torch.zeros(3, 2), torch.zeros(2), torch.zeros(3))
    with pytest.raises(ValueError, match="rank k: expected an integer >= 1"):
        ev.cmc(np.array([0]), 0, misses_count=True)


def test_config_of_the_generic_protocol_is_checked():
    ok = from_dict({"data": {"protocol": "probe-gallery"}, "eval": {"probe_types": ["02"], "gallery_types": ["01"]}})
    assert ok.eval.probe_types == ("02",)
    with pytest.raises(ValueError, match="config key 'eval.probe_types': expected a list of probe sequence types"):
        from_dict({"data": {"protocol": "probe-gallery"}})
    with pytest.raises(ValueError, match="config key 'eval.probe_types'"):
        from_dict({"eval": {"probe_types": ["02"]}})  # casia-b has its own probes
    with pytest.raises(ValueError, match="config key 'eval.exclude_same_view': expected its default"):
        from_dict({"eval": {"exclude_same_view": True}})
    with pytest.raises(ValueError, match="config key 'eval.gallery': expected one of single-view, cross-view"):
        from_dict({"eval": {"gallery": "all"}})
    with pytest.raises(ValueError, match="config key 'eval.gallery': expected single-view with data.protocol="):
        from_dict({"data": {"protocol": "probe-gallery"}, "eval": {"probe_types": ["02"], "gallery": "cross-view"}})


def test_new_eval_keys_at_their_defaults_keep_old_fingerprints():
    """Run folders named before these keys existed keep their names (the runs cache finds them)."""
    base = from_dict({})
    assert base.fingerprint() == from_dict({"eval": {"gallery": "single-view"}}).fingerprint()
    assert base.fingerprint() != from_dict({"eval": {"gallery": "cross-view"}}).fingerprint()
    assert base.fingerprint() != from_dict({"eval": {"metric": "cosine"}}).fingerprint()  # older keys still count
