"""GIL against a slow float64 reference written with explicit Python loops over samples.

Every term in ``info`` and the total are compared for all three forms and every switch
combination, on an unbalanced and a P×K batch; gradients are compared to the reference's
(which holds the pair weights and the adaptive margins constant, as the loss does), and
``torch.autograd.gradcheck`` runs where the loss has no detached parts.
"""

from __future__ import annotations

import math

import pytest
import torch

from gil.losses import GeneralizedInterClassLoss

UNBALANCED = [3, 0, 3, 1, 2, 2, 0, 2, 4, 2, 4, 0]  # class sizes 3, 1, 4, 2, 2
BALANCED = [0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2]  # P×K = 3×4

CONFIGS = (
    [
        dict(form="margin", pair_weight=pw, margin=m, uniformity_weight=lam)
        for pw in ("official", "none")
        for m in ("fixed", "adaptive")
        for lam in (0.0, 0.1)
    ]
    + [dict(form="softmax", margin=m, uniformity_weight=lam) for m in ("fixed", "adaptive") for lam in (0.0, 0.1)]
    + [dict(form="softmax_official", uniformity_weight=lam) for lam in (0.0, 0.1)]
    # issue #17's candidates: L_u on the margin term's scale; the margin term on the hypersphere
    + [
        dict(form="margin", pair_weight="official", margin="adaptive", uniformity_scale="norm", uniformity_weight=0.1),
        dict(form="softmax", margin="adaptive", uniformity_scale="norm", uniformity_weight=0.1),
    ]
    + [
        dict(form="margin", pair_weight=pw, margin="adaptive", metric_space="sphere", uniformity_weight=0.1)
        for pw in ("official", "none")
    ]
)


def _norm(v):
    return torch.sqrt((v * v).sum())


def _norm_rows(x):
    return torch.stack([_norm(row) for row in x])[:, None]


def reference_gil(
    e,
    labels,
    form,
    pair_weight="none",
    margin="fixed",
    uniformity_weight=0.1,
    uniformity_scale="none",
    metric_space="raw",
):
    """GIL by DESIGN.md §3, one sample (pair, triplet) at a time. ``e [n, p, c]`` float64."""
    m0, kappa, m_min, m_max, tau, t = 0.2, 0.5, 0.05, 0.5, 0.1, 2.0
    n, parts, _ = e.shape
    classes = sorted(set(labels))
    ed = e.detach()

    def cos(u, v):
        return (u @ v) / (_norm(u) * _norm(v))

    def centres(x, k):
        out = {}
        for cl in classes:
            members = [x[i, k] / _norm(x[i, k]) for i in range(n) if labels[i] == cl]
            mean = sum(members) / len(members)
            out[cl] = mean / _norm(mean)
        return out

    # 1. pair weights, max over every part and pair, no gradient
    w = [[[1.0] * n for _ in range(n)] for _ in range(parts)]
    if pair_weight == "official":
        u = [
            [[(1 - cos(ed[i, k], ed[j, k]).item()) / 2 + 0.01 for j in range(n)] for i in range(n)]
            for k in range(parts)
        ]
        umax = max(max(max(row) for row in uk) for uk in u)
        w = [[[1 + u[k][i][j] / umax for j in range(n)] for i in range(n)] for k in range(parts)]

    # 3. margins from detached centres
    def margin_of(k, mu, ya, yb):
        if form == "softmax_official":
            return 0.0
        if margin == "fixed":
            return m0
        return min(max(m0 * (1 + kappa * (mu[ya] @ mu[yb]).item()), m_min), m_max)

    main_parts, weights_seen, margins_seen = [], [], []
    active = total = 0
    for k in range(parts):
        mu = centres(ed, k)
        weights_seen += [w[k][i][j] for i in range(n) for j in range(n)]
        margins_seen += [
            margin_of(k, mu, labels[a], labels[b]) for a in range(n) for b in range(n) if labels[a] != labels[b]
        ]
        if form == "margin":  # 2.
            s, nonzero = 0.0, 0
            for a in range(n):
                for p in range(n):
                    for q in range(n):
                        if labels[p] != labels[a] or labels[q] == labels[a]:
                            continue
                        x = e[:, k] / _norm_rows(e[:, k]) if metric_space == "sphere" else e[:, k]
                        d_ap = _norm(x[a] - x[p]) if p != a else torch.zeros((), dtype=e.dtype)
                        d_aq = _norm(x[a] - x[q])
                        h = torch.relu(w[k][a][p] * d_ap - w[k][a][q] * d_aq + margin_of(k, mu, labels[a], labels[q]))
                        s = s + h
                        nonzero += int(h.item() > 0)
                        total += 1
            active += nonzero
            main_parts.append(s / nonzero if nonzero else torch.zeros((), dtype=e.dtype))
        elif form == "softmax":  # 4.
            s, count = 0.0, 0
            for a in range(n):
                for p in range(n):
                    if p == a or labels[p] != labels[a]:
                        continue
                    s_ap = cos(e[a, k], e[p, k])
                    num = torch.exp(s_ap / tau)
                    den = num
                    for q in range(n):
                        if labels[q] != labels[a]:
                            s_aq = cos(e[a, k], e[q, k]) + margin_of(k, mu, labels[a], labels[q])
                            den = den + torch.exp(s_aq / tau)
                            active += int(s_aq.item() > s_ap.item())
                            total += 1
                    s = s - torch.log(num / den)
                    count += 1
            main_parts.append(s / count)
        else:  # 7. the authors' InfoLoss
            s, count = 0.0, 0
            for a in range(n):
                for p in range(n):
                    for q in range(n):
                        if labels[p] != labels[a] or labels[q] == labels[a]:
                            continue
                        z = (e[a, k] @ e[q, k] - e[a, k] @ e[p, k]) / tau
                        s = s + torch.log(1 + torch.exp(z))
                        count += 1
                        active += int(z.item() > 0)
                        total += 1
            main_parts.append(s / count)
    main = sum(main_parts) / parts

    # 5. uniformity of class centres, with gradient when it is weighted
    uni = []
    for k in range(parts):
        mu = centres(e if uniformity_weight > 0 else ed, k)
        terms = [torch.exp(-t * ((mu[a] - mu[b]) ** 2).sum()) for a in classes for b in classes if a != b]
        uni.append(torch.log(sum(terms) / len(terms)))
    l_u = sum(uni) / parts
    weight = uniformity_weight
    if uniformity_scale == "norm":  # times the detached mean part norm
        weight = weight * sum(_norm(ed[i, k]) for i in range(n) for k in range(parts)) / (n * parts)
    loss = main + weight * l_u if uniformity_weight > 0 else main
    info = {
        "loss": loss.item(),
        form: main.item(),
        "uniformity": l_u.item(),
        "mean_pair_weight": sum(weights_seen) / len(weights_seen),
        "mean_margin": sum(margins_seen) / len(margins_seen),
        "active_fraction": active / total,
    }
    return loss, info


