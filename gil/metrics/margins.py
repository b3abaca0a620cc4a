"""How far apart the identities are: per-identity margins and pair-distance samples of embeddings ``[n, p, c]``,
and the adaptive margins GIL assigns to pairs of class centres ``[k, p, c]``.

Margins and distance samples use the evaluation distance, the mean over parts
(:func:`gil.evaluate.distance.pairwise_distance`); the centre margins are the loss's own rule
(:func:`gil.losses.gil.adaptive_margins`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from gil.evaluate import METRICS, Embeddings, pairwise_distance
from gil.losses.gil import GILConfig, adaptive_margins
from gil.metrics._inputs import CHUNK_ELEMENTS, as_float64, label_codes


def identity_margins(
    embeddings: Embeddings, labels: Sequence[Any], metric: str = "euclidean", normalize: bool = False
) -> pd.DataFrame:
    """Per-identity margin on the mean-over-parts distance -> DataFrame indexed by identity.

    Columns: ``count``; ``farthest_same`` (largest distance between two of its sequences, NaN for a
    single sequence); ``nearest_other`` (smallest distance from one of its sequences to another
    identity's); ``margin = nearest_other - farthest_same`` (> 0: a ball around the identity
    separates it). ``normalize``: L2-normalise each part first. Rows are computed in chunks.
    """
    x = as_float64(embeddings)  # [n, p, c]
    classes, codes = label_codes(labels, x.shape[0])
    if len(classes) < 2:
        raise ValueError(f"labels: margins need at least 2 identities, got {len(classes)}")
    if normalize:
        x = F.normalize(x, dim=-1)
    lab = torch.from_numpy(codes)
    far = np.full(x.shape[0], -np.inf)  # per sequence: farthest same-identity sequence
    near = np.full(x.shape[0], np.inf)  # per sequence: nearest other-identity sequence
    rows = max(1, CHUNK_ELEMENTS // max(1, x.shape[0] * x.shape[1]))
    for start in range(0, x.shape[0], rows):
        d = pairwise_distance(x[start : start + rows], x, metric)  # [r, n]
        r = torch.arange(d.shape[0])
        same = lab[start : start + rows, None] == lab[None, :]  # [r, n], includes itself
        near[start : start + rows] = torch.where(same, torch.inf, d).amin(1).numpy()
        same[r, start + r] = False  # a sequence is not its own farthest neighbour
        far[start : start + rows] = torch.where(same, d, -torch.inf).amax(1).numpy()
    count = np.bincount(codes, minlength=len(classes))
    far_id = np.full(len(classes), -np.inf)
    near_id = np.full(len(classes), np.inf)
    np.maximum.at(far_id, codes, far)
    np.minimum.at(near_id, codes, near)
    far_id[~np.isfinite(far_id)] = np.nan
    return pd.DataFrame(
        {"count": count, "farthest_same": far_id, "nearest_other": near_id, "margin": near_id - far_id},
        index=pd.Index(classes, name="identity"),
    )


def distance_samples(
    embeddings: Embeddings,
    labels: Sequence[Any],
    metric: str = "euclidean",
    normalize: bool = False,
    max_pairs: int = 20_000,
    seed: int = 0,
) -> pd.DataFrame:
    """Mean-over-parts distances of positive and negative pairs, for histograms.

    Returns a DataFrame with columns ``i``, ``j`` (sequence indices, ``i < j``), ``distance`` and
    ``pair`` (``"positive"`` / ``"negative"``): every pair of a kind when there are at most
    ``max_pairs`` of it, else ``max_pairs`` drawn without replacement with ``seed``.
    """
    if metric not in METRICS:
        raise ValueError(f"metric: unknown {metric!r}; known: {', '.join(METRICS)}")
    if max_pairs < 1:
        raise ValueError(f"max_pairs: expected a positive number, got {max_pairs}")
    x = as_float64(embeddings)  # [n, p, c]
    _, codes = label_codes(labels, x.shape[0])
    if normalize:
        x = F.normalize(x, dim=-1)
    rng = np.random.default_rng(seed)
    frames = []
    for kind, i, j in (
        ("positive", *_positive_pairs(codes)),
        ("negative", *_negative_pairs(codes, max_pairs, rng)),
    ):
        if len(i) > max_pairs:
            keep = np.sort(rng.choice(len(i), size=max_pairs, replace=False))
            i, j = i[keep], j[keep]
        d = _pair_distance(x, i, j, metric)
        frames.append(pd.DataFrame({"i": i, "j": j, "distance": d, "pair": kind}))
    return pd.concat(frames, ignore_index=True)


def _positive_pairs(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All ``i < j`` with the same label (enumerated class by class: no ``n²`` mask)."""
    i_all, j_all = [], []
    for members in np.split(np.argsort(codes, kind="stable"), np.cumsum(np.bincount(codes))[:-1]):
        a, b = np.triu_indices(len(members), k=1)
        i_all.append(members[a])
        j_all.append(members[b])
    return np.concatenate(i_all), np.concatenate(j_all)


