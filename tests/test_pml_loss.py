"""GIL as a pytorch-metric-learning loss (issue #18, item 2): pml's own basic usage runs with it, with and without a
miner, and its value is the core loss's on the same batch (p = 1)."""

import pytest
import torch
from pytorch_metric_learning import miners  # a dev dependency (the lock has it), so CI always runs these

from gil.integrations.pml import GeneralizedInterClassLoss, mined_samples
from gil.losses import GeneralizedInterClassLoss as CoreGIL


def batch(seed=0, n=24, d=8, classes=4):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=torch.float64), torch.arange(n) % classes


@pytest.mark.parametrize("form", ["margin", "softmax", "softmax_official"])
def test_value_equals_the_core_loss_with_one_part(form):
    e, y = batch()
    expected, _ = CoreGIL(form=form)(e, y)
    got = GeneralizedInterClassLoss(form=form)(e, y)
    assert got.dim() == 0
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)


def test_mined_tuples_select_the_samples_the_loss_sees():
    e, y = batch()  # labels 0..3 repeating: samples 0, 4, 8 are class 0; 1, 5 class 1; 2 class 2
    triplets = (torch.tensor([0, 4, 1]), torch.tensor([4, 8, 5]), torch.tensor([1, 2, 0]))
    selected = torch.tensor([0, 1, 2, 4, 5, 8])
    assert torch.equal(mined_samples(triplets, len(y)), selected)
    expected, _ = CoreGIL()(e[selected], y[selected])
    torch.testing.assert_close(GeneralizedInterClassLoss()(e, y, triplets), expected, rtol=1e-12, atol=1e-12)
    pairs = miners.MultiSimilarityMiner()(e, y)  # a real miner's 4-tuple of pairs is read the same way
    expected, _ = CoreGIL(empty_batch="zero")(e[mined_samples(pairs, len(y))], y[mined_samples(pairs, len(y))])
    torch.testing.assert_close(GeneralizedInterClassLoss()(e, y, pairs), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("use_miner", [False, True])
def test_pmls_basic_usage_runs(use_miner):
    """pml's README example: model, optional miner, ``loss_func(embeddings, labels[, hard_pairs])``, backward."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 8))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    miner = miners.MultiSimilarityMiner()
    loss_func = GeneralizedInterClassLoss()
    data, labels = torch.randn(64, 16), torch.arange(64) % 8
    losses = []
    for step in range(5):
        rows = slice(step * 8 % 64, step * 8 % 64 + 32)
        optimizer.zero_grad()
        embeddings = model(data[rows])
        if use_miner:
            hard_pairs = miner(embeddings, labels[rows])
            loss = loss_func(embeddings, labels[rows], hard_pairs)
        else:
            loss = loss_func(embeddings, labels[rows])
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert all(torch.isfinite(torch.tensor(losses)))
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())


def test_a_batch_without_pairs_is_zero_and_refusals_are_named():
    e = torch.randn(6, 4, requires_grad=True)
    loss = GeneralizedInterClassLoss()(e, torch.zeros(6, dtype=torch.int64))
    assert float(loss.detach()) == 0.0
    loss.backward()
    assert torch.count_nonzero(e.grad) == 0
    with pytest.raises(ValueError, match="single class"):
        GeneralizedInterClassLoss(empty_batch="raise")(e, torch.zeros(6, dtype=torch.int64))
    with pytest.raises(ValueError, match="ref_emb is not supported"):
        GeneralizedInterClassLoss()(e, torch.arange(6) % 2, ref_emb=e.detach().clone(), ref_labels=torch.arange(6) % 2)
    with pytest.raises(ValueError, match="own distances"):
        GeneralizedInterClassLoss(distance=object())
    with pytest.raises(ValueError, match="outside the batch"):
        GeneralizedInterClassLoss()(e, torch.arange(6) % 2, (torch.tensor([0]), torch.tensor([9]), torch.tensor([1])))
