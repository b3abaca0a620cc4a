"""Triplet, the authors' forms and CE against transcriptions of OpenGait / the authors' algorithms.

The references below restate, in this test, what OpenGait's ``TripletLoss`` + loss aggregator
and ``CrossEntropyLoss`` compute (models return ``[n, c, p]``; pairing through ``view``, which
needs P×K batches), and what DESIGN.md §3 records of the authors' weighted triplet and InfoLoss.
They are written from the algorithm, not imported.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from gil.losses import CrossEntropyLoss, GeneralizedInterClassLoss, TripletLoss


def opengait_distance(x):
    """``x [p, n, c]`` → ``sqrt(relu(x² + y² − 2xy))`` ``[p, n, n]``."""
    x2 = (x**2).sum(-1)
    return torch.sqrt(F.relu(x2[:, :, None] + x2[:, None, :] - 2 * x @ x.transpose(1, 2)))


def opengait_triplet(embeddings_ncp, labels, margin=0.2, weight=None):
    """OpenGait's batch-all triplet on ``[n, c, p]`` + the aggregator's mean over parts."""
    x = (
        embeddings_ncp.permute(2, 0, 1).float()
        if embeddings_ncp.dtype != torch.float64
        else embeddings_ncp.permute(2, 0, 1)
    )
    dist = opengait_distance(x)  # [p, n, n]
    if weight is not None:
        dist = dist * weight
    matches = labels[:, None] == labels[None, :]
    p, n, _ = dist.shape
    ap = dist[:, matches].view(p, n, -1, 1)
    an = dist[:, ~matches].view(p, n, 1, -1)
    loss = F.relu((ap - an).view(p, -1) + margin)
    num = (loss != 0).sum(-1).float()
    avg = loss.sum(-1) / (num + 1e-9)
    avg[num == 0] = 0
    return avg.mean()


def authors_pair_weight(embeddings_ncp):
    """The authors' weight matrix: ``W = 1 + u / max(u)``, ``u = 1 − (s + 1)/2 + 0.01``."""
    x = F.normalize(embeddings_ncp.permute(2, 0, 1), dim=-1)
    s = x @ x.transpose(1, 2)
    u = 1 - (s + 1) / 2 + 0.01
    return (1 + u / u.max()).detach()


def authors_infoloss(embeddings_ncp, labels, tau=0.1):
    """Per (a, p, n) triplet, two-way softmax over ``[e_a·e_p, e_a·e_n] / τ`` with target 0."""
    x = embeddings_ncp.permute(2, 0, 1)  # [p, n, c]
    dot = x @ x.transpose(1, 2)
    matches = labels[:, None] == labels[None, :]
    p, n, _ = dot.shape
    ap = dot[:, matches].view(p, n, -1, 1)
    an = dot[:, ~matches].view(p, n, 1, -1)
    ap, an = torch.broadcast_tensors(ap, an)
    logits = torch.stack([ap, an], -1).reshape(-1, 2) / tau
    target = torch.zeros(logits.shape[0], dtype=torch.long)
    return F.cross_entropy(logits, target)


def opengait_ce(logits_ncp, labels, scale=16, eps=0.1):
    n, c, p = logits_ncp.shape
    return F.cross_entropy(logits_ncp.float() * scale, labels[:, None].repeat(1, p), label_smoothing=eps)


def _pxk(p_ids=4, k=4, parts=3, dims=8, dtype=torch.float64, seed=0):
    gen = torch.Generator().manual_seed(seed)
    labels = torch.arange(p_ids).repeat_interleave(k)[torch.randperm(p_ids * k, generator=gen)] * 7 + 3
    return torch.randn(p_ids * k, parts, dims, generator=gen, dtype=dtype), labels


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_triplet_equals_opengait(dtype):
    e, y = _pxk(dtype=dtype)
    ours, _ = TripletLoss(margin=0.2)(e, y)
    theirs = opengait_triplet(e.permute(0, 2, 1), y)
    tol = 1e-6 if dtype == torch.float64 else 1e-4  # OpenGait's d_aa is rounding noise, ours exactly 0
    assert ours.item() == pytest.approx(theirs.item(), abs=tol)


