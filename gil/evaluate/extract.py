"""Embeddings of a test set from a model: the loader's batches in, one ``[n, p, c]`` array out, row ``i`` the
sequence of index ``i`` (what :mod:`gil.evaluate`'s protocols take)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

import numpy as np
import torch
from tqdm.auto import tqdm

__all__ = ["extract_embeddings"]

log = logging.getLogger(__name__)


@torch.no_grad()
def extract_embeddings(
    model: torch.nn.Module,
    loader: Iterable[tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
    device: torch.device | str,
    progress: bool = True,
) -> np.ndarray:
    """Embeddings of a whole test set -> float32 ``[n, p, c]``, row ``i`` the sequence of index ``i``.

    ``loader`` yields ``(sils [b, s, h, w] float, lengths [b] int64, indices [b] int64)``; the model
    is called as ``model(sils, lengths=lengths)`` in eval mode and must return
    ``{"embeddings": [b, p, c], ...}``. Its train/eval mode is restored afterwards. Every index in
    ``0 … max`` must occur exactly once.
    """
    was_training = model.training
    model.eval()
    parts: list[np.ndarray] = []
    where: list[np.ndarray] = []
    try:
        for batch, (sils, lengths, indices) in enumerate(tqdm(loader, desc="embeddings", disable=not progress)):
            out = model(sils.to(device, non_blocking=True), lengths=lengths.to(device))
            if not isinstance(out, Mapping) or "embeddings" not in out:
                raise ValueError(f"extract_embeddings: the model must return a dict with 'embeddings' (batch {batch})")
            emb = out["embeddings"]
            if emb.ndim != 3 or emb.shape[0] != len(indices):
                raise ValueError(
                    f"extract_embeddings: expected embeddings [{len(indices)}, p, c] in batch {batch}, "
                    f"got {tuple(emb.shape)}"
                )
            parts.append(emb.float().cpu().numpy())
            where.append(np.asarray(indices, dtype=np.int64).reshape(-1))
    finally:
        model.train(was_training)
    if not parts:
        raise ValueError("extract_embeddings: the loader yielded no batch")
    idx = np.concatenate(where)
    n = int(idx.max()) + 1
    if idx.min() < 0 or len(idx) != n or len(np.unique(idx)) != n:
        raise ValueError(
            f"extract_embeddings: loader indices must cover 0..{n - 1} exactly once; got {len(idx)} indices, "
            f"{len(np.unique(idx))} distinct, min {int(idx.min())}"
        )
    out = np.empty((n, *parts[0].shape[1:]), dtype=np.float32)
    out[idx] = np.concatenate(parts)
    log.debug("extracted embeddings %s", out.shape)
    return out
