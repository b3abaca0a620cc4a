"""GIL on listed triplets (``forward(..., triplets=(a, p, n))``, a miner's output): the sample-level terms use exactly
the listed triplets, the class-level terms the whole batch. Compared with a float64 loop over hand-listed triplets;
listing every valid triplet gives the default (unlisted) loss."""

from __future__ import annotations

import math

import pytest
import torch

from gil.losses import GeneralizedInterClassLoss
from gil.losses.pairs import PairIndex, all_triplets

UNBALANCED = [3, 0, 3, 1, 2, 2, 0, 2, 4, 2, 4, 0]  # class sizes 3, 1, 4, 2, 2
BALANCED = [0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2]  # P×K = 3×4
# hand-listed (a, p, n) of the unbalanced batch: repeated anchors and pairs, p = a once, classes of one sample as n
LISTED = [
    (0, 2, 1),
    (0, 2, 3),
    (0, 0, 4),
    (2, 0, 8),
    (1, 6, 0),
    (1, 6, 3),
    (1, 11, 5),
    (4, 7, 3),
    (4, 9, 1),
    (8, 10, 6),
]

CONFIGS = [
    dict(form="margin", pair_weight="official", margin="adaptive", uniformity_weight=0.0),
    dict(form="margin", pair_weight="none", margin="fixed", uniformity_weight=0.0),
    dict(form="margin", pair_weight="official", margin="adaptive", metric_space="sphere", uniformity_weight=0.0),
    dict(form="softmax", margin="adaptive", uniformity_weight=0.0),
    dict(form="softmax", margin="fixed", uniformity_weight=0.0),
    dict(form="softmax_official", uniformity_weight=0.0),
]
WITH_UNIFORMITY = [
    dict(form="margin"),
    dict(form="margin", uniformity_scale="norm", uniformity_weight=0.1),
    dict(form="softmax"),
    dict(form="softmax_official"),
]


def _name(cfg):
    return "-".join(str(v) for v in cfg.values())


def _batch(labels, parts=2, dims=4, seed=0):
    gen = torch.Generator().manual_seed(seed)
    e = torch.randn(len(labels), parts, dims, generator=gen, dtype=torch.float64) * 0.7
    return e, torch.tensor(labels)


def _as_tensors(listed):
    return tuple(torch.tensor(column) for column in zip(*listed, strict=True))


def _norm(v):
    return torch.sqrt((v * v).sum())


def reference_listed(e, labels, listed, form, pair_weight="none", margin="fixed", metric_space="raw"):
    """The main term on ``listed`` triplets, one triplet at a time; the pair weights' max and the centres of the
    margins over the whole batch. ``e [n, p, c]`` float64."""
    m0, kappa, m_min, m_max, tau = 0.2, 0.5, 0.05, 0.5, 0.1
    n, parts, _ = e.shape
    ed = e.detach()

    def cos(u, v):
        return (u @ v) / (_norm(u) * _norm(v))

    umax = max(
        ((1 - cos(ed[i, k], ed[j, k])).item() / 2 + 0.01) for k in range(parts) for i in range(n) for j in range(n)
    )

    def weight(k, i, j):
        return 1 + ((1 - cos(ed[i, k], ed[j, k])).item() / 2 + 0.01) / umax if pair_weight == "official" else 1.0

    def margin_of(k, ya, yb):
        if form == "softmax_official":
            return 0.0
        if margin == "fixed":
            return m0
        mu = {}
        for cl in set(labels):
            mean = sum(ed[i, k] / _norm(ed[i, k]) for i in range(n) if labels[i] == cl)
            mu[cl] = mean / _norm(mean)
        return min(max(m0 * (1 + kappa * (mu[ya] @ mu[yb]).item()), m_min), m_max)

    per_part = []
    for k in range(parts):
        x = e[:, k] / torch.stack([_norm(row) for row in e[:, k]])[:, None] if metric_space == "sphere" else e[:, k]

        def dist(i, j, x=x, k=k):
            return weight(k, i, j) * _norm(x[i] - x[j]) if i != j else torch.zeros((), dtype=e.dtype)

        if form == "margin":
            hinges = [torch.relu(dist(a, p) - dist(a, q) + margin_of(k, labels[a], labels[q])) for a, p, q in listed]
            nonzero = sum(int(h.item() > 0) for h in hinges)
            per_part.append(sum(hinges) / nonzero if nonzero else torch.zeros((), dtype=e.dtype))
        elif form == "softmax":
            pairs = {}
            for a, p, q in listed:
                pairs.setdefault((a, p), []).append(q)
            terms = []
            for (a, p), negatives in pairs.items():
                num = torch.exp(cos(e[a, k], e[p, k]) / tau)
                den = num + sum(
                    torch.exp((cos(e[a, k], e[q, k]) + margin_of(k, labels[a], labels[q])) / tau) for q in negatives
                )
                terms.append(-torch.log(num / den))
            per_part.append(sum(terms) / len(terms))
        else:
            terms = [torch.log1p(torch.exp((e[a, k] @ e[q, k] - e[a, k] @ e[p, k]) / tau)) for a, p, q in listed]
            per_part.append(sum(terms) / len(terms))
    return sum(per_part) / parts


