"""Evaluation: embeddings from a model (:mod:`~gil.evaluate.extract`), the CASIA-B / OU-MVLP single-view-gallery
protocols (:mod:`~gil.evaluate.protocols`), the cross-view gallery and generic probe/gallery protocols
(:mod:`~gil.evaluate.retrieval`), their ranking measures (:mod:`~gil.evaluate.ranking`: rank-k, AP, INP), the
result (:mod:`~gil.evaluate.result`), and a run folder's evaluation (:mod:`~gil.evaluate.run`)."""

from gil.evaluate.distance import METRICS, Embeddings, pairwise_distance
from gil.evaluate.protocols import CASIA_B_GALLERY, CASIA_B_PROBES, casia_b, oumvlp
from gil.evaluate.ranking import RANKS, ProbeRanking, cmc, rank_probes
from gil.evaluate.result import ProtocolResult
from gil.evaluate.retrieval import cross_view_gallery, probe_gallery, type_mask

__all__ = [
    "CASIA_B_GALLERY",
    "CASIA_B_PROBES",
    "METRICS",
    "RANKS",
    "Embeddings",
    "ProbeRanking",
    "ProtocolResult",
    "casia_b",
    "cmc",
    "cross_view_gallery",
    "oumvlp",
    "pairwise_distance",
    "probe_gallery",
    "rank_probes",
    "type_mask",
]
