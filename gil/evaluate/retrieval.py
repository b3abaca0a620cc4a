"""Whole-gallery protocols: OpenGait's cross-view gallery, and a generic probe/gallery evaluation.

Both rank one gallery (every view together) for each probe with :mod:`gil.evaluate.ranking` and report rank-1/5/10,
mAP and mINP in a :class:`~gil.evaluate.result.ProtocolResult`.

- :func:`cross_view_gallery` (OpenGait's ``cross_view_gallery_evaluation``; Yu et al., "A Comprehensive Study on
  the Evaluation of Silhouette-based Gait Recognition"): CASIA-B probes ``nm-01`` / ``bg-01`` / ``cl-01`` against
  the gallery ``nm-02`` + ``bg-02`` + ``cl-02`` of all views; OU-MVLP ``00`` against ``01``. A probe's own identity
  in its own view is removed from its gallery. Rank-k counts every probe (one without a match is a miss), mAP and
  mINP the probes with a match (``compute_ACC_mAP``); the result per probe view, then the mean over probe views.
  OpenGait rounds each view to two decimals before that mean; we do not.
- :func:`probe_gallery` (OpenGait's ``evaluate_rank`` for Gait3D / GREW style sets, ``evaluate_many`` for CCPG):
  any probe and gallery masks, optionally removing the probe's identity in its own view (camera) from its
  gallery. Probes whose identity is not in the gallery are left out of every measure and counted.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from gil.evaluate.distance import Embeddings, _chunk_rows, _part_distance, _parts_first, _sq_norms
from gil.evaluate.protocols import _inputs, _labels
from gil.evaluate.ranking import RANKS, ProbeRanking, cmc, rank_probes
from gil.evaluate.result import ProtocolResult

CROSS_VIEW_PROBES = {
    "casia-b": {"NM": ("nm-01",), "BG": ("bg-01",), "CL": ("cl-01",)},
    "oumvlp": {"all": ("00",)},
}
CROSS_VIEW_GALLERY = {"casia-b": ("nm-02", "bg-02", "cl-02"), "oumvlp": ("01",)}

__all__ = ["CROSS_VIEW_GALLERY", "CROSS_VIEW_PROBES", "cross_view_gallery", "probe_gallery", "type_mask"]


def type_mask(types: Sequence[str], wanted: Iterable[str], name: str) -> np.ndarray:
    """``[n]`` bool: the sequences whose type (condition) is one of ``wanted``; refuses types that no sequence
    has, naming ``name`` (the parameter) and the types present."""
    types_arr = np.asarray([str(t).strip() for t in types], dtype=object)
    wanted = [str(w).strip() for w in wanted]
    if not wanted:
        raise ValueError(f"{name}: expected at least one sequence type")
    present = set(types_arr)
    missing = [w for w in wanted if w not in present]
    if missing:
        shown = ", ".join(sorted(present)[:12]) + (" ..." if len(present) > 12 else "")
        raise ValueError(f"{name}: no sequence has type(s) {missing}; the types present are {shown}")
    return np.isin(types_arr, wanted)


def _rank_against_gallery(
    emb: torch.Tensor,
    probe_idx: np.ndarray,
    gallery_idx: np.ndarray,
    identity: np.ndarray,
    view: np.ndarray | None,
    *,
    metric: str,
    chunk_size: int | None,
    progress: bool,
    desc: str,
) -> ProbeRanking:
    """Rank the gallery ``gallery_idx`` for every probe in ``probe_idx`` (indices into ``emb [n, p, c]``).

    ``identity [n]`` integer codes; ``view [n]`` codes or None: with it, gallery items of the probe's identity
    and the probe's view are removed from that probe's ranking.
    """
    dev = emb.device
    probes = _parts_first(emb[torch.as_tensor(probe_idx, device=dev)], metric)  # [p, q, c]
    gallery = _parts_first(emb[torch.as_tensor(gallery_idx, device=dev)], metric)  # [p, m, c]
    gallery_sq = _sq_norms(gallery) if metric == "euclidean" else None
    p_id, g_id = (torch.as_tensor(identity[i], device=dev) for i in (probe_idx, gallery_idx))
    if view is not None:
        p_view, g_view = (torch.as_tensor(view[i], device=dev) for i in (probe_idx, gallery_idx))
    rows = _chunk_rows(emb.shape[1], len(gallery_idx), chunk_size)
    parts: list[ProbeRanking] = []
    for start in tqdm(range(0, len(probe_idx), rows), desc=desc, disable=not progress, leave=False):
        stop = min(start + rows, len(probe_idx))
        dist = _part_distance(probes[:, start:stop], gallery, metric, gallery_sq)  # [r, m]
        exclude = None
        if view is not None:
            exclude = (g_id[None, :] == p_id[start:stop, None]) & (g_view[None, :] == p_view[start:stop, None])
        parts.append(rank_probes(dist, p_id[start:stop], g_id, exclude))
    return ProbeRanking(*(np.concatenate([getattr(r, f) for r in parts]) for f in ProbeRanking.__dataclass_fields__))


def _codes(values: np.ndarray) -> np.ndarray:
    return np.unique(values, return_inverse=True)[1].reshape(-1)


def _mean(values: np.ndarray) -> float:
    return 100.0 * float(np.mean(values)) if len(values) else float("nan")


def cross_view_gallery(
    embeddings: Embeddings,
    subjects: Sequence[str],
    types: Sequence[str],
    views: Sequence[str],
    dataset: str = "casia-b",
    metric: str = "euclidean",
    *,
    device: torch.device | str | None = None,
    chunk_size: int | None = None,
    progress: bool = False,
) -> ProtocolResult:
    """OpenGait's cross-view-gallery protocol on CASIA-B (``dataset="casia-b"``) or OU-MVLP (``"oumvlp"``).

    ``embeddings [n, p, c]`` (or ``[n, c]``); ``subjects``, ``types`` (conditions ``"nm-01"`` or OU-MVLP
    sequences ``"00"``) and ``views``: ``n`` strings each; sequences of other types are not used. Returns
    rank-1/5/10, mAP and mINP per probe group; ``rank1_per_view`` / ``map_per_view``: probe view × group.
    """
    if dataset not in CROSS_VIEW_PROBES:
        raise ValueError(f"dataset: expected one of {', '.join(CROSS_VIEW_PROBES)}, got {dataset!r}")
    protocol = f"{dataset.replace('-', '_')}_cross_view"
    emb, subj, kinds, vws = _inputs(protocol, embeddings, device, metric, subjects, ("types", types), views)
    kinds = np.array([k.lower() for k in kinds], dtype=object)
    groups = CROSS_VIEW_PROBES[dataset]
    gallery_idx = np.flatnonzero(np.isin(kinds, CROSS_VIEW_GALLERY[dataset]))
    if len(gallery_idx) == 0:
        raise ValueError(
            f"{protocol}: the gallery is empty (no sequence of type {', '.join(CROSS_VIEW_GALLERY[dataset])})"
        )
    identity, view_code = _codes(subj), _codes(vws)
    view_list = sorted(set(vws))
    per_group: dict[str, dict[str, np.ndarray]] = {}
    num_probes: dict[str, int] = {}
    for group, probe_types in groups.items():
        probe_idx = np.flatnonzero(np.isin(kinds, probe_types))
        num_probes[group] = len(probe_idx)
        ranked = _rank_against_gallery(
            emb, probe_idx, gallery_idx, identity, view_code,
            metric=metric, chunk_size=chunk_size, progress=progress, desc=f"{protocol} {group}",
        )  # fmt: skip
        probe_view = vws[probe_idx]
        measures: dict[str, list[float]] = {f"rank-{k}": [] for k in RANKS} | {"mAP": [], "mINP": []}
        for v in view_list:
            at = probe_view == v
            for k in RANKS:
                measures[f"rank-{k}"].append(cmc(ranked.first_match[at], k, misses_count=True) if at.any() else np.nan)
            matched = at & ranked.matched
            measures["mAP"].append(_mean(ranked.average_precision[matched]))
            measures["mINP"].append(_mean(ranked.inverse_negative_penalty[matched]))
        per_group[group] = {name: np.asarray(values) for name, values in measures.items()}
    if not any(num_probes.values()):
        raise ValueError(f"{protocol}: no probe sequence (no sequence of type {sorted(sum(groups.values(), ()))})")

    def per_view(measure: str) -> pd.DataFrame:
        frame = pd.DataFrame(
            {g: m[measure] for g, m in per_group.items()}, index=pd.Index(view_list, name="probe_view")
        )
        return frame

    def summary(measure: str) -> dict[str, float]:
        with warnings.catch_warnings():  # a group without probes is a legitimate NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            return {g: float(np.nanmean(m[measure])) for g, m in per_group.items()}

    return ProtocolResult(
        protocol=protocol,
        metric=metric,
        drop_probes_without_gallery=False,
        summary=summary("rank-1"),
        rank1={},
        rank1_per_view=per_view("rank-1"),
        map_summary=summary("mAP"),
        map_per_view=per_view("mAP"),
        cmc_summary={k: summary(f"rank-{k}") for k in RANKS},
        minp_summary=summary("mINP"),
        num_probes=num_probes,
        num_gallery=len(gallery_idx),
        num_dropped={g: 0 for g in groups},
    )


def probe_gallery(
    embeddings: Embeddings,
    labels: Sequence[Any],
    probe: Sequence[bool] | np.ndarray,
    gallery: Sequence[bool] | np.ndarray | None = None,
    *,
    views: Sequence[Any] | None = None,
    exclude_same_view: bool = False,
    metric: str = "euclidean",
    group: str = "all",
    device: torch.device | str | None = None,
    chunk_size: int | None = None,
    progress: bool = False,
) -> ProtocolResult:
    """Rank-1/5/10, mAP and mINP of the ``probe`` sequences against the ``gallery`` ones (one group).

    ``embeddings [n, p, c]`` (or ``[n, c]``); ``labels [n]``: identities; ``probe`` / ``gallery``: ``[n]`` bool
    masks (gallery default: every sequence that is not a probe; build masks from sequence types with
    :func:`type_mask`). ``views [n]`` (views or cameras) with ``exclude_same_view=True`` removes the probe's
    identity in the probe's view from its gallery (OpenGait's ``evaluate_many``, CCPG). Probes whose identity has
    no gallery sequence are left out of every measure (``num_dropped[group]``), as OpenGait does; rank-k for k
    beyond the gallery size is 100 (every remaining probe has its match somewhere). Examples:

    - GREW: ``probe=type_mask(types, ["02"], "probe")``, ``gallery=type_mask(types, ["01"], "gallery")``;
    - Gait3D: ``probe`` = the sequences of ``Gait3D.json``'s ``PROBE_SET``, gallery the rest.
    """
    if exclude_same_view and views is None:
        raise ValueError("probe_gallery: exclude_same_view=True needs views (one view or camera per sequence)")
    n = len(embeddings)
    label_arr = _labels("labels", labels, n)
    view_arr = _labels("views", views if views is not None else ["-"] * n, n)
    emb, _, _, _ = _inputs("probe_gallery", embeddings, device, metric, label_arr, ("groups", [group] * n), view_arr)
    probe_mask = _mask("probe", probe, n)
    gallery_mask = ~probe_mask if gallery is None else _mask("gallery", gallery, n)
    probe_idx, gallery_idx = np.flatnonzero(probe_mask), np.flatnonzero(gallery_mask)
    if len(probe_idx) == 0:
        raise ValueError("probe_gallery: probe selects no sequence")
    if len(gallery_idx) == 0:
        raise ValueError("probe_gallery: the gallery is empty")
    ranked = _rank_against_gallery(
        emb, probe_idx, gallery_idx, _codes(label_arr), _codes(view_arr) if exclude_same_view else None,
        metric=metric, chunk_size=chunk_size, progress=progress, desc="probe_gallery",
    )  # fmt: skip
    if not ranked.matched.any():
        raise ValueError("probe_gallery: no probe's identity is in the gallery")
    kept = ranked.matched
    cmc_summary = {k: {group: cmc(ranked.first_match, k, misses_count=False)} for k in RANKS}
    return ProtocolResult(
        protocol="probe_gallery",
        metric=metric,
        drop_probes_without_gallery=True,
        summary=dict(cmc_summary[1]),
        rank1={},
        rank1_per_view=pd.DataFrame(),
        map_summary={group: _mean(ranked.average_precision[kept])},
        cmc_summary=cmc_summary,
        minp_summary={group: _mean(ranked.inverse_negative_penalty[kept])},
        num_probes={group: len(probe_idx)},
        num_gallery=len(gallery_idx),
        num_dropped={group: int((~kept).sum())},
    )


def _mask(name: str, mask: Sequence[bool] | np.ndarray, n: int) -> np.ndarray:
    arr = np.asarray(mask)
    if arr.shape != (n,) or arr.dtype != bool:
        raise ValueError(
            f"{name}: expected a bool mask of shape [{n}] (one per embedding), got {arr.dtype} {arr.shape}"
        )
    return arr
