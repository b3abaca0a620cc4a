"""Low-dimensional views of embeddings ``[n, p, c]`` for the figures: one feature vector per sequence
``[n, d]`` and its 2-D map ``[n, 2]`` (UMAP or t-SNE)."""

from __future__ import annotations

import math

import numpy as np
import torch.nn.functional as F

from gil.evaluate import Embeddings
from gil.metrics._inputs import as_float64

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
    x = F.normalize(as_float64(embeddings), dim=-1)  # [n, p, c]
    if parts == "mean":
        return x.mean(1).numpy()  # [n, c]
    return (x.flatten(1) / math.sqrt(x.shape[1])).numpy()  # [n, p c]


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
    features = part_features(embeddings, parts)  # [n, d]
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
    return np.asarray(coords, dtype=float)  # [n, 2]
