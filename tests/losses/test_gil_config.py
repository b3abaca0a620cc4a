"""GILConfig is the one source of GIL's settings: the constructor's keywords and defaults, and the margin rule."""

from __future__ import annotations

import dataclasses
import inspect

import pytest
import torch

from gil.losses import build_loss
from gil.losses.gil import GeneralizedInterClassLoss, GILConfig, adaptive_margins, margin_of_cosine


def test_constructor_keywords_and_defaults_are_the_config_fields():
    params = inspect.signature(GeneralizedInterClassLoss.__init__).parameters
    fields = {f.name: f.default for f in dataclasses.fields(GILConfig)}
    batch_reading = {"layout": "npc", "empty_batch": "raise"}  # how batches are read, not settings of the method
    assert {name: p.default for name, p in params.items() if name != "self"} == {**fields, **batch_reading}
    assert GeneralizedInterClassLoss().config == GILConfig()


def test_constructor_settings_reach_the_config_and_build_loss_validates_them():
    loss = GeneralizedInterClassLoss(form="softmax", tau=0.3, m0=1)
    assert loss.config == GILConfig(form="softmax", tau=0.3, m0=1.0)
    assert build_loss({"gil": {"kappa": 0.7}}).terms["gil"].config.kappa == 0.7
    with pytest.raises(ValueError, match=r"loss\.gil\.kapa"):
        build_loss({"gil": {"kapa": 0.7}})


def test_adaptive_margins_apply_the_cosine_rule():
    cfg = GILConfig(kappa=1.5, m_min=0.1, m_max=0.4)
    rule = (cfg.m0, cfg.kappa, cfg.m_min, cfg.m_max)
    centres = torch.nn.functional.normalize(torch.randn(2, 5, 3, dtype=torch.float64), dim=-1)  # [p, C, c]
    cos = centres @ centres.transpose(1, 2)  # [p, C, C]
    torch.testing.assert_close(adaptive_margins(centres, *rule), margin_of_cosine(cos, *rule))
    for s, expected in ((-1.0, 0.1), (0.0, 0.2), (0.5, 0.35), (1.0, 0.4)):  # clip(0.2 (1 + 1.5 s), 0.1, 0.4)
        assert float(margin_of_cosine(torch.tensor(s, dtype=torch.float64), *rule)) == pytest.approx(expected)


def test_default_uniformity_weight_follows_the_form():
    # the margin form's λ_u was chosen on validation identities (issue #17); the softmax forms keep the first 0.1
    assert GILConfig().uniformity_weight == 0.01
    assert GILConfig(form="softmax").uniformity_weight == 0.1
    assert GILConfig(form="softmax_official").uniformity_weight == 0.1
    assert GILConfig(uniformity_weight=0.1).uniformity_weight == 0.1  # the first reconstruction, still available
    assert GILConfig(uniformity_weight=0).uniformity_weight == 0
    assert build_loss({"gil": {"form": "margin"}}).terms["gil"].config.uniformity_weight == 0.01
    with pytest.raises(ValueError, match="uniformity_weight must be >= 0"):
        GILConfig(uniformity_weight=-0.1)
