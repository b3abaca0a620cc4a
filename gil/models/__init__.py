"""Gait backbones at OpenGait parity and their registry.

``build_model(name, num_classes, width=1.0, **config_overrides)`` builds one of :data:`~gil.models.registry.MODELS`
(``gaitset``, ``gaitpart``, ``gaitgl``, ``gaitbase`` — OpenGait's CASIA-B configs — and their
``*_oumvlp`` variants). Every model maps ``sils [n, s, h, w]`` (floats in [0, 1]) and optional
``lengths [n]`` to ``{"embeddings": [n, p, c], "logits": [n, p, k] | None}``.
"""

from . import gaitbase, gaitgl, gaitpart, gaitset  # noqa: F401  (register the models)
from .modules import ModelOutput
from .opengait_weights import LoadReport, export_opengait_state_dict, load_opengait_checkpoint, opengait_key_map
from .registry import MODELS, build_model, register_model

__all__ = [
    "MODELS",
    "LoadReport",
    "ModelOutput",
    "build_model",
    "export_opengait_state_dict",
    "load_opengait_checkpoint",
    "opengait_key_map",
    "register_model",
]
