"""Ranking measures of a probe × gallery distance matrix: CMC rank-k, average precision, INP (OpenGait's formulas).

For one probe the gallery is ranked by distance (ties: the lower gallery index first, a stable sort); its
*matches* are the gallery items of the probe's identity. With ``first`` the 0-based position of the first
match, ``last`` that of the last one and ``R`` the number of matches:

- rank-k hit: ``first < k`` (CMC at k is the share of probes with a hit);
- AP: the mean over the matches of (matches so far) / (position + 1);
- INP (inverse negative penalty, Ye et al. 2021): ``R / (last + 1)``; mINP is its mean.

A probe without any match has no AP and no INP (NaN). Gallery items can be *excluded* per probe (OpenGait's
cross-view gallery drops the probe's own identity in the probe's view; ``evaluate_many`` its identity in its
camera): an excluded item is removed from that probe's ranking, as if it were not in the gallery.

OpenGait's ``evaluate_rank`` / ``evaluate_many`` / ``compute_ACC_mAP`` sort with ``np.argsort``'s default
(quicksort), whose order among equal distances is not specified; everything else here is their formula.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

RANKS = (1, 5, 10)

__all__ = ["RANKS", "ProbeRanking", "cmc", "rank_probes"]


@dataclass(frozen=True)
class ProbeRanking:
    """Per-probe outcome of :func:`rank_probes`, numpy arrays ``[q]``.

    ``first_match``: 0-based position of the first match in the ranked gallery, ``-1`` without a match;
    ``average_precision`` and ``inverse_negative_penalty``: in ``[0, 1]``, NaN without a match.
    """

    first_match: np.ndarray
    average_precision: np.ndarray
    inverse_negative_penalty: np.ndarray

    @property
    def matched(self) -> np.ndarray:
        """``[q]`` bool: the probe's identity is in (its part of) the gallery."""
        return self.first_match >= 0


def rank_probes(
    distance: torch.Tensor,
    probe_labels: torch.Tensor,
    gallery_labels: torch.Tensor,
    exclude: torch.Tensor | None = None,
) -> ProbeRanking:
    """Rank the gallery for every probe.

    ``distance [q, m]`` (finite; smaller is closer), ``probe_labels [q]`` and ``gallery_labels [m]`` integer
    identity codes, ``exclude [q, m]`` bool: gallery items left out of that probe's ranking. Memory is
    ``O(q · m)``: callers pass row blocks of large matrices.
    """
    if distance.ndim != 2 or distance.shape != (len(probe_labels), len(gallery_labels)):
        raise ValueError(
            f"distance: expected shape [{len(probe_labels)}, {len(gallery_labels)}] (probes, gallery), "
            f"got {tuple(distance.shape)}"
        )
    if exclude is not None:
        if exclude.shape != distance.shape:
            raise ValueError(f"exclude: expected shape {tuple(distance.shape)}, got {tuple(exclude.shape)}")
        distance = distance.masked_fill(exclude, torch.inf)  # excluded items sort last and never match
    order = torch.argsort(distance, dim=1, stable=True)  # [q, m]
    match = gallery_labels[order] == probe_labels[:, None]  # [q, m], in ranked order
    if exclude is not None:
        match &= ~exclude.gather(1, order)
    q, m = match.shape
    any_match = match.any(1)
    first = torch.where(any_match, match.int().argmax(1), -1)  # argmax: the first maximal index
    last = m - 1 - match.flip(1).int().argmax(1)
    num_matches = match.sum(1, dtype=torch.float64)
    inp = torch.where(any_match, num_matches / (last + 1).double(), torch.nan)
    return ProbeRanking(
        first_match=first.cpu().numpy(),
        average_precision=average_precision(match).cpu().numpy(),
        inverse_negative_penalty=inp.cpu().numpy(),
    )


def average_precision(match: torch.Tensor) -> torch.Tensor:
    """``match [r, m]`` bool, gallery sorted by distance -> AP ``[r]`` float64 (NaN where no match).

    AP = mean over the relevant items of (relevant items so far) / (rank); only the relevant
    positions are touched in float64.
    """
    found = match.cumsum(1, dtype=torch.int32)  # [r, m], relevant items up to each rank
    row, pos = match.nonzero(as_tuple=True)
    precision = found[row, pos].double() / (pos + 1).double()  # [n_relevant]
    total = torch.zeros(match.shape[0], dtype=torch.float64, device=match.device).index_add_(0, row, precision)
    num_rel = found[:, -1].double() if match.shape[1] else torch.zeros(match.shape[0], dtype=torch.float64)
    return torch.where(num_rel > 0, total / num_rel.clamp_min(1), torch.nan)


def cmc(first_match: np.ndarray, k: int, *, misses_count: bool) -> float:
    """Rank-k accuracy in percent from a :class:`ProbeRanking`'s ``first_match`` ``[q]``.

    ``misses_count=False`` (OpenGait's ``evaluate_rank``, Gait3D/GREW style): probes without a match are left
    out. ``misses_count=True`` (its ``compute_ACC_mAP``, the cross-view gallery): they count as misses. NaN
    when no probe is left.
    """
    if k < 1:
        raise ValueError(f"rank k: expected an integer >= 1, got {k}")
    considered = first_match if misses_count else first_match[first_match >= 0]
    if len(considered) == 0:
        return float("nan")
    return 100.0 * float(np.mean((considered >= 0) & (considered < k)))
