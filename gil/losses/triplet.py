"""OpenGait's batch-all triplet loss — the paper's baseline.

Per part (each part its own metric space), with ``d_ij = ||e_i − e_j||₂``:

    L_part = Σ_{(a, p, n)} [d_ap − d_an + m]₊  /  #{(a, p, n) : [d_ap − d_an + m]₊ > 0}

over every triplet with ``y_p = y_a`` (p = a included, d_aa = 0) and ``y_n ≠ y_a``; 0 when no
term is non-zero. The loss is the mean of ``L_part`` over the p parts. This is OpenGait's
``TripletLoss`` (margin 0.2) followed by its loss aggregator's mean over parts; unlike OpenGait's
``view``-based pairing it also accepts unbalanced batches (any class sizes).
"""

from __future__ import annotations

from torch import Tensor, nn

from gil.losses.pairs import (
    PairIndex,
    full_precision,
    pairwise_distance,
    prepare_batch,
    to_floats,
    triplet_table,
)


def batch_all_triplet(
    dist: Tensor, index: PairIndex, margin: float | Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """Batch-all triplet hinge with OpenGait's "average over non-zero terms" reduction.

    ``dist [p, n, n]`` distances (possibly pair-weighted); ``margin`` a float, or a per
    anchor–negative margin ``[p, n, m]`` laid out like ``index.negatives``.
    Returns ``(per_part [p], num_active [p], hard [p])``: the reduced loss per part, the number of
    non-zero hinge terms per part and the largest hinge term per part.
    """
    ap = index.positives(dist)  # [p, n, k]
    an = index.negatives(dist)  # [p, n, m]
    if isinstance(margin, Tensor):
        an = an - margin
        margin = 0.0
    masks = (None, None) if index.balanced else (index.pos_valid, index.neg_valid)
    hinge = triplet_table(ap, masks[0], an, masks[1])  # [p, n, k, m]: d_ap − d_an (−inf: padding)
    if margin:
        hinge = hinge.add_(margin)
    hinge = hinge.relu_()
    hinge = hinge.flatten(1)  # [p, n·k·m]
    num_active = (hinge > 0).sum(1)  # [p]
    per_part = hinge.sum(1) / num_active.clamp_min(1)  # [p]; sum is 0 when nothing is active
    return per_part, num_active, hinge.detach().amax(1)


class TripletLoss(nn.Module):
    """OpenGait's batch-all triplet loss over part-based embeddings.

    ``forward(embeddings [n, p, c] | [n, c], labels [n]) -> (loss, info)``; ``info`` holds
    ``loss``, ``loss_num`` (non-zero terms, mean over parts), ``active_fraction`` (non-zero terms /
    valid triplets), ``hard_loss`` (largest term, mean over parts), ``mean_dist``.
    """

    input_key = "embeddings"

    def __init__(self, margin: float = 0.2) -> None:
        super().__init__()
        if not margin >= 0:
            raise ValueError(f"TripletLoss: margin must be >= 0, got {margin}")
        self.margin = float(margin)

    def extra_repr(self) -> str:
        return f"margin={self.margin}"

    def forward(self, embeddings: Tensor, labels: Tensor) -> tuple[Tensor, dict[str, float]]:
        x, labels, index = prepare_batch(embeddings, labels, "TripletLoss")  # [p, n, c]
        with full_precision(x):
            dist, _ = pairwise_distance(x)  # [p, n, n]
            per_part, num_active, hard = batch_all_triplet(dist, index, self.margin)
            loss = per_part.mean()
        info = to_floats(
            {
                "loss": loss,
                "loss_num": num_active.double().mean(),
                "active_fraction": num_active.double().mean() / index.num_triplets(),
                "hard_loss": hard.mean(),
                "mean_dist": dist.detach().mean(),
            }
        )
        return loss, info


__all__ = ["TripletLoss", "batch_all_triplet"]
