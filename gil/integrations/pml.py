"""GIL as a pytorch-metric-learning loss (``pip install "gil[pml]"``).

``GeneralizedInterClassLoss(**settings)(embeddings [n, d], labels [n], indices_tuple=None)`` returns a scalar tensor,
as every pml loss does; the embeddings are one part (p = 1) of the core loss. GIL's class-level terms (centres,
uniformity, adaptive margins) need the batch's samples, not single pairs, so a miner's ``indices_tuple`` (pairs or
triplets) is honoured by *selecting samples*: the loss is computed on the samples that occur in the mined tuples. A
batch without any valid pair — also after mining — gives a zero loss with a zero gradient, as pml's losses do.
``ref_emb`` and a custom ``distance`` are refused: GIL compares the batch with itself, with its own distances.
"""

from __future__ import annotations

from typing import Any

import torch
from pytorch_metric_learning.losses import BaseMetricLossFunction
from torch import Tensor

from gil.losses import gil as core
from gil.losses.gil import GIL_SETTINGS


class GeneralizedInterClassLoss(BaseMetricLossFunction):
    """GIL with pml's interface; keyword arguments named like :class:`gil.losses.gil.GILConfig`'s fields set GIL
    (``form``, ``m0``, …; others go to pml's base class), plus ``empty_batch``
    (``"zero"``, pml's behaviour, or ``"raise"``) and pml's own keyword arguments (``reducer`` is unused: the loss
    is already reduced). ``last_info`` holds the core loss's terms of the last call (floats), for logging."""

    def __init__(self, empty_batch: str = "zero", **kwargs: Any) -> None:
        settings = {name: kwargs.pop(name) for name in list(kwargs) if name in GIL_SETTINGS}
        if "distance" in kwargs:
            raise ValueError("GeneralizedInterClassLoss (pml): GIL computes its own distances; drop distance=")
        super().__init__(**kwargs)  # pml's own arguments (reducer, regularizers, ...)
        self.gil = core.GeneralizedInterClassLoss(**settings, empty_batch=empty_batch)
        self.last_info: dict[str, float] = {}

    def compute_loss(
        self, embeddings: Tensor, labels: Tensor, indices_tuple: Any, ref_emb: Tensor, ref_labels: Tensor
    ) -> dict[str, dict[str, Any]]:
        if labels is None:
            raise ValueError("GeneralizedInterClassLoss (pml): labels are required")
        if ref_emb is not embeddings:
            raise ValueError(
                "GeneralizedInterClassLoss (pml): ref_emb is not supported (GIL compares the batch with itself)"
            )
        if indices_tuple is not None:
            selected = mined_samples(indices_tuple, len(labels))
            embeddings, labels = embeddings[selected], labels[selected]
        loss, self.last_info = self.gil(embeddings, labels)
        return {"loss": {"losses": loss, "indices": None, "reduction_type": "already_reduced"}}


def mined_samples(indices_tuple: tuple[Tensor, ...], n: int) -> Tensor:
    """The sorted, unique sample indices of a miner's pairs ``(a1, p, a2, n)`` or triplets ``(a, p, n)``."""
    if not isinstance(indices_tuple, tuple) or len(indices_tuple) not in (3, 4):
        raise ValueError(
            "GeneralizedInterClassLoss (pml): indices_tuple must be a miner's triplets (a, p, n) or pairs "
            f"(a1, p, a2, n), got {type(indices_tuple).__name__} of length {len(indices_tuple)}"
        )
    flat = torch.cat([torch.as_tensor(t).reshape(-1).long() for t in indices_tuple])
    if flat.numel() and (int(flat.min()) < 0 or int(flat.max()) >= n):
        raise ValueError(f"GeneralizedInterClassLoss (pml): indices_tuple holds indices outside the batch of {n}")
    return torch.unique(flat)