@pytest.mark.parametrize("cfg", CONFIGS, ids=[_name(c) for c in CONFIGS])
def test_listed_triplets_match_the_loop_reference(cfg):
    e, y = _batch(UNBALANCED)
    e1 = e.clone().requires_grad_(True)
    loss, info = GeneralizedInterClassLoss(**cfg)(e1, y, triplets=_as_tensors(LISTED))
    e2 = e.clone().requires_grad_(True)
    ref = reference_listed(e2, UNBALANCED, LISTED, **{k: v for k, v in cfg.items() if k != "uniformity_weight"})
    assert loss.item() == pytest.approx(ref.item(), rel=1e-9, abs=1e-12)
    assert info[cfg["form"]] == pytest.approx(ref.item(), rel=1e-9, abs=1e-12)
    (grad,) = torch.autograd.grad(loss, e1)
    (ref_grad,) = torch.autograd.grad(ref, e2)
    torch.testing.assert_close(grad, ref_grad, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("labels", [UNBALANCED, BALANCED], ids=["unbalanced", "pxk"])
@pytest.mark.parametrize("cfg", CONFIGS + WITH_UNIFORMITY, ids=[_name(c) for c in CONFIGS + WITH_UNIFORMITY])
def test_listing_every_triplet_gives_the_default_loss(cfg, labels):
    e, y = _batch(labels)
    loss_fn = GeneralizedInterClassLoss(**cfg)
    e1, e2 = e.clone().requires_grad_(True), e.clone().requires_grad_(True)
    expected, expected_info = loss_fn(e1, y)
    every = all_triplets(PairIndex.from_labels(y, "test"), exclude_self=cfg["form"] == "softmax")
    got, info = loss_fn(e2, y, triplets=every)
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)
    for key in expected_info.keys() - {"mean_margin"}:  # mean_margin: over anchor–negative pairs vs triplets
        assert info[key] == pytest.approx(expected_info[key], rel=1e-12, abs=1e-12), key
    (expected_grad,) = torch.autograd.grad(expected, e1)
    (grad,) = torch.autograd.grad(got, e2)
    torch.testing.assert_close(grad, expected_grad, rtol=1e-8, atol=1e-8)  # InfoLoss: softplus's threshold at 20


@pytest.mark.parametrize("cfg", WITH_UNIFORMITY, ids=[_name(c) for c in WITH_UNIFORMITY])
def test_class_level_terms_use_the_whole_batch(cfg):
    e, y = _batch(UNBALANCED)
    loss_fn = GeneralizedInterClassLoss(**cfg)
    _, batch_info = loss_fn(e, y)
    terms = loss_fn.listed_terms(e, y, _as_tensors(LISTED[:3]))  # three triplets touch classes 0, 1, 2, 3 only
    assert terms.info["uniformity"] == pytest.approx(batch_info["uniformity"], rel=1e-12)
    torch.testing.assert_close(terms.loss, terms.main + terms.class_term, rtol=0, atol=0)
    weight = loss_fn.config.uniformity_weight
    if loss_fn.config.uniformity_scale == "norm":
        weight *= float(e.norm(dim=-1).mean())
    assert terms.class_term.item() == pytest.approx(weight * batch_info["uniformity"], rel=1e-12)


