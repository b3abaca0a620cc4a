"""GIL's properties: baseline equality, invariances, scaling, AMP, input and config errors."""

from __future__ import annotations

import pytest
import torch

from gil.losses import GeneralizedInterClassLoss, TripletLoss

LABELS = torch.tensor([5, 5, 5, 9, 2, 2, 2, 2, 7, 7, 9, 1])  # unbalanced, with a singleton
FORMS = [
    dict(form="margin", pair_weight="official", margin="adaptive"),
    dict(form="softmax", margin="adaptive"),
    dict(form="softmax_official"),
]
IDS = [c["form"] for c in FORMS]


def _emb(parts=3, dims=6, seed=0, dtype=torch.float64, n=12):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, parts, dims, generator=gen, dtype=dtype) * 0.5


def test_margin_form_without_extras_is_exactly_the_triplet_baseline():
    e = _emb(dtype=torch.float32)
    e1, e2 = e.clone().requires_grad_(True), e.clone().requires_grad_(True)
    gil = GeneralizedInterClassLoss(form="margin", pair_weight="none", margin="fixed", uniformity_weight=0)
    loss_gil, info = gil(e1, LABELS)
    loss_tri, _ = TripletLoss(margin=0.2)(e2, LABELS)
    loss_gil.backward()
    loss_tri.backward()
    assert torch.equal(loss_gil, loss_tri)
    assert torch.equal(e1.grad, e2.grad)
    assert info["margin"] == info["loss"]


@pytest.mark.parametrize("cfg", FORMS, ids=IDS)
def test_batch_permutation_leaves_loss_and_info_unchanged(cfg):
    e = _emb()
    perm = torch.randperm(12, generator=torch.Generator().manual_seed(1))
    loss, info = GeneralizedInterClassLoss(**cfg)(e, LABELS)
    loss_p, info_p = GeneralizedInterClassLoss(**cfg)(e[perm], LABELS[perm])
    assert loss_p.item() == pytest.approx(loss.item(), abs=1e-12)
    assert info_p == pytest.approx(info, abs=1e-12)


@pytest.mark.parametrize(
    "cfg",
    [dict(form="margin", pair_weight="none", margin="adaptive"), *FORMS[1:]],
    ids=["margin", "softmax", "softmax_official"],
)
def test_parts_are_independent(cfg):
    """Loss = mean of one-part losses; a part's gradient ignores the other parts."""
    e = _emb().requires_grad_(True)
    loss_fn = GeneralizedInterClassLoss(**cfg)
    loss, _ = loss_fn(e, LABELS)
    per_part = torch.stack([loss_fn(e[:, k], LABELS)[0] for k in range(3)]).mean()
    assert loss.item() == pytest.approx(per_part.item(), abs=1e-12)
    (grad0,) = torch.autograd.grad(loss_fn(e, LABELS)[0], e)
    e2 = e.detach().clone()
    e2[:, 1:] = torch.randn_like(e2[:, 1:])
    (grad1,) = torch.autograd.grad(loss_fn(e2.requires_grad_(True), LABELS)[0], e2)
    torch.testing.assert_close(grad0[:, 0], grad1[:, 0])


def test_official_pair_weights_lie_between_one_and_two():
    e = _emb()
    w_all = GeneralizedInterClassLoss(form="margin", margin="fixed", uniformity_weight=0)(e, LABELS)[1]
    assert 1.0 < w_all["mean_pair_weight"] <= 2.0


@pytest.mark.parametrize("cfg", FORMS[1:], ids=IDS[1:])
def test_cosine_terms_ignore_each_sample_s_scale(cfg):
    """Softmax form, uniformity, adaptive margins: invariant to per-sample positive rescaling."""
    e = _emb()
    scale = torch.rand(12, 3, 1, generator=torch.Generator().manual_seed(2), dtype=torch.float64) * 5 + 0.1
    loss_fn = GeneralizedInterClassLoss(**cfg)
    _, info = loss_fn(e, LABELS)
    _, info_s = loss_fn(e * scale, LABELS)
    assert info_s["uniformity"] == pytest.approx(info["uniformity"], abs=1e-10)
    assert info_s["mean_margin"] == pytest.approx(info["mean_margin"], abs=1e-10)
    if cfg["form"] == "softmax":
        assert info_s["softmax"] == pytest.approx(info["softmax"], abs=1e-10)
    else:  # the authors' InfoLoss works on raw dot products: it is not scale-invariant
        assert info_s["softmax_official"] != pytest.approx(info["softmax_official"], abs=1e-3)


