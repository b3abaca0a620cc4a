"""Losses: Generalized Inter-class Loss, OpenGait triplet baseline, BNNeck cross-entropy.

Every loss is an ``nn.Module`` with ``forward(x, labels) -> (loss, info)``: metric losses take
embeddings ``[n, p, c]`` (or ``[n, c]``), cross-entropy takes logits ``[n, p, classes]``; ``info``
is a flat dict of floats for logging. :func:`build_loss` turns a config into their weighted sum.
"""

from gil.losses.cross_entropy import CrossEntropyLoss
from gil.losses.gil import GeneralizedInterClassLoss, GILConfig
from gil.losses.registry import LOSSES, LossSum, build_loss, register_loss
from gil.losses.triplet import TripletLoss, batch_all_triplet

__all__ = [
    "LOSSES",
    "CrossEntropyLoss",
    "GILConfig",
    "GeneralizedInterClassLoss",
    "LossSum",
    "TripletLoss",
    "batch_all_triplet",
    "build_loss",
    "register_loss",
]
