"""Measures of trained embeddings ``[n, p, c]`` (``[n, c]`` is read as ``p = 1``), torch or numpy; ``labels`` are
``n`` identity labels of any hashable type. Pure tensors / numpy in, numpy arrays / pandas DataFrames out; the
figures live in :mod:`gil.plots`.

- :mod:`~gil.metrics.geometry`: hypersphere uniformity and alignment, mean norm, class-centre angles
  (and :func:`~gil.metrics.geometry.batch_geometry`, the trainer's per-batch log).
- :mod:`~gil.metrics.margins`: per-identity margins, pair-distance samples, GIL's margins on class centres.
- :mod:`~gil.metrics.projection`: one vector per sequence and its 2-D map.
- :mod:`~gil.metrics.tables`: several runs side by side.
"""

from gil.metrics.geometry import (
    CentreGeometry,
    alignment,
    batch_geometry,
    centre_geometry,
    mean_norm,
    uniformity,
    uniformity_alignment,
)
from gil.metrics.margins import centre_pair_margins, distance_samples, identity_margins
from gil.metrics.projection import PART_REDUCTIONS, PROJECTIONS, part_features, project_2d
from gil.metrics.tables import (
    adaptive_margin_summary,
    centre_angle_summary,
    compare_summaries,
    distance_overlap,
    margin_summary,
)

__all__ = [
    "PART_REDUCTIONS",
    "PROJECTIONS",
    "CentreGeometry",
    "adaptive_margin_summary",
    "alignment",
    "batch_geometry",
    "centre_angle_summary",
    "centre_geometry",
    "centre_pair_margins",
    "compare_summaries",
    "distance_overlap",
    "distance_samples",
    "identity_margins",
    "margin_summary",
    "mean_norm",
    "part_features",
    "project_2d",
    "uniformity",
    "uniformity_alignment",
]