def test_margin_form_scales_linearly_with_a_global_scale_and_margin():
    """Pair weights are cosine-based (scale-free), distances scale: L_m(αe; α·m0) = α·L_m(e; m0)."""
    e, alpha = _emb(), 3.0
    cfg = dict(form="margin", pair_weight="official", margin="fixed", uniformity_weight=0)
    loss, info = GeneralizedInterClassLoss(**cfg, m0=0.2)(e, LABELS)
    loss_s, info_s = GeneralizedInterClassLoss(**cfg, m0=0.2 * alpha)(alpha * e, LABELS)
    assert loss_s.item() == pytest.approx(alpha * loss.item(), rel=1e-10)
    assert info_s["mean_pair_weight"] == pytest.approx(info["mean_pair_weight"], rel=1e-10)


def test_uniformity_gradient_grows_as_the_embeddings_shrink():
    """L_u sees directions only: L_u(αe) = L_u(e) and ∇L_u(αe) = ∇L_u(e) / α — why small, unnormalised
    embeddings (GaitSet) can let λ_u·L_u swamp the distance-based margin term (results/gpu/README.md)."""
    e, alpha = _emb(), 0.01
    uniformity_only = GeneralizedInterClassLoss(form="margin", uniformity_weight=1.0)

    def grad_of_uniformity(x):
        x = x.clone().requires_grad_(True)
        _, info = uniformity_only(x, LABELS)
        main = GeneralizedInterClassLoss(form="margin", uniformity_weight=0)(x, LABELS)[0]
        (grad,) = torch.autograd.grad(uniformity_only(x, LABELS)[0] - main, x)
        return info["uniformity"], grad

    value, grad = grad_of_uniformity(e)
    value_s, grad_s = grad_of_uniformity(alpha * e)
    assert value_s == pytest.approx(value, abs=1e-10)
    torch.testing.assert_close(grad_s, grad / alpha)


def _gradient_of_uniformity(x, **cfg):
    x = x.clone().requires_grad_(True)
    with_u = GeneralizedInterClassLoss(form="margin", uniformity_weight=1.0, **cfg)(x, LABELS)[0]
    without = GeneralizedInterClassLoss(form="margin", uniformity_weight=0, **cfg)(x, LABELS)[0]
    return torch.autograd.grad(with_u - without, x)[0]


def test_norm_scaled_uniformity_keeps_its_gradient_as_the_embeddings_shrink():
    """Issue #17's candidate: λ_u · sg(mean |e|) · L_u has the same gradient at any global scale, like the
    margin term's (which is scale-free in its gradient), so shrinking the embeddings no longer strengthens L_u."""
    e, alpha = _emb(), 0.01
    grad = _gradient_of_uniformity(e, uniformity_scale="norm")
    torch.testing.assert_close(_gradient_of_uniformity(alpha * e, uniformity_scale="norm"), grad)
    plain = _gradient_of_uniformity(e)
    mean_norm = e.norm(dim=-1).mean()
    torch.testing.assert_close(grad, plain * mean_norm)


def test_sphere_margin_form_ignores_each_sample_s_scale():
    """Issue #17's candidate: on the hypersphere the margin term does not see norms at all."""
    e = _emb()
    scale = torch.rand(e.shape[0], e.shape[1], 1, dtype=e.dtype, generator=torch.Generator().manual_seed(3)) + 0.1
    loss_fn = GeneralizedInterClassLoss(form="margin", metric_space="sphere")
    assert loss_fn(e * scale, LABELS)[0].item() == pytest.approx(loss_fn(e, LABELS)[0].item(), rel=1e-10)


