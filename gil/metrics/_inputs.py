"""Input checks shared by the metrics: embeddings ``[n, p, c]`` as unit parts, labels as integer codes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from gil.evaluate.distance import Embeddings, _as_embeddings

CHUNK_ELEMENTS = 2**24  # floats in one distance block of the chunked loops (128 MiB in float64)


def as_float64(embeddings: Embeddings) -> torch.Tensor:
    """Embeddings ``[n, p, c]`` (``[n, c]`` is read as ``p = 1``), torch or numpy -> CPU float64 ``[n, p, c]``."""
    return _as_embeddings(embeddings, "cpu").double()


def unit_parts(embeddings: Embeddings) -> torch.Tensor:
    """``[n, p, c]`` -> ``[p, n, c]`` float64, each part L2-normalised over ``c``."""
    x = as_float64(embeddings)
    if x.shape[0] < 2:
        raise ValueError(f"embeddings: need at least 2 sequences, got shape {tuple(x.shape)}")
    return F.normalize(x.transpose(0, 1), dim=-1)


def label_codes(labels: Sequence[Any], n: int) -> tuple[np.ndarray, np.ndarray]:
    """labels -> (classes [k], codes [n] in 0..k-1); checks that there is one label per embedding."""
    arr = np.asarray(labels)
    if arr.shape != (n,):
        raise ValueError(f"labels: expected {n} labels (one per embedding), got shape {arr.shape}")
    classes, codes = np.unique(arr, return_inverse=True)
    return classes, codes
