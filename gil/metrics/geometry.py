"""Hypersphere geometry of embeddings ``[n, p, c]``: Wang–Isola uniformity and alignment, the mean norm, and the
class centres with their angles.

Everything is per part on L2-normalised embeddings (each part is its own hypersphere, as the parts are separate
embeddings in OpenGait's backbones), except :func:`mean_norm`, which measures the norm the others ignore.

Reference: Wang & Isola, *Understanding Contrastive Representation Learning through Alignment and Uniformity on
the Hypersphere*, ICML 2020 (uniformity ``log E exp(-t |x - y|²)`` over all pairs, alignment ``E |x - y|^α`` over
positive pairs).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from gil.evaluate import Embeddings
from gil.metrics._inputs import as_float64, label_codes, unit_parts

WANG_ISOLA_T = 2.0  # Wang & Isola's uniformity temperature (GILConfig.t uses the same value for L_u)


def _part_sq_distances(x: torch.Tensor) -> Iterator[torch.Tensor]:
    """Unit ``x [p, n, c]`` -> per part the squared distances of the pairs ``i < j``, ``[n (n-1) / 2]``."""
    iu = torch.triu_indices(x.shape[1], x.shape[1], offset=1)
    for part in x:  # [n, c]
        sq = (2.0 - 2.0 * part @ part.T).clamp_min_(0.0)  # [n, n], |x - y|² on the unit sphere
        yield sq[iu[0], iu[1]]


def uniformity(embeddings: Embeddings, t: float = WANG_ISOLA_T) -> np.ndarray:
    """Wang–Isola uniformity per part, ``log mean_{i<j} exp(-t |x_i - x_j|²)`` -> ``[p]``.

    Lower is more uniform; by Jensen it is at least ``-2 t n / (n - 1)`` (the mean squared distance
    of ``n`` unit vectors is at most ``2 n / (n - 1)``). ``.mean()`` gives the average over parts.
    Memory ``O(n²)`` per part.
    """
    x = unit_parts(embeddings)
    return np.array([float(torch.logsumexp(-t * sq, 0) - math.log(sq.numel())) for sq in _part_sq_distances(x)])


def mean_norm(embeddings: Embeddings) -> float:
    """Mean L2 norm of the part embeddings ``[n, p, c]`` (over ``c``, then the mean over ``n`` and ``p``).

    The cosine-based measures here ignore it; a distance-margin loss does not, and a norm that shrinks towards 0
    is the collapse such a loss can slide into (see ``results/gpu/README.md``).
    """
    return float(as_float64(embeddings).norm(dim=-1).mean())


def batch_geometry(embeddings: torch.Tensor) -> dict[str, float]:
    """The trainer's logged geometry of one batch ``[n, p, c]``: Wang–Isola uniformity (mean over parts) and the
    mean norm — a norm falling towards 0 is the collapse a distance-margin loss can slide into."""
    return {"geometry/uniformity": float(uniformity(embeddings).mean()), "geometry/mean_norm": mean_norm(embeddings)}


def alignment(embeddings: Embeddings, labels: Sequence[Any], alpha: float = 2.0) -> np.ndarray:
    """Wang–Isola alignment per part, ``mean over positive pairs i<j of |x_i - x_j|^α`` -> ``[p]``.

    Lower is better aligned. Raises when no label occurs twice (no positive pair).
    """
    x = unit_parts(embeddings)  # [p, n, c]
    _, codes = label_codes(labels, x.shape[1])
    iu = np.triu_indices(len(codes), k=1)
    positive = torch.from_numpy(codes[iu[0]] == codes[iu[1]])
    if not bool(positive.any()):
        raise ValueError("labels: alignment needs at least one label that occurs twice (a positive pair)")
    return np.array([float(sq[positive].pow(alpha / 2.0).mean()) for sq in _part_sq_distances(x)])


def uniformity_alignment(
    embeddings: Embeddings, labels: Sequence[Any], t: float = WANG_ISOLA_T, alpha: float = 2.0
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
    x = unit_parts(embeddings)  # [p, n, c]
    classes, codes = label_codes(labels, x.shape[1])
    if len(classes) < 2:
        raise ValueError(f"labels: centre geometry needs at least 2 classes, got {len(classes)}")
    sums = x.new_zeros(x.shape[0], len(classes), x.shape[2]).index_add_(1, torch.from_numpy(codes), x)  # [p, k, c]
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