@pytest.mark.parametrize("amp_dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("cfg", FORMS, ids=IDS)
def test_autocast_stays_finite_and_close(cfg, amp_dtype):
    gen = torch.Generator().manual_seed(4)
    features = torch.randn(12, 32, generator=gen)
    layer = torch.nn.Linear(32, 3 * 16)
    loss_fn = GeneralizedInterClassLoss(**cfg)
    with torch.autocast("cpu", dtype=amp_dtype):
        emb = layer(features).view(12, 3, 16)  # [n, p, c] in half precision
        loss, info = loss_fn(emb, LABELS)
    assert emb.dtype == amp_dtype and loss.dtype == torch.float32
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(layer.weight.grad).all()
    ref, _ = loss_fn(emb.detach().float(), LABELS)  # same half-precision inputs, float32 loss
    assert loss.item() == pytest.approx(ref.item(), rel=1e-5)
    full, _ = loss_fn(layer(features).view(12, 3, 16), LABELS)  # float32 end to end
    assert loss.item() == pytest.approx(full.item(), rel=0.1, abs=0.05)


@pytest.mark.parametrize(
    "embeddings,labels,message",
    [
        (torch.randn(4, 2, 3, 2), torch.tensor([0, 0, 1, 1]), r"\[n, p, c\]"),
        (torch.randn(4), torch.tensor([0, 0, 1, 1]), r"\[n, p, c\]"),
        (torch.randn(4, 2, 3), torch.tensor([0, 0, 1]), "3 labels for 4"),
        (torch.randn(4, 2, 3), torch.tensor([0.0, 0.0, 1.0, 1.0]), "integer tensor"),
        (torch.randint(0, 3, (4, 2, 3)), torch.tensor([0, 0, 1, 1]), "floating point"),
        (torch.randn(4, 2, 3), torch.tensor([3, 3, 3, 3]), "single class"),
        (torch.randn(4, 2, 3), torch.tensor([0, 1, 2, 3]), "no positive pair"),
        (
            torch.tensor([[0.0, 1.0], [float("nan"), 0.0], [1.0, 1.0], [2.0, 0.0]]),
            torch.tensor([0, 0, 1, 1]),
            "non-finite",
        ),
    ],
)
@pytest.mark.parametrize(
    "loss_fn", [GeneralizedInterClassLoss(), GeneralizedInterClassLoss(form="softmax"), TripletLoss()]
)
def test_bad_input_raises_clearly(loss_fn, embeddings, labels, message):
    with pytest.raises(ValueError, match=message):
        loss_fn(embeddings, labels)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(form="cosface"), "form must be one of"),
        (dict(form="softmax", pair_weight="official"), "pair weights belong to the margin form"),
        (dict(form="softmax_official", margin="fixed"), "InfoLoss has no margin"),
        (dict(margin="large"), "margin must be one of"),
        (dict(tau=0.0), "tau must be > 0"),
        (dict(m_min=0.6, m_max=0.5), "m_max must be >= m_min"),
        (dict(uniformity_weight=-1), "uniformity_weight must be >= 0"),
        (dict(uniformity_scale="batch"), "uniformity_scale must be one of"),
        (dict(metric_space="cosine"), "metric_space must be one of"),
        (dict(form="softmax", metric_space="sphere"), "the softmax form is on the sphere already"),
    ],
)
def test_bad_config_raises_clearly(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GeneralizedInterClassLoss(**kwargs)


def test_defaults_resolve_per_form():
    assert GeneralizedInterClassLoss().config.pair_weight == "official"
    assert GeneralizedInterClassLoss().config.margin == "adaptive"
    assert GeneralizedInterClassLoss(form="softmax").config.pair_weight == "none"
    assert GeneralizedInterClassLoss(form="softmax_official").config.margin == "none"


def test_duplicate_embeddings_give_finite_gradients():
    e = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]], requires_grad=True)
    for cfg in FORMS:
        e.grad = None
        GeneralizedInterClassLoss(**cfg)(e, torch.tensor([0, 0, 1, 1]))[0].backward()
        assert torch.isfinite(e.grad).all(), cfg


def test_adaptive_margin_grows_for_crowded_classes():
    """Two classes whose centres nearly coincide get a larger margin than two opposite ones."""
    near = torch.tensor([[1.0, 0.0], [1.0, 0.1], [1.0, 0.2], [1.0, 0.3]])
    far = torch.tensor([[1.0, 0.0], [1.0, 0.1], [-1.0, 0.0], [-1.0, 0.1]])
    y = torch.tensor([0, 0, 1, 1])
    loss_fn = GeneralizedInterClassLoss(form="margin", margin="adaptive")
    m_near = loss_fn(near, y)[1]["mean_margin"]
    m_far = loss_fn(far, y)[1]["mean_margin"]
    assert m_near == pytest.approx(0.3, abs=0.01)  # 0.2 · (1 + 0.5 · ~1)
    assert m_far == pytest.approx(0.1, abs=0.01)  # 0.2 · (1 + 0.5 · ~−1)
