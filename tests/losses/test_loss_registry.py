"""build_loss: config → weighted sum of losses over a model's output dict."""

from __future__ import annotations

import pytest
import torch

from gil.losses import (
    LOSSES,
    CrossEntropyLoss,
    GeneralizedInterClassLoss,
    TripletLoss,
    build_loss,
    register_loss,
)

LABELS = torch.tensor([0, 0, 1, 1, 2, 2, 2, 0])


def _outputs(with_logits=True):
    gen = torch.Generator().manual_seed(0)
    emb = torch.randn(8, 4, 5, generator=gen, requires_grad=True)  # [n, p, c]
    logits = torch.randn(8, 4, 3, generator=gen, requires_grad=True) if with_logits else None
    return {"embeddings": emb, "logits": logits}


def test_triplet_plus_ce_is_the_weighted_sum_with_prefixed_info():
    out = _outputs()
    loss_fn = build_loss(
        {
            "triplet": {"weight": 1.0, "margin": 0.2},
            "ce": {"weight": 0.1, "scale": 16, "label_smoothing": 0.1},
        }
    )
    total, info = loss_fn(out, LABELS)
    tri, _ = TripletLoss(0.2)(out["embeddings"], LABELS)
    ce, _ = CrossEntropyLoss(16, 0.1)(out["logits"], LABELS)
    assert total.item() == pytest.approx(tri.item() + 0.1 * ce.item(), rel=1e-6)
    assert info["total"] == pytest.approx(total.item())
    assert info["triplet/loss"] == pytest.approx(tri.item()) and info["ce/loss"] == pytest.approx(ce.item())
    total.backward()
    assert out["embeddings"].grad is not None and out["logits"].grad is not None


def test_gil_entry_passes_its_settings():
    loss_fn = build_loss({"gil": {"form": "softmax", "margin": "fixed", "uniformity_weight": 0.2}})
    assert isinstance(loss_fn.terms["gil"], GeneralizedInterClassLoss)
    assert loss_fn.terms["gil"].config.uniformity_weight == 0.2
    total, info = loss_fn(_outputs(with_logits=False), LABELS)
    assert {"gil/softmax", "gil/uniformity", "gil/mean_margin", "total"} <= set(info)
    assert info["gil/loss"] == pytest.approx(total.item())


def test_missing_logits_is_an_error_naming_the_loss():
    with pytest.raises(ValueError, match=r"'ce' reads outputs\['logits'\]"):
        build_loss({"gil": {}, "ce": {}})(_outputs(with_logits=False), LABELS)


@pytest.mark.parametrize(
    "config,message",
    [
        ({"arcface": {}}, r"unknown loss 'arcface'; known: \['ce', 'gil', 'triplet'\]"),
        ({"triplet": {"marign": 0.3}}, r"loss.triplet.marign: unknown setting"),
        ({"gil": {"lambda_u": 0.3}}, r"loss.gil.lambda_u: unknown setting"),
        ({"ce": {"weight": -1}}, r"loss.ce.weight must be a number >= 0"),
        ({}, "non-empty mapping"),
    ],
)
def test_bad_config_raises_clearly(config, message):
    with pytest.raises(ValueError, match=message):
        build_loss(config)


def test_registry_refuses_duplicates():
    with pytest.raises(ValueError, match="already registered"):
        register_loss("triplet")(TripletLoss)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_every_registered_loss_runs_and_backpropagates(name):
    out = _outputs()
    total, info = build_loss({name: {}})(out, LABELS)
    total.backward()
    assert torch.isfinite(total) and all(isinstance(v, float) for v in info.values())
    assert out[LOSSES[name].input_key].grad is not None
