"""build_loss: config → weighted sum of losses over a model's output dict."""

from __future__ import annotations

import pytest
import torch

from gil.losses import (
    LOSSES,
    TERMS,
    CrossEntropyLoss,
    CrossEntropyTerm,
    GeneralizedInterClassLoss,
    GILTerm,
    LossTerm,
    TripletLoss,
    TripletTerm,
    build_loss,
    describe_terms,
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
            "triplet": TripletTerm(weight=1.0, margin=0.2),
            "ce": CrossEntropyTerm(weight=0.1, scale=16, label_smoothing=0.1),
        }
    )
    total, info = loss_fn(out, LABELS)
    tri, _ = TripletLoss(margin=0.2)(out["embeddings"], LABELS)
    ce, _ = CrossEntropyLoss(scale=16, label_smoothing=0.1)(out["logits"], LABELS)
    assert total.item() == pytest.approx(tri.item() + 0.1 * ce.item(), rel=1e-6)
    assert info["total"] == pytest.approx(total.item())
    assert info["triplet/loss"] == pytest.approx(tri.item()) and info["ce/loss"] == pytest.approx(ce.item())
    total.backward()
    assert out["embeddings"].grad is not None and out["logits"].grad is not None


def test_gil_entry_passes_its_settings():
    loss_fn = build_loss({"gil": GILTerm(form="softmax", margin="fixed", uniformity_weight=0.2)})
    assert isinstance(loss_fn.terms["gil"], GeneralizedInterClassLoss)
    assert loss_fn.terms["gil"].config.uniformity_weight == 0.2
    total, info = loss_fn(_outputs(with_logits=False), LABELS)
    assert {"gil/softmax", "gil/uniformity", "gil/mean_margin", "total"} <= set(info)
    assert info["gil/loss"] == pytest.approx(total.item())


def test_missing_logits_is_an_error_naming_the_loss():
    with pytest.raises(ValueError, match=r"'ce' reads outputs\['logits'\]"):
        build_loss({"gil": GILTerm(), "ce": CrossEntropyTerm()})(_outputs(with_logits=False), LABELS)


@pytest.mark.parametrize(
    "make,message",
    [
        (lambda: build_loss({"arcface": TripletTerm()}), r"unknown loss 'arcface'; known: \['ce', 'gil', 'triplet'\]"),
        (lambda: TripletTerm(marign=0.3), "unexpected keyword argument 'marign'"),
        (lambda: CrossEntropyTerm(weight=-1), r"weight must be a finite number in \[0, 1e6\]"),
        (lambda: GILTerm(weight=float("nan")), r"weight must be a finite number in \[0, 1e6\]"),
        (lambda: TripletTerm(margin=-0.1), "margin must be >= 0"),
        (lambda: TripletLoss(margin="0.2"), "TripletLoss: margin must be a finite number, got '0.2'"),
        (lambda: CrossEntropyLoss(scale=float("nan")), "CrossEntropyLoss: scale must be a finite number, got nan"),
        (lambda: TripletTerm(weight=True), r"weight must be a finite number in \[0, 1e6\], got True"),
        (lambda: build_loss({}), "non-empty mapping"),
    ],
)
def test_bad_terms_raise_clearly(make, message):
    with pytest.raises((TypeError, ValueError), match=message):
        make()


def test_registry_refuses_duplicates_and_terms_that_do_not_extend_the_settings():
    with pytest.raises(ValueError, match="already registered"):
        register_loss("triplet", TripletTerm)(TripletLoss)
    with pytest.raises(ValueError, match="must extend both TripletLoss.settings and LossTerm"):
        register_loss("triplet2", GILTerm)(TripletLoss)


def test_every_loss_has_a_term_type_extending_its_settings():
    assert set(TERMS) == set(LOSSES)
    for name, term in TERMS.items():
        assert issubclass(term, LOSSES[name].settings) and issubclass(term, LossTerm)
        assert term().weight == 1.0


def test_describe_terms_names_every_setting():
    line = describe_terms({"triplet": TripletTerm(weight=0.5), "ce": CrossEntropyTerm(scale=1.0)})
    assert line == "0.5 · triplet(margin=0.2) + 1 · ce(scale=1.0, label_smoothing=0.1)"


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_every_registered_loss_runs_and_backpropagates(name):
    out = _outputs()
    total, info = build_loss({name: TERMS[name]()})(out, LABELS)
    total.backward()
    assert torch.isfinite(total) and all(isinstance(v, float) for v in info.values())
    assert out[LOSSES[name].input_key].grad is not None
