"""OpenGait's batch-all triplet loss — the paper's baseline.

Per part (each part its own metric space), with ``d_ij = ||e_i − e_j||₂``:

    L_part = Σ_{(a, p, n)} [d_ap − d_an + margin]₊  /  #{(a, p, n) : [d_ap − d_an + margin]₊ > 0}

over every triplet with ``y_p = y_a`` (p = a included, d_aa = 0) and ``y_n ≠ y_a``; 0 when no
term is non-zero. The loss is the mean of ``L_part`` over the p parts. This is OpenGait's
``TripletLoss`` (margin 0.2) followed by its loss aggregator's mean over parts; unlike OpenGait's
``view``-based pairing it also accepts unbalanced batches (any class sizes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import Tensor, nn

from gil.losses.pairs import (
    NoValidPairs,
    PairIndex,
    check_batch_options,
    fill_padding,
    full_precision,
    hinge_mean_nonzero,
    pairwise_distance,
    prepare_batch,
    to_floats,
    zero_loss,
)
from gil.losses.settings import finite_number, settings_from


@dataclass(frozen=True)
class TripletConfig:
    """Settings of :class:`TripletLoss`."""

    margin: float = 0.2  # OpenGait's triplet margin (every OpenGait config of the paper's backbones)

    def __post_init__(self) -> None:
        object.__setattr__(self, "margin", finite_number("TripletLoss", "margin", self.margin, at_most=100.0))
        if not self.margin >= 0:
            raise ValueError(f"TripletLoss: margin must be >= 0, got {self.margin!r}")


def batch_all_triplet(dist: Tensor, index: PairIndex, margin: float | Tensor) -> tuple[Tensor, Tensor]:
    """Batch-all triplet hinge with OpenGait's "average over non-zero terms" reduction.

    ``dist [p, n, n]`` distances (possibly pair-weighted); ``margin`` a float, or a per
    anchor–negative margin ``[p, n, m]`` laid out like ``index.negatives``.
    Returns ``(per_part [p], num_active [p])``: the reduced loss per part (0 where no term is
    non-zero) and the number of non-zero hinge terms per part.
    """
    ap = index.positives(dist)  # [p, n, k]
    an = index.negatives(dist)  # [p, n, m]
    if isinstance(margin, Tensor):
        an = an - margin  # [d_ap − (d_an − margin)]₊ = [d_ap − d_an + margin]₊
        margin = 0.0
    ap, an = fill_padding(ap, an, index)
    return hinge_mean_nonzero(ap, an, margin)


class TripletLoss(nn.Module):
    """OpenGait's batch-all triplet loss over part-based embeddings.

    ``forward(embeddings [n, p, c] | [n, c], labels [n]) -> (loss, info)``; ``layout="ncp"`` reads OpenGait's
    ``[n, c, p]`` instead. ``info`` holds ``loss``, ``loss_num`` (non-zero terms, mean over parts),
    ``active_fraction`` (non-zero terms / valid triplets), ``mean_dist`` (mean pairwise distance).
    Settings: a :class:`TripletConfig` or its fields as keywords (``TripletLoss(margin=0.3)``).
    ``empty_batch``: a batch without valid pairs raises (``"raise"``) or gives a zero loss with a zero gradient
    (``"zero"``; ``info["empty_batch"]`` is then 1, and 0 on other batches).
    """

    input_key = "embeddings"
    settings = TripletConfig

    def __init__(
        self, config: TripletConfig | None = None, *, layout: str = "npc", empty_batch: str = "raise", **settings: Any
    ) -> None:
        super().__init__()
        self.config = settings_from(TripletConfig, config, settings, "TripletLoss")
        check_batch_options("TripletLoss", layout, empty_batch)
        self.margin = float(self.config.margin)
        self.layout, self.empty_batch = layout, empty_batch

    def extra_repr(self) -> str:
        return f"margin={self.margin}, layout={self.layout!r}, empty_batch={self.empty_batch!r}"

    def forward(self, embeddings: Tensor, labels: Tensor) -> tuple[Tensor, dict[str, float]]:
        try:
            x, labels, index = prepare_batch(embeddings, labels, "TripletLoss", self.layout)  # [p, n, c]
        except NoValidPairs:
            if self.empty_batch == "raise":
                raise
            empty = {"loss": 0.0, "loss_num": 0.0, "active_fraction": 0.0, "mean_dist": 0.0, "empty_batch": 1.0}
            return zero_loss(embeddings), empty
        with full_precision(x):
            dist, _ = pairwise_distance(x)  # [p, n, n]
            per_part, num_active = batch_all_triplet(dist, index, self.margin)
            loss = per_part.mean()
        info = to_floats(
            {
                "loss": loss,
                "loss_num": num_active.double().mean(),
                "active_fraction": num_active.double().mean() / index.num_triplets(),
                "mean_dist": dist.detach().mean(),
            }
        )
        if self.empty_batch == "zero":
            info["empty_batch"] = 0.0
        return loss, info


__all__ = ["TripletConfig", "TripletLoss", "batch_all_triplet"]
