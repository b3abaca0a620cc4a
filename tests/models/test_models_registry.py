"""Registry and parameter-count parity with OpenGait."""

import pytest
import torch

from gil.models import MODELS, build_model, register_model

# OpenGait at HEAD (ShiqiYu/OpenGait 0efafd4), 64x44 input. Counts are sum(p.numel()) over
# model.parameters(); every figure below was reproduced by this package (see the issue text).
OPENGAIT_PARAMS = {
    "gaitset": (74, 2_594_592),  # configs/gaitset/gaitset.yaml
    "gaitpart": (74, 1_204_000),  # configs/gaitpart/gaitpart.yaml
    "gaitgl": (74, 3_096_673),  # configs/gaitgl/gaitgl.yaml (class_num 74; includes GeM's p)
    "gaitbase": (74, 7_305_408),  # configs/gaitbase/gaitbase_da_casiab.yaml
    "gaitset_oumvlp": (5153, 6_313_536),  # configs/gaitset/gaitset_OUMVLP.yaml
    "gaitpart_oumvlp": (5153, 4_841_248),  # configs/gaitpart/gaitpart_OUMVLP.yaml
    "gaitgl_oumvlp": (5153, 95_620_449),  # configs/gaitgl/gaitgl_OUMVLP.yaml (class_num 5153)
    "gaitbase_oumvlp": (5153, 28_108_992),  # configs/gaitbase/gaitbase_oumvlp.yaml
}


def test_registry_holds_every_model():
    assert set(MODELS) == set(OPENGAIT_PARAMS)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_parameter_count_equals_opengait(name):
    num_classes, expected = OPENGAIT_PARAMS[name]
    with torch.device("meta"):  # shapes only: no memory, no init cost
        model = build_model(name, num_classes)
    assert sum(p.numel() for p in model.parameters()) == expected


def test_unknown_name_lists_known_models():
    with pytest.raises(KeyError, match="gaitbase, gaitbase_oumvlp, gaitgl"):
        build_model("gaitsett", 74)


def test_duplicate_registration_is_refused():
    before = dict(MODELS)
    with pytest.raises(ValueError, match="'gaitset' is already registered"):
        register_model("gaitset")(lambda num_classes, width=1.0: None)
    assert MODELS == before


def test_unknown_config_field_names_valid_fields():
    with pytest.raises(TypeError, match=r"gaitgl: unknown config field\(s\) \['part'\].*'parts'"):
        build_model("gaitgl", 74, part=32)


def test_config_override_and_width():
    model = build_model("gaitset", 10, width=0.5, bins=(4, 2, 1))
    assert model.head.weight.shape == (14, 64, 128)  # [2 * sum(bins), 128 * 0.5, 256 * 0.5]
    with pytest.raises(ValueError, match="width must be > 0"):
        build_model("gaitset", 10, width=0.0)