@pytest.mark.parametrize("cfg", CONFIGS, ids=[_name(c) for c in CONFIGS])
def test_listed_terms_are_per_tuple_and_reduce_to_the_main_term(cfg):
    e, y = _batch(UNBALANCED)
    terms = GeneralizedInterClassLoss(**cfg).listed_terms(e, y, _as_tensors(LISTED))
    if cfg["form"] == "softmax":  # one loss per distinct (a, p) pair
        pairs = sorted({(a, p) for a, p, _ in LISTED})
        assert terms.reduction == "pos_pair"
        assert [tuple(map(int, pair)) for pair in zip(*terms.indices, strict=True)] == pairs
    else:
        assert terms.reduction == "triplet"
        assert [tuple(map(int, t)) for t in zip(*terms.indices, strict=True)] == LISTED
    assert terms.losses.shape == (2, len(terms.indices[0]))
    if cfg["form"] == "margin":
        per_part = terms.losses.sum(1) / (terms.losses > 0).sum(1).clamp_min(1)
    else:
        per_part = terms.losses.mean(1)
    torch.testing.assert_close(terms.main, per_part.mean(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("form", ["margin", "softmax", "softmax_official"])
@pytest.mark.parametrize("uniformity_weight", [0.0, 0.1])
def test_an_empty_list_gives_a_zero_main_term_with_zero_gradient(form, uniformity_weight):
    e, y = _batch(UNBALANCED)
    e = e.requires_grad_(True)
    none = torch.zeros(0, dtype=torch.long)
    loss_fn = GeneralizedInterClassLoss(form=form, uniformity_weight=uniformity_weight)
    loss, info = loss_fn(e, y, triplets=(none, none, none))
    assert info[form] == 0.0 and info["active_fraction"] == 0.0 and math.isfinite(info["mean_margin"])
    assert loss.item() == pytest.approx(uniformity_weight * info["uniformity"], abs=1e-15)
    (grad,) = torch.autograd.grad(loss, e)
    if uniformity_weight == 0:
        assert torch.count_nonzero(grad) == 0
    else:
        assert torch.isfinite(grad).all() and torch.count_nonzero(grad) > 0


def test_a_batch_without_pairs_follows_empty_batch():
    e = torch.randn(4, 2, 3, dtype=torch.float64, requires_grad=True)
    y = torch.zeros(4, dtype=torch.long)
    listed = _as_tensors([(0, 1, 2)])
    with pytest.raises(ValueError, match="single class"):
        GeneralizedInterClassLoss()(e, y, triplets=listed)
    terms = GeneralizedInterClassLoss(empty_batch="zero").listed_terms(e, y, listed)
    assert terms.losses.shape == (2, 0) and terms.info["empty_batch"] == 1.0
    terms.loss.backward()
    assert terms.loss.item() == 0.0 and torch.count_nonzero(e.grad) == 0


@pytest.mark.parametrize(
    ("triplets", "message"),
    [
        ((torch.tensor([0]), torch.tensor([2])), "tuple \\(a, p, n\\) of three"),
        ([torch.tensor([0])] * 4, "tuple \\(a, p, n\\) of three"),
        ((torch.tensor([0.0]), torch.tensor([2]), torch.tensor([1])), "1-d integer tensors"),
        ((torch.tensor([[0]]), torch.tensor([2]), torch.tensor([1])), "1-d integer tensors"),
        ((torch.tensor([0, 1]), torch.tensor([2]), torch.tensor([1])), "one length t"),
        ((torch.tensor([0]), torch.tensor([12]), torch.tensor([1])), "outside the batch of 12"),
        ((torch.tensor([-1]), torch.tensor([2]), torch.tensor([1])), "outside the batch of 12"),
    ],
)
def test_bad_triplets_are_named(triplets, message):
    e, y = _batch(UNBALANCED)
    with pytest.raises(ValueError, match=f"GeneralizedInterClassLoss: triplets.*{message}|{message}"):
        GeneralizedInterClassLoss()(e, y, triplets=triplets)


def test_all_triplets_lists_every_valid_triplet_once():
    y = torch.tensor(UNBALANCED)
    a, p, n = all_triplets(PairIndex.from_labels(y, "test"))
    listed = set(zip(a.tolist(), p.tolist(), n.tolist(), strict=True))
    expected = {
        (i, j, k) for i in range(len(y)) for j in range(len(y)) for k in range(len(y)) if y[j] == y[i] and y[k] != y[i]
    }
    assert len(a) == len(listed) and listed == expected
    a, p, _ = all_triplets(PairIndex.from_labels(y, "test"), exclude_self=True)
    assert len(a) == len(expected) - sum(1 for i, j, _ in expected if i == j) and bool((a != p).all())
