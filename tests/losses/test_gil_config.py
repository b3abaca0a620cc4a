"""GILConfig is the one source of GIL's settings: the constructor's keywords and defaults, and the margin rule."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from gil.losses import GILTerm, build_loss
from gil.losses.gil import GeneralizedInterClassLoss, GILConfig, adaptive_margins, margin_of_cosine


def test_the_loss_takes_a_config_or_its_fields_as_keywords():
    assert GeneralizedInterClassLoss().config == GILConfig()
    loss = GeneralizedInterClassLoss(form="softmax", tau=0.3, m0=1)
    assert loss.config == GILConfig(form="softmax", tau=0.3, m0=1.0)
    assert GeneralizedInterClassLoss(GILConfig(form="softmax", tau=0.3, m0=1)).config == loss.config
    term = GILTerm(weight=0.5, kappa=0.7)
    assert GeneralizedInterClassLoss(term).config == GILConfig(kappa=0.7)  # the term's weight is the sum's, not GIL's
    assert type(GeneralizedInterClassLoss(term).config) is GILConfig
    with pytest.raises(ValueError, match="unknown setting 'kapa'; settings: form, pair_weight"):
        GeneralizedInterClassLoss(kapa=0.7)
    with pytest.raises(TypeError, match="not both"):
        GeneralizedInterClassLoss(GILConfig(), kappa=0.7)
    with pytest.raises(TypeError, match="config must be a GILConfig, got float"):
        GeneralizedInterClassLoss(0.7)


def test_build_loss_passes_typed_terms_and_refuses_plain_mappings():
    assert build_loss({"gil": GILTerm(kappa=0.7)}).terms["gil"].config.kappa == 0.7
    assert build_loss({"gil": GILConfig(kappa=0.7)}).weights == {"gil": 1.0}
    with pytest.raises(TypeError, match=r"loss\.terms\.gil: expected a GILTerm \(or GILConfig\), got dict"):
        build_loss({"gil": {"kappa": 0.7}})


def test_a_resolved_config_reads_back_as_itself():
    """Unset settings resolve to the form's defaults; the resolved values are valid input again (a run folder's
    config.yaml holds them)."""
    for form in ("margin", "softmax", "softmax_official"):
        resolved = GILConfig(form=form)
        assert None not in dataclasses.astuple(resolved)
        assert GILConfig(**dataclasses.asdict(resolved)) == resolved
    assert GILConfig(form="softmax_official").margin == "none"
    assert GILConfig(form="softmax").pair_weight == "none" and GILConfig().pair_weight == "official"


@pytest.mark.parametrize(
    "settings,message",
    [
        ({"form": "softmax", "pair_weight": "official"}, r"pair_weight must be one of \('none',\) with form='softmax'"),
        ({"form": "softmax_official", "margin": "fixed"}, "the authors' InfoLoss has no margin"),
        ({"form": "margin", "margin": "none"}, r"margin must be one of \('adaptive', 'fixed'\)"),
        ({"tau": "0.1"}, "tau must be a finite number"),
        ({"tau": float("inf")}, "tau must be a finite number"),
        ({"m0": True}, "m0 must be a finite number"),
        ({"m_max": 0.01}, "m_max must be >= m_min"),
    ],
)
def test_inconsistent_settings_are_refused(settings, message):
    with pytest.raises(ValueError, match=message):
        GILConfig(**settings)


def test_adaptive_margins_apply_the_cosine_rule():
    cfg = GILConfig(kappa=1.5, m_min=0.1, m_max=0.4)
    centres = torch.nn.functional.normalize(torch.randn(2, 5, 3, dtype=torch.float64), dim=-1)  # [p, C, c]
    cos = centres @ centres.transpose(1, 2)  # [p, C, C]
    torch.testing.assert_close(adaptive_margins(centres, cfg), margin_of_cosine(cos, cfg))
    for s, expected in ((-1.0, 0.1), (0.0, 0.2), (0.5, 0.35), (1.0, 0.4)):  # clip(0.2 (1 + 1.5 s), 0.1, 0.4)
        assert float(margin_of_cosine(torch.tensor(s, dtype=torch.float64), cfg)) == pytest.approx(expected)


def test_default_uniformity_weight_follows_the_form():
    # the margin form's λ_u was chosen on validation identities (issue #17); the softmax forms keep the first 0.1
    assert GILConfig().uniformity_weight == 0.01
    assert GILConfig(form="softmax").uniformity_weight == 0.1
    assert GILConfig(form="softmax_official").uniformity_weight == 0.1
    assert GILConfig(uniformity_weight=0.1).uniformity_weight == 0.1  # the first reconstruction, still available
    assert GILConfig(uniformity_weight=0).uniformity_weight == 0
    assert build_loss({"gil": GILTerm(form="margin")}).terms["gil"].config.uniformity_weight == 0.01
    with pytest.raises(ValueError, match="uniformity_weight must be >= 0"):
        GILConfig(uniformity_weight=-0.1)