def _negative_pairs(codes: np.ndarray, max_pairs: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """All negative ``i < j`` pairs when few enough, else ``> max_pairs`` distinct random ones."""
    n = len(codes)
    if n * (n - 1) // 2 <= 4 * max_pairs or codes.min() == codes.max():
        i, j = np.triu_indices(n, k=1)
        keep = codes[i] != codes[j]
        return i[keep], j[keep]
    keys = np.empty(0, dtype=np.int64)  # pair (p, q) as p * n + q
    while len(keys) < max_pairs:  # rejection sampling; negatives are the vast majority of pairs
        a, b = rng.integers(0, n, size=(2, 2 * max_pairs))
        p, q = np.minimum(a, b), np.maximum(a, b)
        ok = (p != q) & (codes[p] != codes[q])
        keys = np.union1d(keys, p[ok] * n + q[ok])
    return keys // n, keys % n


def _pair_distance(x: torch.Tensor, i: np.ndarray, j: np.ndarray, metric: str) -> np.ndarray:
    """Mean-over-parts distance of the listed pairs of ``x [n, p, c]`` -> ``[len(i)]``."""
    out = np.empty(len(i))
    step = max(1, CHUNK_ELEMENTS // max(1, x.shape[1] * x.shape[2]))
    for s in range(0, len(i), step):
        a, b = x[torch.from_numpy(i[s : s + step])], x[torch.from_numpy(j[s : s + step])]  # [r, p, c]
        if metric == "cosine":
            d = 1.0 - F.cosine_similarity(a, b, dim=-1)  # [r, p]
        else:
            d = (a - b).norm(dim=-1)  # [r, p]
        out[s : s + step] = d.mean(1).numpy()
    return out


def centre_pair_margins(centres: np.ndarray, settings: GILConfig | None = None) -> pd.DataFrame:
    """The adaptive margins GIL assigns to every pair of class centres (:func:`gil.losses.gil.adaptive_margins`).

    ``centres [k, p, c]``: unit class centres (``CentreGeometry.centres``). Returns one row per part and
    unordered pair ``a < b``: columns ``part``, ``a``, ``b`` (class indices), ``cosine`` (``μ_a·μ_b``)
    and ``margin``, under ``settings``' rule (m0, κ, m_min, m_max; default: :class:`gil.losses.gil.GILConfig()`).
    """
    mu = torch.as_tensor(np.asarray(centres), dtype=torch.float64).transpose(0, 1)  # [p, k, c]
    if mu.ndim != 3 or mu.shape[1] < 2:
        raise ValueError(f"centres: expected [k >= 2, p, c], got shape {tuple(np.shape(centres))}")
    margins = adaptive_margins(mu, settings or GILConfig()).numpy()  # [p, k, k]
    cosine = (mu @ mu.transpose(1, 2)).numpy()  # [p, k, k]
    a, b = np.triu_indices(mu.shape[1], k=1)
    parts = mu.shape[0]
    return pd.DataFrame(
        {
            "part": np.repeat(np.arange(parts), len(a)),
            "a": np.tile(a, parts),
            "b": np.tile(b, parts),
            "cosine": cosine[:, a, b].ravel(),
            "margin": margins[:, a, b].ravel(),
        }
    )
