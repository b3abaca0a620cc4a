"""extract_embeddings: rows placed by the loader's indices, eval mode inside, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gil.evaluate.extract import extract_embeddings


class DummyModel(torch.nn.Module):
    """Embedding = (mean silhouette value over the valid frames, sequence length) in 2 parts."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(()))
        self.seen_training: list[bool] = []

    def forward(self, sils, lengths):
        self.seen_training.append(self.training)
        assert not torch.is_grad_enabled()
        frames = torch.arange(sils.shape[1])[None, :] < lengths[:, None]  # [n, s]
        mean = (sils.mean((2, 3)) * frames).sum(1) / lengths  # [n]
        emb = torch.stack([mean, lengths.float()], 1)[:, :, None] * self.scale  # [n, 2, 1]
        return {"embeddings": emb, "logits": None}


def test_extract_embeddings_places_rows_by_index():
    order = [3, 0, 4, 1, 2]
    batches = []
    for chunk in (order[:2], order[2:]):
        idx = torch.tensor(chunk)
        sils = idx.float()[:, None, None, None].expand(-1, 6, 4, 3).clone()  # [n, s, h, w] = index
        batches.append((sils, torch.full((len(chunk),), 5, dtype=torch.int64), idx))
    model = DummyModel().train()
    out = extract_embeddings(model, batches, "cpu", progress=False)
    assert out.shape == (5, 2, 1) and out.dtype == np.float32
    np.testing.assert_allclose(out[:, 0, 0], np.arange(5))
    assert model.seen_training == [False, False] and model.training  # eval inside, mode restored


def test_extract_embeddings_rejects_missing_indices():
    sils, lengths = torch.zeros(2, 3, 4, 3), torch.tensor([3, 3])
    with pytest.raises(ValueError, match="exactly once"):
        extract_embeddings(DummyModel(), [(sils, lengths, torch.tensor([0, 2]))], "cpu", progress=False)
