"""The model registry: a plain dict of builders and ``build_model``.

Every builder has the signature ``builder(num_classes, width=1.0, **overrides) -> nn.Module``; the
overrides are fields of the model's frozen config dataclass (e.g. ``bins=(8, 4, 2, 1)``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

from torch import nn

Builder = Callable[..., nn.Module]
#: The registered models' builders by name; ``@register_model`` adds one, ``build_model`` builds one.
MODELS: dict[str, Builder] = {}
C = TypeVar("C")


def register_model(name: str) -> Callable[[Builder], Builder]:
    """Decorator adding ``builder`` to :data:`MODELS` under ``name``; a duplicate name is an error."""

    def add(builder: Builder) -> Builder:
        if name in MODELS:
            raise ValueError(f"model {name!r} is already registered (by {MODELS[name].__qualname__})")
        MODELS[name] = builder
        return builder

    return add


def build_model(name: str, num_classes: int, width: float = 1.0, **kw: Any) -> nn.Module:
    """Build the registered model ``name``.

    Args:
        name: a key of :data:`MODELS`, e.g. ``"gaitgl"`` (CASIA-B config) or ``"gaitgl_oumvlp"``.
        num_classes: training identities (74 for CASIA-B LT); models without a classifier ignore it.
        width: channel multiplier; 1.0 is OpenGait's architecture.
        **kw: overrides of the model's config dataclass fields.
    """
    if name not in MODELS:
        raise KeyError(f"unknown model {name!r}; known models: {', '.join(sorted(MODELS))}")
    if width <= 0:
        raise ValueError(f"width must be > 0, got {width}")
    return MODELS[name](num_classes, width, **kw)


def with_overrides(base: C, model: str, kw: dict[str, Any]) -> C:
    """``dataclasses.replace(base, **kw)`` whose error names the model and its valid fields."""
    fields = [f.name for f in dataclasses.fields(base)]  # type: ignore[arg-type]
    unknown = sorted(set(kw) - set(fields))
    if unknown:
        raise TypeError(f"{model}: unknown config field(s) {unknown}; valid fields: {fields}")
    return dataclasses.replace(base, **kw)  # type: ignore[type-var]


def scaled(channels: int, width: float) -> int:
    """``channels`` multiplied by ``width``, rounded, at least 1."""
    return max(1, int(round(channels * width)))
