"""gil — Generalized Inter-class Loss for Gait Recognition (ACM MM 2022), reproduced.

Subpackages: :mod:`gil.data` (embedded CASIA-B twin, OpenGait pkl reader, sampler),
:mod:`gil.models` (GaitSet, GaitPart, GaitGL, GaitBase), :mod:`gil.losses` (GIL, triplet,
cross-entropy); modules :mod:`gil.train`, :mod:`gil.evaluate`, :mod:`gil.metrics`, :mod:`gil.plots`.
"""

__version__ = "0.1.0"
