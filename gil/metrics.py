"""Embedding geometry: hypersphere uniformity and alignment, class-centre angles, margins, distances.

Pure tensors/numpy in, numpy arrays / pandas DataFrames out (plots live in :mod:`gil.plots`).
Embeddings are ``[n, p, c]`` (``[n, c]`` is read as ``p = 1``), torch or numpy; ``labels`` are
``n`` identity labels of any hashable type. Uniformity, alignment and centre angles are computed per
part on L2-normalised embeddings (each part is its own hypersphere, as the parts are separate
embeddings in OpenGait's backbones); margins and distance samples use the evaluation distance (mean
over parts, :func:`gil.evaluate.pairwise_distance`).

References: Wang & Isola, *Understanding Contrastive Representation Learning through Alignment and
Uniformity on the Hypersphere*, ICML 2020 (uniformity ``log E exp(-t |x - y|²)`` over all pairs,
alignment ``E |x - y|^α`` over positive pairs).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from gil.evaluate import METRICS, Embeddings, ProtocolResult, pairwise_distance
from gil.evaluate.protocols import _as_embeddings
from gil.losses.gil import adaptive_margins

__all__ = [
    "CentreGeometry",
    "alignment",
    "centre_geometry",
    "centre_pair_margins",
    "compare_summaries",
    "distance_samples",
    "identity_margins",
    "margin_summary",
    "mean_norm",
    "part_features",
    "project_2d",
    "uniformity",
    "uniformity_alignment",
]

_CHUNK_ELEMENTS = 2**24


def _unit_parts(embeddings: Embeddings) -> torch.Tensor:
    """``[n, p, c]`` -> ``[p, n, c]`` float64, each part L2-normalised over ``c``."""
    x = _as_embeddings(embeddings, "cpu").double()
    if x.shape[0] < 2:
        raise ValueError(f"embeddings: need at least 2 sequences, got shape {tuple(x.shape)}")
    return F.normalize(x.transpose(0, 1), dim=-1)


def _codes(labels: Sequence[Any], n: int) -> tuple[np.ndarray, np.ndarray]:
    """labels -> (classes [k], codes [n] in 0..k-1); checks the length."""
    arr = np.asarray(labels)
    if arr.shape != (n,):
        raise ValueError(f"labels: expected {n} labels (one per embedding), got shape {arr.shape}")
    classes, codes = np.unique(arr, return_inverse=True)
    return classes, codes


def _part_sq_distances(x: torch.Tensor) -> Iterator[torch.Tensor]:
    """Unit ``x [p, n, c]`` -> per part the squared distances of the pairs ``i < j``, ``[n (n-1) / 2]``."""
    iu = torch.triu_indices(x.shape[1], x.shape[1], offset=1)
    for part in x:  # [n, c]
        sq = (2.0 - 2.0 * part @ part.T).clamp_min_(0.0)  # [n, n], |x - y|² on the unit sphere
        yield sq[iu[0], iu[1]]


def uniformity(embeddings: Embeddings, t: float = 2.0) -> np.ndarray:
    """Wang–Isola uniformity per part, ``log mean_{i<j} exp(-t |x_i - x_j|²)`` -> ``[p]``.

    Lower is more uniform; by Jensen it is at least ``-2 t n / (n - 1)`` (the mean squared distance
    of ``n`` unit vectors is at most ``2 n / (n - 1)``). ``.mean()`` gives the average over parts.
    Memory ``O(n²)`` per part.
    """
    x = _unit_parts(embeddings)
    return np.array([float(torch.logsumexp(-t * sq, 0) - math.log(sq.numel())) for sq in _part_sq_distances(x)])


def mean_norm(embeddings: Embeddings) -> float:
    """Mean L2 norm of the part embeddings ``[n, p, c]`` (over ``c``, then the mean over ``n`` and ``p``).

    The cosine-based measures here ignore it; a distance-margin loss does not, and a norm that shrinks towards 0
    is how GIL's margin form failed with GaitSet (``results/gpu/README.md``).
    """
    return float(_as_embeddings(embeddings, "cpu").double().norm(dim=-1).mean())


def batch_geometry(embeddings: torch.Tensor) -> dict[str, float]:
    """The trainer's logged geometry of one batch ``[n, p, c]``: Wang–Isola uniformity (mean over parts) and the
    mean norm — a norm falling towards 0 is the collapse a distance-margin loss can slide into (notebook 04)."""
    return {"geometry/uniformity": float(uniformity(embeddings).mean()), "geometry/mean_norm": mean_norm(embeddings)}


def alignment(embeddings: Embeddings, labels: Sequence[Any], alpha: float = 2.0) -> np.ndarray:
    """Wang–Isola alignment per part, ``mean over positive pairs i<j of |x_i - x_j|^α`` -> ``[p]``.

    Lower is better aligned. Raises when no label occurs twice (no positive pair).
    """
    x = _unit_parts(embeddings)
    _, codes = _codes(labels, x.shape[1])
    iu = np.triu_indices(len(codes), k=1)
    positive = torch.from_numpy(codes[iu[0]] == codes[iu[1]])
    if not bool(positive.any()):
        raise ValueError("labels: alignment needs at least one label that occurs twice (a positive pair)")
    return np.array([float(sq[positive].pow(alpha / 2.0).mean()) for sq in _part_sq_distances(x)])


def uniformity_alignment(
    embeddings: Embeddings, labels: Sequence[Any], t: float = 2.0, alpha: float = 2.0
) -> pd.DataFrame:
    """Both metrics in one table: rows ``"0" … "p-1"`` (parts) and ``"mean"``; columns
    ``uniformity``, ``alignment``."""
    uni, ali = uniformity(embeddings, t), alignment(embeddings, labels, alpha)
    index = pd.Index([str(i) for i in range(len(uni))] + ["mean"], name="part")
    return pd.DataFrame({"uniformity": [*uni, uni.mean()], "alignment": [*ali, ali.mean()]}, index=index)


@dataclass(frozen=True)
class CentreGeometry:
    """Class centres on the hypersphere, per part.

    ``classes [k]``; ``centres [k, p, c]``: mean of a class's unit embeddings, renormalised;
    ``angles [p, k, k]``: pairwise centre angles in degrees (0 on the diagonal); ``nearest``:
    DataFrame, index class, columns parts ``"0" … "p-1"`` and ``"mean"``: angle to the nearest other
    centre in degrees.
    """

    classes: np.ndarray
    centres: np.ndarray
    angles: np.ndarray
    nearest: pd.DataFrame

    def pair_angles(self) -> np.ndarray:
        """Angles of each unordered centre pair, per part -> ``[p, k (k-1) / 2]`` degrees."""
        iu = np.triu_indices(len(self.classes), k=1)
        return self.angles[:, iu[0], iu[1]]


def centre_geometry(embeddings: Embeddings, labels: Sequence[Any]) -> CentreGeometry:
    """Normalised class centres per part, pairwise centre angles and nearest-other-centre angles."""
    x = _unit_parts(embeddings)  # [p, n, c]
    classes, codes = _codes(labels, x.shape[1])
    if len(classes) < 2:
        raise ValueError(f"labels: centre geometry needs at least 2 classes, got {len(classes)}")
    sums = x.new_zeros(x.shape[0], len(classes), x.shape[2]).index_add_(1, torch.from_numpy(codes), x)
    centres = F.normalize(sums, dim=-1)  # [p, k, c]
    cos = (centres @ centres.transpose(1, 2)).clamp_(-1.0, 1.0)  # [p, k, k]
    angles = torch.rad2deg(torch.arccos(cos)).numpy()
    for part in angles:
        np.fill_diagonal(part, 0.0)
    others = angles + np.where(np.eye(len(classes), dtype=bool), np.inf, 0.0)
    nearest = others.min(axis=2).T  # [k, p]
    columns = [str(i) for i in range(nearest.shape[1])]
    frame = pd.DataFrame(nearest, index=pd.Index(classes, name="class"), columns=columns)
    frame["mean"] = nearest.mean(axis=1)
    return CentreGeometry(classes, centres.transpose(0, 1).numpy(), angles, frame)


def identity_margins(
    embeddings: Embeddings, labels: Sequence[Any], metric: str = "euclidean", normalize: bool = False
) -> pd.DataFrame:
    """Per-identity margin on the mean-over-parts distance -> DataFrame indexed by identity.

    Columns: ``count``; ``farthest_same`` (largest distance between two of its sequences, NaN for a
    single sequence); ``nearest_other`` (smallest distance from one of its sequences to another
    identity's); ``margin = nearest_other - farthest_same`` (> 0: a ball around the identity
    separates it). ``normalize``: L2-normalise each part first. Rows are computed in chunks.
    """
    x = _as_embeddings(embeddings, "cpu").double()
    classes, codes = _codes(labels, x.shape[0])
    if len(classes) < 2:
        raise ValueError(f"labels: margins need at least 2 identities, got {len(classes)}")
    if normalize:
        x = F.normalize(x, dim=-1)
    lab = torch.from_numpy(codes)
    far = np.full(x.shape[0], -np.inf)  # per sequence: farthest same-identity sequence
    near = np.full(x.shape[0], np.inf)  # per sequence: nearest other-identity sequence
    rows = max(1, _CHUNK_ELEMENTS // max(1, x.shape[0] * x.shape[1]))
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
    frame = pd.DataFrame(
        {"count": count, "farthest_same": far_id, "nearest_other": near_id, "margin": near_id - far_id},
        index=pd.Index(classes, name="identity"),
    )
    return frame


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
    x = _as_embeddings(embeddings, "cpu").double()
    _, codes = _codes(labels, x.shape[0])
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
    step = max(1, _CHUNK_ELEMENTS // max(1, x.shape[1] * x.shape[2]))
    for s in range(0, len(i), step):
        a, b = x[torch.from_numpy(i[s : s + step])], x[torch.from_numpy(j[s : s + step])]  # [r, p, c]
        if metric == "cosine":
            d = 1.0 - F.cosine_similarity(a, b, dim=-1)  # [r, p]
        else:
            d = (a - b).norm(dim=-1)  # [r, p]
        out[s : s + step] = d.mean(1).numpy()
    return out


# --- results notebooks (02–05): projections, summary tables, margins on class centres ----------------
PROJECTIONS = ("umap", "tsne")
PART_REDUCTIONS = ("mean", "flatten")


def part_features(embeddings: Embeddings, parts: str = "mean") -> np.ndarray:
    """One feature vector per sequence, from ``[n, p, c]`` embeddings -> ``[n, d]`` float64.

    ``parts="mean"``: mean over parts of the L2-normalised parts (``d = c``); ``"flatten"``: the
    L2-normalised parts concatenated and divided by ``sqrt(p)`` (``d = p c``, unit norm; its squared
    Euclidean distances are the mean over parts of the per-part squared distances).
    """
    if parts not in PART_REDUCTIONS:
        raise ValueError(f"parts: expected one of {PART_REDUCTIONS}, got {parts!r}")
    x = F.normalize(_as_embeddings(embeddings, "cpu").double(), dim=-1)  # [n, p, c]
    if parts == "mean":
        return x.mean(1).numpy()
    return (x.flatten(1) / math.sqrt(x.shape[1])).numpy()


def project_2d(
    embeddings: Embeddings,
    method: str = "umap",
    seed: int = 0,
    parts: str = "mean",
    n_neighbors: int = 15,
    perplexity: float = 30.0,
) -> np.ndarray:
    """2-D map of the sequences for a scatter plot -> ``[n, 2]``.

    ``method``: ``"umap"`` (umap-learn, cosine metric; ``n_neighbors`` is lowered to ``n - 1`` for
    small sets) or ``"tsne"`` (scikit-learn, PCA init; ``perplexity`` is lowered to ``(n - 1) / 3``).
    ``parts``: how the parts become one vector, see :func:`part_features`. ``seed`` makes it
    repeatable (UMAP then runs single-threaded). The first ``import umap`` takes ~15 s (numba).
    """
    if method not in PROJECTIONS:
        raise ValueError(f"method: expected one of {PROJECTIONS}, got {method!r}")
    features = part_features(embeddings, parts)
    n = features.shape[0]
    if n < 4:
        raise ValueError(f"embeddings: a 2-D projection needs at least 4 sequences, got {n}")
    if method == "umap":
        import umap  # deferred: numba compilation on first import

        reducer = umap.UMAP(
            n_components=2,
            n_neighbors=max(2, min(n_neighbors, n - 1)),
            metric="cosine",
            random_state=seed,
            n_jobs=1,
        )
        coords = reducer.fit_transform(features)
    else:
        from sklearn.manifold import TSNE

        reducer = TSNE(n_components=2, perplexity=min(perplexity, (n - 1) / 3), init="pca", random_state=seed)
        coords = reducer.fit_transform(features)
    return np.asarray(coords, dtype=float)


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
    """Per run, from :func:`identity_margins` tables: ``identities``, ``positive`` (share of identities
    with a margin > 0), median ``margin``, mean ``farthest_same`` and ``nearest_other``."""
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


def centre_pair_margins(
    centres: np.ndarray, m0: float = 0.2, kappa: float = 0.5, m_min: float = 0.05, m_max: float = 0.5
) -> pd.DataFrame:
    """The adaptive margins GIL assigns to every pair of class centres (:func:`gil.losses.gil.adaptive_margins`).

    ``centres [k, p, c]``: unit class centres (``CentreGeometry.centres``). Returns one row per part and
    unordered pair ``a < b``: columns ``part``, ``a``, ``b`` (class indices), ``cosine`` (``μ_a·μ_b``)
    and ``margin``. Defaults are :class:`gil.losses.gil.GILConfig`'s.
    """
    mu = torch.as_tensor(np.asarray(centres), dtype=torch.float64).transpose(0, 1)  # [p, k, c]
    if mu.ndim != 3 or mu.shape[1] < 2:
        raise ValueError(f"centres: expected [k >= 2, p, c], got shape {tuple(np.shape(centres))}")
    margins = adaptive_margins(mu, m0, kappa, m_min, m_max).numpy()  # [p, k, k]
    cosine = (mu @ mu.transpose(1, 2)).numpy()
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
