"""Losses: Generalized Inter-class Loss, OpenGait triplet baseline, BNNeck cross-entropy.

Every loss is an ``nn.Module`` with ``forward(x, labels) -> (loss, info)``: metric losses take
embeddings ``[n, p, c]`` (or ``[n, c]``), cross-entropy takes logits ``[n, p, classes]``; ``info``
is a flat dict of floats for logging. Each loss's settings are one frozen dataclass (``GILConfig``,
``TripletConfig``, ``CrossEntropyConfig``), the one home of their defaults; a run's loss is a weighted sum of
terms (``GILTerm``, ``TripletTerm``, ``CrossEntropyTerm``) that :func:`build_loss` turns into a :class:`LossSum`.
"""

from gil.losses.cross_entropy import CrossEntropyConfig, CrossEntropyLoss
from gil.losses.gil import GeneralizedInterClassLoss, GILConfig
from gil.losses.registry import (
    LOSSES,
    TERMS,
    CrossEntropyTerm,
    GILTerm,
    LossSum,
    LossTerm,
    TripletTerm,
    build_loss,
    describe_terms,
    register_loss,
)
from gil.losses.triplet import TripletConfig, TripletLoss, batch_all_triplet

__all__ = [
    "LOSSES",
    "TERMS",
    "CrossEntropyConfig",
    "CrossEntropyLoss",
    "CrossEntropyTerm",
    "GILConfig",
    "GILTerm",
    "GeneralizedInterClassLoss",
    "LossSum",
    "LossTerm",
    "TripletConfig",
    "TripletLoss",
    "TripletTerm",
    "batch_all_triplet",
    "build_loss",
    "describe_terms",
    "register_loss",
]
