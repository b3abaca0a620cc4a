"""The CASIA-B / OUMVLP cross-view protocols (OpenGait's conventions); embeddings come from :mod:`gil.evaluate.extract`.

Protocols take embeddings ``[n, p, c]`` (torch or numpy; ``[n, c]`` is read as ``p = 1``) and the
per-sequence labels as they appear in OpenGait's folder names (subject ``"075"``, condition
``"nm-05"`` or OUMVLP sequence ``"00"``, view ``"090"``). For every probe view × gallery view pair,
each probe is matched against the gallery sequences of that gallery view only; rank-1 is the share
of probes whose nearest gallery sequence has the probe's subject. As in OpenGait's
``single_view_gallery_evaluation`` and ``de_diag``, identical-view pairs are excluded: the
per-probe-view accuracy is the mean over the other gallery views, the summary the mean over probe
views. OpenGait rounds every cell to two decimals before averaging; we do not round.

Distances are :mod:`gil.evaluate.distance`'s, computed in row chunks.

mAP, rank-5/10 and mINP (OpenGait's single-view protocol reports rank-1 only; SUSTech1K's adds rank-5):
per probe and view pair, :mod:`gil.evaluate.ranking`'s measures over the gallery of that view. Rank-k
cells average like rank-1; probes with no sequence of their subject there have no AP and no INP and are
left out of those means (as OpenGait's ``compute_ACC_mAP``). Ties in distance go to the lower index.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from gil.evaluate.distance import (
    Embeddings,
    _as_embeddings,
    _check_metric,
    _check_values,
    _chunk_rows,
    _part_distance,
    _parts_first,
    _sq_norms,
)
from gil.evaluate.ranking import RANKS, rank_probes
from gil.evaluate.result import ProtocolResult

CASIA_B_GALLERY = ("nm-01", "nm-02", "nm-03", "nm-04")
CASIA_B_PROBES = {"NM": ("nm-05", "nm-06"), "BG": ("bg-01", "bg-02"), "CL": ("cl-01", "cl-02")}
OUMVLP_GALLERY, OUMVLP_PROBE, OUMVLP_GROUP = "01", "00", "all"

__all__ = ["CASIA_B_GALLERY", "CASIA_B_PROBES", "ProtocolResult", "casia_b", "oumvlp"]


def _labels(name: str, values: Iterable[Any], n: int) -> np.ndarray:
    arr = np.asarray([str(v).strip() for v in values], dtype=object)
    if len(arr) != n:
        raise ValueError(f"{name}: expected {n} labels (one per embedding), got {len(arr)}")
    return arr


def _inputs(
    protocol: str,
    embeddings: Embeddings,
    device: torch.device | str | None,
    metric: str,
    subjects: Iterable[Any],
    group: tuple[str, Iterable[Any]],
    views: Iterable[Any],
) -> tuple[torch.Tensor, np.ndarray, np.ndarray, np.ndarray]:
    """A protocol's checked inputs: ``[n, p, c]`` embeddings and the three ``[n]`` label arrays
    (subjects, the named grouping — conditions or sequences —, views). Sequences with non-finite
    embeddings (or zero-norm parts under cosine) are refused, naming them (:func:`_check_values`)."""
    _check_metric(metric)
    emb = _as_embeddings(embeddings, device)
    n = emb.shape[0]
    name, values = group
    subj, grouping, vws = _labels("subjects", subjects, n), _labels(name, values, n), _labels("views", views, n)
    described = {"subject": subj, name.removesuffix("s"): grouping, "view": vws}  # condition or sequence
    _check_values(emb, metric, f"{protocol}: embeddings", described)
    return emb, subj, grouping, vws


def _cross_view(
    emb: torch.Tensor,
    subjects: np.ndarray,
    views: np.ndarray,
    probe_group: np.ndarray,
    groups: Sequence[str],
    gallery: np.ndarray,
    *,
    protocol: str,
    metric: str,
    drop: bool,
    compute_map: bool,
    chunk_size: int | None,
    progress: bool,
) -> ProtocolResult:
    """Shared engine. ``probe_group [n]``: index into ``groups`` or -1; ``gallery [n]``: bool mask."""
    p_idx, g_idx = np.flatnonzero(probe_group >= 0), np.flatnonzero(gallery)
    if len(g_idx) == 0:
        raise ValueError(f"{protocol}: the gallery is empty (no sequence has a gallery condition)")
    if len(p_idx) == 0:
        raise ValueError(f"{protocol}: no probe sequence (no sequence has a probe condition)")
    view_list = sorted(set(views[p_idx]) | set(views[g_idx]))
    n_views, view_code = len(view_list), {v: i for i, v in enumerate(view_list)}
    _, sub = np.unique(subjects, return_inverse=True)
    vw = np.array([view_code.get(v, -1) for v in views])
    p_sub, p_view, p_group = sub[p_idx], vw[p_idx], probe_group[p_idx]

    # Which (subject, gallery view) pairs have a gallery sequence -> has [n_probe, V].
    present = np.zeros((sub.max() + 1, n_views), dtype=bool)
    present[sub[g_idx], vw[g_idx]] = True
    has = present[p_sub]

    g_idx = g_idx[np.argsort(vw[g_idx], kind="stable")]  # gallery grouped by view: slices, no gathers
    bounds = np.searchsorted(vw[g_idx], np.arange(n_views + 1))
    dev = emb.device
    probes = _parts_first(emb[torch.as_tensor(p_idx, device=dev)], metric)  # [p, n_probe, c]
    gal = _parts_first(emb[torch.as_tensor(g_idx, device=dev)], metric)  # [p, m, c]
    gal_sq = _sq_norms(gal) if metric == "euclidean" else None  # [p, 1, m]
    g_sub_t = torch.as_tensor(sub[g_idx], device=dev)
    p_sub_t = torch.as_tensor(p_sub, device=dev)
    hits = np.zeros((len(p_idx), n_views), dtype=bool)  # rank-1
    first = np.full((len(p_idx), n_views), -1)  # position of the first match (with compute_map)
    ap = np.full((len(p_idx), n_views), np.nan)
    inp = np.full((len(p_idx), n_views), np.nan)
    rows = _chunk_rows(emb.shape[1], len(g_idx), chunk_size)
    for start in tqdm(range(0, len(p_idx), rows), desc=protocol, disable=not progress, leave=False):
        stop = min(start + rows, len(p_idx))
        dist = _part_distance(probes[:, start:stop], gal, metric, gal_sq)  # [r, m]
        truth = p_sub_t[start:stop, None]  # [r, 1]
        for v in range(n_views):
            lo, hi = int(bounds[v]), int(bounds[v + 1])
            if lo == hi:
                continue
            d, labels = dist[:, lo:hi], g_sub_t[lo:hi]  # [r, m_v], [m_v]
            if compute_map:
                ranked = rank_probes(d, truth[:, 0], labels)
                first[start:stop, v] = ranked.first_match
                hits[start:stop, v] = ranked.first_match == 0
                ap[start:stop, v] = ranked.average_precision
                inp[start:stop, v] = ranked.inverse_negative_penalty
            else:
                hits[start:stop, v] = (labels[d.argmin(dim=1)] == truth[:, 0]).cpu().numpy()

    gallery_views = bounds[1:] > bounds[:-1]  # [V] views with a gallery sequence
    valid = (has if drop else np.ones_like(has)) & gallery_views  # [n_probe, V]
    cell = p_group * n_views + p_view  # one row per (group, probe view)
    n_cells = len(groups) * n_views
    rank1 = _cell_mean(hits.astype(float), valid, cell, n_cells)
    extra: dict[str, Any] = {}
    mean_ap = None
    if compute_map:
        matched = (first >= 0) & gallery_views
        extra["cmc_summary"] = {
            k: _summary(_cell_mean(((first >= 0) & (first < k)).astype(float), valid, cell, n_cells), groups, view_list)
            for k in RANKS
        }
        extra["minp_summary"] = _summary(_cell_mean(np.nan_to_num(inp), matched, cell, n_cells), groups, view_list)
        mean_ap = _cell_mean(np.nan_to_num(ap), matched, cell, n_cells)
    off_diag = p_view[:, None] != np.arange(n_views)[None, :]
    return _assemble(
        protocol,
        metric,
        drop,
        groups,
        view_list,
        rank1,
        mean_ap,
        **extra,
        num_probes={g: int((p_group == i).sum()) for i, g in enumerate(groups)},
        num_gallery=len(g_idx),
        num_dropped={g: int((~valid & gallery_views & off_diag)[p_group == i].sum()) for i, g in enumerate(groups)},
    )


def _cell_mean(values: np.ndarray, valid: np.ndarray, cell: np.ndarray, n_cells: int) -> np.ndarray:
    """Mean of ``values [n_probe, V]`` over probes of each cell where ``valid`` -> ``[n_cells, V]`` %."""
    total = np.zeros((n_cells, values.shape[1]))
    count = np.zeros((n_cells, values.shape[1]))
    np.add.at(total, cell, np.where(valid, values, 0.0))
    np.add.at(count, cell, valid)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, 100.0 * total / count, np.nan)


def _summary(flat: np.ndarray, groups: Sequence[str], views: list[str]) -> dict[str, float]:
    """Flat ``[groups * V, V]`` cell means -> the protocol's summary per group (as rank-1's)."""
    return _per_view(_tables(flat, groups, views))[1]


def _tables(flat: np.ndarray, groups: Sequence[str], views: list[str]) -> dict[str, pd.DataFrame]:
    n_views, out = len(views), {}
    for i, g in enumerate(groups):
        table = flat[i * n_views : (i + 1) * n_views].copy()  # [V probe, V gallery]
        np.fill_diagonal(table, np.nan)  # identical view excluded
        df = pd.DataFrame(table, index=pd.Index(views, name="probe_view"))
        df.columns = pd.Index(views, name="gallery_view")
        out[g] = df
    return out


def _per_view(tables: dict[str, pd.DataFrame]) -> tuple[pd.DataFrame, dict[str, float]]:
    with warnings.catch_warnings():  # an all-NaN row (no probe in that view) is a legitimate NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        per_view = pd.DataFrame({g: np.nanmean(t.to_numpy(), axis=1) for g, t in tables.items()})
        summary = {g: float(np.nanmean(per_view[g].to_numpy())) for g in tables}
    first = next(iter(tables.values()))
    per_view.index = pd.Index(first.index, name="probe_view")
    return per_view, summary


def _assemble(
    protocol: str,
    metric: str,
    drop: bool,
    groups: Sequence[str],
    views: list[str],
    rank1: np.ndarray,
    mean_ap: np.ndarray | None,
    **counts: Any,
) -> ProtocolResult:
    """Flat ``[groups * V, V]`` cell means -> :class:`ProtocolResult`."""
    r1 = _tables(rank1, groups, views)
    r1_view, r1_summary = _per_view(r1)
    extra: dict[str, Any] = {}
    if mean_ap is not None:
        m = _tables(mean_ap, groups, views)
        m_view, m_summary = _per_view(m)
        extra = {"mean_ap": m, "map_per_view": m_view, "map_summary": m_summary}
    return ProtocolResult(protocol, metric, drop, r1_summary, r1, r1_view, **extra, **counts)


def casia_b(
    embeddings: Embeddings,
    subjects: Sequence[str],
    conditions: Sequence[str],
    views: Sequence[str],
    metric: str = "euclidean",
    *,
    compute_map: bool = True,
    device: torch.device | str | None = None,
    chunk_size: int | None = None,
    progress: bool = False,
) -> ProtocolResult:
    """CASIA-B protocol: gallery NM 01–04; probes NM 05–06, BG 01–02, CL 01–02 (OpenGait).

    ``embeddings [n, p, c]`` (or ``[n, c]``); ``subjects``, ``conditions`` (``"nm-05"``, any case)
    and ``views`` (``"090"``): ``n`` strings each. Returns rank-1 per group ``{"NM", "BG", "CL"}``,
    11 × 11 tables (NaN diagonal), per-probe-view means and mAP. ``device``: where the distance
    matrix is computed (default: the embeddings' own); ``chunk_size``: probe rows per block.
    """
    emb, subj, conds, vws = _inputs("casia_b", embeddings, device, metric, subjects, ("conditions", conditions), views)
    known = {c: i for i, (_, cs) in enumerate(CASIA_B_PROBES.items()) for c in cs}
    conds = np.array([c.lower() for c in conds], dtype=object)
    unknown = sorted(set(conds) - set(known) - set(CASIA_B_GALLERY))
    if unknown:
        raise ValueError(
            f"conditions: unknown CASIA-B condition(s) {unknown[:5]}; expected "
            f"{', '.join(CASIA_B_GALLERY + tuple(known))}"
        )
    probe_group = np.array([known.get(c, -1) for c in conds])
    gallery = np.isin(conds, CASIA_B_GALLERY)
    return _cross_view(
        emb,
        subj,
        vws,
        probe_group,
        list(CASIA_B_PROBES),
        gallery,
        protocol="casia_b",
        metric=metric,
        drop=False,
        compute_map=compute_map,
        chunk_size=chunk_size,
        progress=progress,
    )


def oumvlp(
    embeddings: Embeddings,
    subjects: Sequence[str],
    sequences: Sequence[str],
    views: Sequence[str],
    metric: str = "euclidean",
    drop_probes_without_gallery: bool = False,
    *,
    compute_map: bool = True,
    device: torch.device | str | None = None,
    chunk_size: int | None = None,
    progress: bool = False,
) -> ProtocolResult:
    """OUMVLP protocol: gallery sequence ``"01"``, probe ``"00"``; one group, ``"all"``.

    Default (OpenGait): every probe counts; one whose subject has no gallery sequence in the gallery
    view is a miss. ``drop_probes_without_gallery=True`` leaves such probe × gallery-view pairs out
    (the convention of several papers). ``compute_map=False`` skips the per-view sort (faster on
    OUMVLP-size sets); other arguments as :func:`casia_b`.
    """
    emb, subj, seqs, vws = _inputs("oumvlp", embeddings, device, metric, subjects, ("sequences", sequences), views)
    unknown = sorted(set(seqs) - {OUMVLP_GALLERY, OUMVLP_PROBE})
    if unknown:
        raise ValueError(f"sequences: unknown OUMVLP sequence(s) {unknown[:5]}; expected '00' (probe) or '01'")
    return _cross_view(
        emb,
        subj,
        vws,
        np.where(seqs == OUMVLP_PROBE, 0, -1),
        [OUMVLP_GROUP],
        seqs == OUMVLP_GALLERY,
        protocol="oumvlp",
        metric=metric,
        drop=drop_probes_without_gallery,
        compute_map=compute_map,
        chunk_size=chunk_size,
        progress=progress,
    )