def _batch(labels, parts=2, dims=4, seed=0):
    gen = torch.Generator().manual_seed(seed)
    e = torch.randn(len(labels), parts, dims, generator=gen, dtype=torch.float64) * 0.7
    return e, torch.tensor(labels)


def _name(cfg):
    return "-".join(str(v) for v in cfg.values())


@pytest.mark.parametrize("labels", [UNBALANCED, BALANCED], ids=["unbalanced", "pxk"])
@pytest.mark.parametrize("cfg", CONFIGS, ids=[_name(c) for c in CONFIGS])
def test_every_term_and_gradient_match_the_loop_reference(cfg, labels):
    e, y = _batch(labels)
    e1 = e.clone().requires_grad_(True)
    loss, info = GeneralizedInterClassLoss(**cfg)(e1, y)
    e2 = e.clone().requires_grad_(True)
    ref_loss, ref_info = reference_gil(e2, labels, **cfg)
    assert loss.dtype == torch.float64
    assert set(info) == set(ref_info)
    for key, value in ref_info.items():
        assert info[key] == pytest.approx(value, abs=1e-6, rel=1e-6), key
    assert loss.item() == pytest.approx(ref_loss.item(), abs=1e-6, rel=1e-6)
    (grad,) = torch.autograd.grad(loss, e1)
    (ref_grad,) = torch.autograd.grad(ref_loss, e2)
    torch.testing.assert_close(grad, ref_grad, atol=1e-6, rtol=1e-6)


PLAIN = [
    dict(form="margin", pair_weight="official", margin="adaptive", uniformity_weight=0.01),
    dict(form="softmax", margin="adaptive", uniformity_weight=0.1),
    dict(form="softmax_official", uniformity_weight=0.1),
]


@pytest.mark.parametrize("cfg", PLAIN, ids=[c["form"] for c in PLAIN])
def test_plain_nc_embeddings_are_one_part(cfg):
    e, y = _batch(UNBALANCED, parts=1)
    loss, info = GeneralizedInterClassLoss(**cfg)(e[:, 0], y)  # [n, c]
    ref_loss, ref_info = reference_gil(e, UNBALANCED, **cfg)
    assert loss.item() == pytest.approx(ref_loss.item(), abs=1e-6)
    assert info == pytest.approx(ref_info, abs=1e-6)


GRADCHECK = [
    dict(form="margin", pair_weight="none", margin="fixed", uniformity_weight=0.5),
    dict(form="softmax", margin="fixed", uniformity_weight=0.5),
    dict(form="softmax_official", uniformity_weight=0.5),
]


@pytest.mark.parametrize("cfg", GRADCHECK, ids=[c["form"] for c in GRADCHECK])
def test_gradcheck(cfg):
    e, y = _batch([0, 0, 1, 1, 1, 2], parts=2, dims=3, seed=3)
    loss_fn = GeneralizedInterClassLoss(**cfg)
    assert torch.autograd.gradcheck(lambda x: loss_fn(x, y)[0], (e.requires_grad_(True),), eps=1e-6, atol=1e-5)


def test_reference_softmax_is_a_log_ratio():
    """Sanity of the reference itself: two classes, one pair each, p = 1, fixed margin."""
    e = torch.tensor([[[1.0, 0.0]], [[1.0, 0.0]], [[0.0, 1.0]], [[0.0, 1.0]]], dtype=torch.float64)
    _, info = reference_gil(e, [0, 0, 1, 1], "softmax", margin="fixed", uniformity_weight=0.0)
    expected = -math.log(math.exp(10) / (math.exp(10) + 2 * math.exp(2)))
    assert info["softmax"] == pytest.approx(expected)
