"""How a loss takes its settings: one frozen dataclass per loss holds every setting and its default, written once
there (:class:`~gil.losses.gil.GILConfig`, :class:`~gil.losses.triplet.TripletConfig`,
:class:`~gil.losses.cross_entropy.CrossEntropyConfig`). A loss is built from that dataclass, or from keyword
arguments named like its fields (``GeneralizedInterClassLoss(form="softmax")``), never from both.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any, TypeVar

Settings = TypeVar("Settings")


def finite_number(owner: str, name: str, value: Any, at_most: float = 1e6) -> float:
    """``value`` as a float, or an error naming ``owner.name``: a bool, a string, NaN or ±inf is not a setting, nor is
    a number above ``at_most`` (no loss setting means anything there)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{owner}: {name} must be a finite number, got {value!r}")
    if value > at_most:
        raise ValueError(f"{owner}: {name} must be at most {at_most:g}, got {value!r}")
    return float(value)


def setting_names(settings_class: type) -> tuple[str, ...]:
    """The field names of a settings dataclass, in order."""
    return tuple(f.name for f in dataclasses.fields(settings_class))


def settings_from(settings_class: type[Settings], config: Any, keywords: Mapping[str, Any], owner: str) -> Settings:
    """``config`` (an instance of ``settings_class``, or of a subclass such as a config's weighted loss term, whose
    own fields are dropped) or ``settings_class(**keywords)``; a keyword that is no setting is an error naming
    ``owner`` and the valid settings."""
    names = setting_names(settings_class)
    if config is not None:
        if keywords:
            raise TypeError(f"{owner}: pass a {settings_class.__name__} or keyword settings, not both")
        if not isinstance(config, settings_class):
            raise TypeError(f"{owner}: config must be a {settings_class.__name__}, got {type(config).__name__}")
        if type(config) is settings_class:
            return config
        return settings_class(**{name: getattr(config, name) for name in names})
    unknown = [key for key in keywords if key not in names]
    if unknown:
        raise ValueError(f"{owner}: unknown setting {unknown[0]!r}; settings: {', '.join(names)}")
    return settings_class(**keywords)


__all__ = ["finite_number", "setting_names", "settings_from"]
