"""Evaluation: embeddings from a model (:mod:`~gil.evaluate.extract`), the CASIA-B / OU-MVLP cross-view
protocols (:mod:`~gil.evaluate.protocols`), their result (:mod:`~gil.evaluate.result`), and a run folder's
evaluation (:mod:`~gil.evaluate.run`)."""

from gil.evaluate.distance import METRICS, Embeddings, pairwise_distance
from gil.evaluate.protocols import CASIA_B_GALLERY, CASIA_B_PROBES, casia_b, oumvlp
from gil.evaluate.result import ProtocolResult

__all__ = [
    "CASIA_B_GALLERY",
    "CASIA_B_PROBES",
    "METRICS",
    "Embeddings",
    "ProtocolResult",
    "casia_b",
    "oumvlp",
    "pairwise_distance",
]
