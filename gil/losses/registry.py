"""Loss registry and the weighted sum of a config's losses.

``build_loss({"triplet": {"weight": 1.0, "margin": 0.2}, "ce": {"weight": 0.1, "scale": 16}})``
returns a :class:`LossSum` whose ``forward(outputs, labels)`` takes a model's output dict
``{"embeddings": [n, p, c], "logits": [n, p, classes] | None}``: each loss reads the entry named
by its ``input_key`` (metric losses ``embeddings``, cross-entropy ``logits``). The ``info`` dicts
are merged with the loss's name as prefix (``gil/margin``, ``ce/loss``) and ``total`` is added.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping

from torch import Tensor, nn

from gil.losses.cross_entropy import CrossEntropyLoss
from gil.losses.gil import GeneralizedInterClassLoss
from gil.losses.triplet import TripletLoss

LOSSES: dict[str, type[nn.Module]] = {}


def register_loss(name: str) -> Callable[[type[nn.Module]], type[nn.Module]]:
    """Class decorator: add a loss to :data:`LOSSES` under ``name``; duplicates are refused."""

    def add(cls: type[nn.Module]) -> type[nn.Module]:
        if name in LOSSES:
            raise ValueError(f"loss {name!r} is already registered (as {LOSSES[name].__name__})")
        if not isinstance(getattr(cls, "input_key", None), str):
            raise ValueError(f"loss {name!r}: {cls.__name__} needs a class attribute input_key (str)")
        LOSSES[name] = cls
        return cls

    return add


register_loss("triplet")(TripletLoss)
register_loss("gil")(GeneralizedInterClassLoss)
register_loss("ce")(CrossEntropyLoss)


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
                    f"(BNNeck logits: GaitGL, GaitBase) or drop {name!r} from the loss config"
                )
            loss, term_info = loss_fn(value, labels)
            info.update({f"{name}/{k}": v for k, v in term_info.items()})
            weighted = self.weights[name] * loss
            total = weighted if total is None else total + weighted
        info["total"] = float(total.detach())
        return total, info


def build_loss(config: Mapping[str, Mapping[str, object]]) -> LossSum:
    """``{name: {"weight": w, **settings}}`` → :class:`LossSum`; unknown names or settings raise."""
    if not isinstance(config, Mapping) or not config:
        raise ValueError(f"loss config must be a non-empty mapping {{name: {{settings}}}}, got {config!r}")
    terms, weights = {}, {}
    for name, settings in config.items():
        if name not in LOSSES:
            raise ValueError(f"loss.{name}: unknown loss {name!r}; known: {sorted(LOSSES)}")
        settings = dict(settings or {})
        weight = settings.pop("weight", 1.0)
        if not isinstance(weight, int | float) or not weight >= 0:
            raise ValueError(f"loss.{name}.weight must be a number >= 0, got {weight!r}")
        cls = LOSSES[name]
        known = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
        for key in settings:
            if key not in known:
                raise ValueError(f"loss.{name}.{key}: unknown setting for {cls.__name__}; known: {['weight', *known]}")
        terms[name] = cls(**settings)
        weights[name] = weight
    return LossSum(terms, weights)


__all__ = ["LOSSES", "LossSum", "build_loss", "register_loss"]
