"""Loss registry, the weighted terms a run's loss is made of, and their sum.

Each registered loss has a settings dataclass (``cls.settings``: :class:`~gil.losses.gil.GILConfig`,
:class:`~gil.losses.triplet.TripletConfig`, :class:`~gil.losses.cross_entropy.CrossEntropyConfig`) and a *term*
type: the same settings plus the term's ``weight`` in the sum (:class:`GILTerm`, :class:`TripletTerm`,
:class:`CrossEntropyTerm`; :data:`TERMS`), which is what a run config's ``loss.terms`` holds.

``build_loss({"triplet": TripletTerm(margin=0.2), "ce": CrossEntropyTerm(weight=0.1)})`` returns a :class:`LossSum`
whose ``forward(outputs, labels)`` takes a model's output dict ``{"embeddings": [n, p, c], "logits": [n, p, classes]
| None}``: each loss reads the entry named by its ``input_key`` (metric losses ``embeddings``, cross-entropy
``logits``). The ``info`` dicts are merged with the term's name as prefix (``gil/margin``, ``ce/loss``) and
``total`` is added.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from torch import Tensor, nn

from gil.losses.cross_entropy import CrossEntropyConfig, CrossEntropyLoss
from gil.losses.gil import GeneralizedInterClassLoss, GILConfig
from gil.losses.triplet import TripletConfig, TripletLoss

LOSSES: dict[str, type[nn.Module]] = {}
TERMS: dict[str, type[LossTerm]] = {}


@dataclass(frozen=True)
class LossTerm:
    """What every term of the loss sum has: its weight. A term type adds its loss's settings (:data:`TERMS`)."""

    weight: float = 1.0

    def __post_init__(self) -> None:
        number = isinstance(self.weight, int | float) and not isinstance(self.weight, bool)
        if not (number and math.isfinite(self.weight) and 0 <= self.weight <= 1e6):
            raise ValueError(f"weight must be a finite number in [0, 1e6], got {self.weight!r}")
        object.__setattr__(self, "weight", float(self.weight))


@dataclass(frozen=True)
class TripletTerm(TripletConfig, LossTerm):
    """``loss.terms.triplet``: OpenGait's batch-all triplet (:class:`~gil.losses.triplet.TripletConfig`) and its
    weight."""

    def __post_init__(self) -> None:
        LossTerm.__post_init__(self)
        TripletConfig.__post_init__(self)


@dataclass(frozen=True)
class GILTerm(GILConfig, LossTerm):
    """``loss.terms.gil``: GIL (:class:`~gil.losses.gil.GILConfig`) and its weight."""

    def __post_init__(self) -> None:
        LossTerm.__post_init__(self)
        GILConfig.__post_init__(self)


@dataclass(frozen=True)
class CrossEntropyTerm(CrossEntropyConfig, LossTerm):
    """``loss.terms.ce``: BNNeck cross-entropy (:class:`~gil.losses.cross_entropy.CrossEntropyConfig`) and its
    weight."""

    def __post_init__(self) -> None:
        LossTerm.__post_init__(self)
        CrossEntropyConfig.__post_init__(self)


def register_loss(name: str, term: type[LossTerm]) -> Callable[[type[nn.Module]], type[nn.Module]]:
    """Class decorator: add a loss to :data:`LOSSES` and its term type to :data:`TERMS` under ``name``.

    The loss needs ``input_key`` (the model output it reads) and ``settings`` (its settings dataclass, which
    ``term`` extends with a weight) and must take ``cls(settings_instance)``. Duplicates are refused.
    """

    def add(cls: type[nn.Module]) -> type[nn.Module]:
        if name in LOSSES:
            raise ValueError(f"loss {name!r} is already registered (as {LOSSES[name].__name__})")
        if not isinstance(getattr(cls, "input_key", None), str):
            raise ValueError(f"loss {name!r}: {cls.__name__} needs a class attribute input_key (str)")
        settings = getattr(cls, "settings", None)
        if not (isinstance(settings, type) and issubclass(term, settings) and issubclass(term, LossTerm)):
            raise ValueError(
                f"loss {name!r}: its term type {term.__name__} must extend both {cls.__name__}.settings and LossTerm"
            )
        LOSSES[name] = cls
        TERMS[name] = term
        return cls

    return add