def test_triplet_gradient_equals_opengait():
    e, y = _pxk()
    e1, e2 = e.clone().requires_grad_(True), e.clone().requires_grad_(True)
    TripletLoss()(e1, y)[0].backward()
    opengait_triplet(e2.permute(0, 2, 1), y).backward()
    torch.testing.assert_close(e1.grad, e2.grad, atol=1e-6, rtol=1e-5)


def test_triplet_zero_when_classes_are_far_apart():
    e = torch.tensor([[0.0, 0.0], [0.0, 0.1], [10.0, 0.0], [10.0, 0.1]])
    loss, info = TripletLoss()(e, torch.tensor([1, 1, 2, 2]))
    assert loss.item() == 0.0 and info["loss_num"] == 0.0


def test_official_pair_weighted_triplet_equals_the_authors():
    e, y = _pxk()
    ours, _ = GeneralizedInterClassLoss(form="margin", pair_weight="official", margin="fixed", uniformity_weight=0)(
        e, y
    )
    ncp = e.permute(0, 2, 1)
    theirs = opengait_triplet(ncp, y, weight=authors_pair_weight(ncp))
    assert ours.item() == pytest.approx(theirs.item(), abs=1e-6)


def test_softmax_official_equals_the_authors_infoloss():
    e, y = _pxk()
    ours, _ = GeneralizedInterClassLoss(form="softmax_official", uniformity_weight=0)(e * 0.3, y)
    theirs = authors_infoloss((e * 0.3).permute(0, 2, 1), y)
    assert ours.item() == pytest.approx(theirs.item(), abs=1e-6)


@pytest.mark.parametrize("scale,eps", [(16, 0.1), (1, 0.0)])
def test_ce_equals_opengait(scale, eps):
    gen = torch.Generator().manual_seed(1)
    logits = torch.randn(10, 4, 6, generator=gen, dtype=torch.float64)  # [n, p, classes]
    y = torch.randint(0, 6, (10,), generator=gen)
    ours, info = CrossEntropyLoss(scale=scale, label_smoothing=eps)(logits, y)
    theirs = opengait_ce(logits.permute(0, 2, 1).double(), y, scale, eps)
    assert ours.item() == pytest.approx(theirs.item(), abs=1e-6)
    accuracy = (logits.argmax(-1) == y[:, None]).double().mean().item()
    assert info["accuracy"] == pytest.approx(accuracy)


def test_ce_matches_a_loop_reference():
    gen = torch.Generator().manual_seed(2)
    logits = torch.randn(5, 3, 4, generator=gen, dtype=torch.float64)
    y = torch.tensor([0, 3, 1, 1, 2])
    eps, scale, total = 0.1, 16.0, 0.0
    for i in range(5):
        for k in range(3):
            z = [scale * v for v in logits[i, k].tolist()]
            big = max(z)
            lse = big + torch.log(torch.tensor([sum(torch.exp(torch.tensor(v - big)) for v in z)])).item()
            logp = [v - lse for v in z]
            total += -(1 - eps) * logp[int(y[i])] - eps / 4 * sum(logp)
    ours, _ = CrossEntropyLoss(scale=scale, label_smoothing=eps)(logits, y)
    assert ours.item() == pytest.approx(total / 15, abs=1e-6)


def test_ce_gradcheck_and_plain_logits():
    gen = torch.Generator().manual_seed(3)
    logits = torch.randn(4, 2, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    y = torch.tensor([0, 2, 1, 1])
    ce = CrossEntropyLoss(scale=2.0)
    assert torch.autograd.gradcheck(lambda z: ce(z, y)[0], (logits,))
    assert ce(logits[:, 0], y)[0].item() == pytest.approx(ce(logits[:, :1], y)[0].item())