register_loss("triplet", TripletTerm)(TripletLoss)
register_loss("gil", GILTerm)(GeneralizedInterClassLoss)
register_loss("ce", CrossEntropyTerm)(CrossEntropyLoss)


class LossSum(nn.Module):
    """``total = Σ_name weight_name · loss_name(outputs[input_key], labels)``."""

    def __init__(self, terms: Mapping[str, nn.Module], weights: Mapping[str, float]) -> None:
        super().__init__()
        if not terms:
            raise ValueError("LossSum: no losses given")
        self.terms = nn.ModuleDict(dict(terms))
        self.weights = {name: float(weights[name]) for name in terms}

    def extra_repr(self) -> str:
        return f"weights={self.weights}"

    def forward(self, outputs: Mapping[str, Tensor | None], labels: Tensor) -> tuple[Tensor, dict[str, float]]:
        total: Tensor | None = None
        info: dict[str, float] = {}
        for name, loss_fn in self.terms.items():
            key = loss_fn.input_key
            value = outputs.get(key)
            if value is None:
                raise ValueError(
                    f"loss {name!r} reads outputs[{key!r}] but the model returned none (keys with values: "
                    f"{[k for k, v in outputs.items() if v is not None]}); use a backbone that has it "
                    f"(BNNeck logits: GaitGL, GaitBase) or remove the term (--set loss.terms.{name}=null)"
                )
            loss, term_info = loss_fn(value, labels)
            info.update({f"{name}/{k}": v for k, v in term_info.items()})
            weighted = self.weights[name] * loss
            total = weighted if total is None else total + weighted
        info["total"] = float(total.detach())
        return total, info


def build_loss(terms: Mapping[str, Any], **batch_options: str) -> LossSum:
    """``{name: term}`` → :class:`LossSum`. A term is its :data:`TERMS` type (settings and weight, as a run config's
    ``loss.terms`` holds) or the loss's bare settings (weight 1); ``batch_options`` (``layout``, ``empty_batch``) go
    to every metric loss that reads embeddings."""
    if not isinstance(terms, Mapping) or not terms:
        raise ValueError(f"loss terms must be a non-empty mapping {{name: term}}, got {terms!r}")
    modules, weights = {}, {}
    for name, term in terms.items():
        if name not in LOSSES:
            raise ValueError(f"loss.terms.{name}: unknown loss {name!r}; known: {sorted(LOSSES)}")
        cls = LOSSES[name]
        if not isinstance(term, cls.settings):
            raise TypeError(
                f"loss.terms.{name}: expected a {TERMS[name].__name__} (or {cls.settings.__name__}), got "
                f"{type(term).__name__}; a run config's loss.terms hold them (gil.config.from_dict reads mappings)"
            )
        options = batch_options if cls.input_key == "embeddings" else {}
        modules[name] = cls(term, **options)
        weights[name] = getattr(term, "weight", 1.0)
    return LossSum(modules, weights)


def describe_terms(terms: Mapping[str, Any]) -> str:
    """One line for a log: ``1.0 · triplet(margin=0.2) + 1.0 · gil(form='softmax_official', …)``, every setting."""
    parts = []
    for name, term in terms.items():
        settings = ", ".join(f"{key}={getattr(term, key)!r}" for key in LOSSES[name].settings.__dataclass_fields__)
        parts.append(f"{getattr(term, 'weight', 1.0):g} · {name}({settings})")
    return " + ".join(parts)


__all__ = [
    "LOSSES",
    "TERMS",
    "CrossEntropyTerm",
    "GILTerm",
    "LossSum",
    "LossTerm",
    "TripletTerm",
    "build_loss",
    "describe_terms",
    "register_loss",
]
