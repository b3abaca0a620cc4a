"""Pair and triplet bookkeeping shared by the metric losses (triplet, GIL).

Every metric loss here sees part-based embeddings ``[n, p, c]`` and integer labels ``[n]``,
treats each part as its own metric space and works on a ``[p, n, n]`` pair table. This module
holds what they share:

- :func:`as_parts` validates the input and returns it as ``[p, n, c]`` in (at least) float32;
- :func:`full_precision` switches autocast off so the loss is computed in float32 under AMP;
- :class:`PairIndex` lists, for each anchor ``a``, its positives (``a`` itself included, as
  OpenGait does) and its negatives as padded index tables, which works for any labelled batch
  (P×K or unbalanced) without a Python loop over samples;
- :func:`all_triplets` lists every valid triplet ``(a, p, n)``; :func:`check_triplets` validates a caller's list;
- :func:`pairwise_distance` is OpenGait's ``sqrt(relu(x² + y² − 2xy))`` per part;
- :func:`hinge_mean_nonzero` and :func:`softplus_sum` reduce the ``[p, n, k, m]`` triplet table
  (anchor–positive against anchor–negative values) with hand-written backward passes;
  :func:`fill_padding` masks the padding of unbalanced batches.

Shapes: ``p`` parts, ``n`` sequences, ``c`` channels; in the padded tables ``k`` is the largest positive
count of an anchor (``max_positives``, itself included) and ``m`` the largest negative count
(``max_negatives``).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from gil.losses.gather import gather_batch

_HALF = (torch.float16, torch.bfloat16)


def as_parts(embeddings: Tensor, labels: Tensor, name: str) -> tuple[Tensor, Tensor]:
    """Validate ``embeddings [n, p, c]`` (or ``[n, c]``, read as p = 1) and ``labels [n]``.

    Returns ``(x [p, n, c], labels [n])``; half precision is promoted to float32, float64 kept.
    ``name`` (the loss's name) prefixes every error message. p = 0 or c = 0 is an error here; an
    empty batch (n = 0) is refused by :meth:`PairIndex.from_labels`, on the gathered batch, since
    under DDP one rank's share may legitimately be empty.
    """
    if not isinstance(embeddings, Tensor) or embeddings.dim() not in (2, 3):
        shape = tuple(embeddings.shape) if isinstance(embeddings, Tensor) else type(embeddings).__name__
        raise ValueError(f"{name}: embeddings must be a tensor [n, p, c] (or [n, c] for p = 1), got {shape}")
    if not embeddings.is_floating_point():
        raise ValueError(f"{name}: embeddings must be floating point, got {embeddings.dtype}")
    if not isinstance(labels, Tensor) or labels.dim() != 1 or labels.is_floating_point() or labels.is_complex():
        got = f"{labels.dtype} {tuple(labels.shape)}" if isinstance(labels, Tensor) else type(labels).__name__
        raise ValueError(f"{name}: labels must be an integer tensor [n], got {got}")
    if labels.shape[0] != embeddings.shape[0]:
        raise ValueError(
            f"{name}: labels [n] must match embeddings' first dim: {labels.shape[0]} labels "
            f"for {embeddings.shape[0]} embeddings"
        )
    x = embeddings.unsqueeze(1) if embeddings.dim() == 2 else embeddings  # [n, p, c]
    if x.shape[1] == 0 or x.shape[2] == 0:
        layout = "[n, p, c]" if embeddings.dim() == 3 else "[n, c]"
        raise ValueError(
            f"{name}: embeddings {layout} must have at least one part and one channel, got shape "
            f"{tuple(embeddings.shape)} (p = {x.shape[1]}, c = {x.shape[2]})"
        )
    if x.dtype in _HALF:
        x = x.float()
    return x.transpose(0, 1), labels.to(x.device)  # [p, n, c]


def check_finite(x: Tensor, name: str) -> None:
    """Raise if ``x`` holds NaN or Inf (one device sync)."""
    bad = int((~torch.isfinite(x)).sum())
    if bad:
        raise ValueError(f"{name}: embeddings contain {bad} non-finite value(s) (NaN or Inf) of {x.numel()}")


LAYOUTS = ("npc", "ncp")  # [n, p, c] (this package's) or [n, c, p] (OpenGait's)
EMPTY_BATCH = ("raise", "zero")
_ZERO_HINT = '; pass empty_batch="zero" for a zero loss instead (as OpenGait and pytorch-metric-learning do)'


class NoValidPairs(ValueError):
    """A batch without any valid pair: empty, a single class, or no class with two sequences."""


def check_batch_options(name: str, layout: str, empty_batch: str) -> None:
    """Refuse an unknown ``layout`` or ``empty_batch`` setting, naming the loss."""
    if layout not in LAYOUTS:
        raise ValueError(f"{name}: layout must be 'npc' ([n, p, c]) or 'ncp' ([n, c, p], OpenGait's), got {layout!r}")
    if empty_batch not in EMPTY_BATCH:
        raise ValueError(f"{name}: empty_batch must be 'raise' or 'zero', got {empty_batch!r}")


def zero_loss(embeddings: Tensor) -> Tensor:
    """A loss of 0 whose gradient, 0, still reaches ``embeddings``: under DDP every rank's backward then runs
    the same all-reduce, so ranks stay in step on a batch without valid pairs."""
    return embeddings.sum() * 0.0


def prepare_batch(
    embeddings: Tensor, labels: Tensor, name: str, layout: str = "npc"
) -> tuple[Tensor, Tensor, PairIndex]:
    """Validate, gather across DDP ranks, check finiteness and index the pairs.

    ``embeddings`` is ``[n, p, c]`` (``layout="npc"``), ``[n, c, p]`` (``layout="ncp"``, OpenGait's) or ``[n, c]``.
    Returns ``(x [p, N, c], labels [N], index)`` with N the global batch size. The checks that depend on values run
    on the gathered batch, so all ranks raise together (no hang); a batch without valid pairs raises
    :class:`NoValidPairs`.
    """
    if layout == "ncp" and embeddings.dim() == 3:
        embeddings = embeddings.transpose(1, 2)  # [n, c, p] -> [n, p, c]
    x, labels = as_parts(embeddings, labels, name)  # [p, n, c]
    x, labels = gather_batch(x.transpose(0, 1), labels)  # [N, p, c]
    x = x.transpose(0, 1)  # [p, N, c]
    check_finite(x, name)
    return x, labels, PairIndex.from_labels(labels, name)


def full_precision(x: Tensor) -> AbstractContextManager:
    """Autocast switched off on ``x``'s device, so the loss runs in float32 under bf16/fp16 AMP."""
    return torch.autocast(device_type=x.device.type, enabled=False)


@dataclass(frozen=True)
class PairIndex:
    """Positives and negatives of every anchor of one batch, as padded index tables.

    ``pos_idx [n, k]`` lists anchor a's positives (a itself included) in index order, padded
    with index 0 up to k = the largest positive count; ``pos_valid [n, k]`` marks the real ones.
    ``neg_idx [n, m]`` / ``neg_valid [n, m]`` likewise for negatives, m = the largest negative count.
    ``inverse [n]`` is the class index 0..C-1 of each sample.
    ``balanced`` is True when no entry is padding (every P×K batch), which skips the masking.
    """

    inverse: Tensor
    num_classes: int
    pos_idx: Tensor
    pos_valid: Tensor
    neg_idx: Tensor
    neg_valid: Tensor
    balanced: bool

    @classmethod
    def from_labels(cls, labels: Tensor, name: str) -> PairIndex:
        """Build the tables; raise on an empty batch, one with one class or without any positive pair."""
        if labels.numel() == 0:
            raise NoValidPairs(
                f"{name}: the batch is empty (n = 0 sequences); metric losses need at least two "
                f"classes, one of them with two sequences{_ZERO_HINT}"
            )
        classes, inverse, counts = torch.unique(labels, return_inverse=True, return_counts=True)
        if classes.numel() < 2:
            raise NoValidPairs(
                f"{name}: the batch holds a single class ({classes.tolist()}); metric losses need "
                f"at least two classes to form negatives{_ZERO_HINT}"
            )
        if int(counts.max()) < 2:
            raise NoValidPairs(
                f"{name}: the batch has no positive pair (every one of its {labels.numel()} labels is "
                f"distinct); sample at least two sequences of some class (P×K sampler, K ≥ 2){_ZERO_HINT}"
            )
        same = labels[:, None] == labels[None, :]  # [n, n]
        pos_count = same.sum(1)  # [n]
        n = labels.numel()
        max_positives = int(counts.max())
        max_negatives = n - int(counts.min())
        # A stable sort of the "not same" flags puts an anchor's positives first, in index order.
        pos_order = torch.sort((~same).to(torch.uint8), dim=1, stable=True).indices  # [n, n]
        neg_order = torch.sort(same.to(torch.uint8), dim=1, stable=True).indices  # [n, n]
        positive_slots = torch.arange(max_positives, device=labels.device)
        negative_slots = torch.arange(max_negatives, device=labels.device)
        pos_valid = positive_slots[None, :] < pos_count[:, None]  # [n, k]
        neg_valid = negative_slots[None, :] < (n - pos_count)[:, None]  # [n, m]
        return cls(
            inverse=inverse,
            num_classes=classes.numel(),
            pos_idx=torch.where(pos_valid, pos_order[:, :max_positives], 0),
            pos_valid=pos_valid,
            neg_idx=torch.where(neg_valid, neg_order[:, :max_negatives], 0),
            neg_valid=neg_valid,
            balanced=bool(pos_valid.all()) and bool(neg_valid.all()),
        )

    def positives(self, table: Tensor) -> Tensor:
        """``table [p, n, n]`` → anchor–positive entries ``[p, n, k]`` (padding: arbitrary values)."""
        p, n, _ = table.shape
        return table.gather(2, self.pos_idx.expand(p, n, -1))

    def negatives(self, table: Tensor) -> Tensor:
        """``table [p, n, n]`` → anchor–negative entries ``[p, n, m]`` (padding: arbitrary values)."""
        p, n, _ = table.shape
        return table.gather(2, self.neg_idx.expand(p, n, -1))

    def num_triplets(self, exclude_self: bool = False) -> int:
        """Number of valid (a, p, n) triplets of one part; ``exclude_self`` drops p = a."""
        pos = self.pos_valid.sum(1) - int(exclude_self)  # [n]
        return int((pos * self.neg_valid.sum(1)).sum())


Triplets = tuple[Tensor, Tensor, Tensor]  # (a, p, n), each [t]: batch indices of anchors, positives, negatives


def all_triplets(index: PairIndex, exclude_self: bool = False) -> Triplets:
    """Every valid triplet ``(a, p, n)`` of the batch (``y_p = y_a``, ``y_n ≠ y_a``; p = a included unless
    ``exclude_self``), each ``[t]`` (t = :meth:`PairIndex.num_triplets`), ordered by anchor, positive, negative."""
    valid = index.pos_valid[:, :, None] & index.neg_valid[:, None, :]  # [n, k, m]
    if exclude_self:
        anchors = torch.arange(index.pos_idx.shape[0], device=index.pos_idx.device)
        valid = valid & (index.pos_idx != anchors[:, None])[:, :, None]
    a, slot_p, slot_n = valid.nonzero(as_tuple=True)  # [t] each
    return a, index.pos_idx[a, slot_p], index.neg_idx[a, slot_n]


def check_triplets(triplets: object, n: int, name: str, device: torch.device | None = None) -> Triplets:
    """``triplets`` as three int64 tensors ``(a, p, n)`` of one length t on ``device``, or an error naming
    ``name`` and what was expected: a tuple of three 1-d integer tensors whose values index a batch of ``n``."""
    if not isinstance(triplets, tuple | list) or len(triplets) != 3:
        got = f"{type(triplets).__name__} of length {len(triplets)}" if hasattr(triplets, "__len__") else triplets
        raise ValueError(f"{name}: triplets must be a tuple (a, p, n) of three index tensors [t], got {got}")
    for part in triplets:
        if not isinstance(part, Tensor) or part.dim() != 1 or part.is_floating_point() or part.is_complex():
            got = f"{part.dtype} {tuple(part.shape)}" if isinstance(part, Tensor) else type(part).__name__
            raise ValueError(f"{name}: triplets (a, p, n) must be 1-d integer tensors [t], got {got}")
    if not triplets[0].shape == triplets[1].shape == triplets[2].shape:
        sizes = [int(part.numel()) for part in triplets]
        raise ValueError(f"{name}: triplets (a, p, n) must have one length t, got lengths {sizes}")
    a, p, neg = (part.to(device=device, dtype=torch.long) for part in triplets)
    flat = torch.cat([a, p, neg])
    if flat.numel() and (int(flat.min()) < 0 or int(flat.max()) >= n):
        raise ValueError(
            f"{name}: triplets hold indices outside the batch of {n} sequences "
            f"(range {int(flat.min())}..{int(flat.max())})"
        )
    return a, p, neg


def fill_padding(first: Tensor, second: Tensor, index: PairIndex, first_kind: str = "pos") -> tuple[Tensor, Tensor]:
    """Mark padding so that every triplet-table entry ``first − second`` touching it is ``-inf``.

    ``first`` / ``second`` are ``[p, n, k]`` / ``[p, n, m]`` laid out like ``index.positives`` /
    ``index.negatives`` (or the other way round with ``first_kind="neg"``): padding in ``first``
    becomes ``-inf``, in ``second`` ``+inf``, so a following relu or softplus gives it 0 and no
    gradient. Balanced batches have no padding and are returned as they are.
    """
    if index.balanced:
        return first, second
    valid_first, valid_second = (
        (index.pos_valid, index.neg_valid) if first_kind == "pos" else (index.neg_valid, index.pos_valid)
    )
    return first.masked_fill(~valid_first, float("-inf")), second.masked_fill(~valid_second, float("inf"))


class _HingeMeanNonzero(torch.autograd.Function):
    """Per part ``Σ [first_i − second_j + margin]₊ / #non-zero`` over the ``[p, n, k, m]`` triplet table.

    Hand-written backward: the hinge table is turned in place into its 0/1 "active" indicator,
    which is all the backward needs — ``∂/∂first = Σ_j active_ij / N``, ``∂/∂second =
    −Σ_i active_ij / N`` (N the non-zero count per part, held constant as autograd does). One
    float table is kept, as autograd would keep relu's output, but the backward is two sums
    instead of relu/expand/neg passes (bool tables are avoided: summing them copies to int64).
    """

    @staticmethod
    def forward(ctx, first: Tensor, second: Tensor, margin: float) -> tuple[Tensor, Tensor]:
        table = first[..., :, None] - second[..., None, :]  # [p, n, k, m]
        if margin:
            table.add_(margin)
        total = table.clamp_min_(0).flatten(1).sum(1)  # [p]: Σ hinge
        active = table.sign_()  # [p, n, k, m]: 1 where the hinge is non-zero, else 0
        num = active.flatten(1).sum(1)  # [p]
        ctx.save_for_backward(active, num)
        ctx.mark_non_differentiable(num)
        return total / num.clamp_min(1), num

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: Tensor, _grad_num: Tensor) -> tuple[Tensor, Tensor, None]:
        active, num = ctx.saved_tensors
        scale = (grad / num.clamp_min(1))[:, None, None]  # [p, 1, 1]
        return active.sum(-1) * scale, active.sum(-2) * -scale, None


def hinge_mean_nonzero(first: Tensor, second: Tensor, margin: float = 0.0) -> tuple[Tensor, Tensor]:
    """OpenGait's reduction of the batch-all hinge table; see :class:`_HingeMeanNonzero`.

    ``first [p, n, k]``, ``second [p, n, m]`` (padding filled by :func:`fill_padding`) →
    ``(per_part [p], num_active [p])``; ``per_part`` is 0 where no term is non-zero.
    """
    return _HingeMeanNonzero.apply(first, second, float(margin))


class _SoftplusSum(torch.autograd.Function):
    """Per part ``Σ softplus(first_i − second_j)`` over the triplet table; also ``#(first_i > second_j)``.

    The table is recomputed in backward instead of kept (``∂/∂first = Σ_j σ(z_ij)``, ``∂/∂second
    = −Σ_i σ(z_ij)``), so no ``[p, n, k, m]`` tensor outlives the forward.
    """

    @staticmethod
    def forward(ctx, first: Tensor, second: Tensor) -> tuple[Tensor, Tensor]:
        z = first[..., :, None] - second[..., None, :]  # [p, n, k, m]
        positive = z.sign().clamp_min_(0).flatten(1).sum(1)  # [p]: #(z > 0), float (bool sums are slow)
        ctx.save_for_backward(first, second)
        ctx.mark_non_differentiable(positive)
        return F.softplus(z).flatten(1).sum(1), positive

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: Tensor, _grad_positive: Tensor) -> tuple[Tensor, Tensor]:
        first, second = ctx.saved_tensors
        sig = (first[..., :, None] - second[..., None, :]).sigmoid_()  # [p, n, k, m]
        sig.mul_(grad[:, None, None, None])
        return sig.sum(-1), -sig.sum(-2)


def softplus_sum(first: Tensor, second: Tensor) -> tuple[Tensor, Tensor]:
    """``first [p, n, k]``, ``second [p, n, m]`` → ``(Σ softplus(first_i − second_j) [p], #positive [p])``."""
    return _SoftplusSum.apply(first, second)


def pairwise_distance(x: Tensor, sq_norm: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Per-part Euclidean distances, OpenGait's formula. ``x [p, n, c]`` → ``(d, inner)``, both ``[p, n, n]``.

    ``d_ij = sqrt(relu(|x_i|² + |x_j|² − 2 x_i·x_j))`` with the diagonal set to exactly 0 (OpenGait
    leaves it at the rounding error, about 3e-4 in float32) and a zero gradient wherever d = 0
    (plain ``sqrt`` would give inf or NaN there). ``inner`` is the Gram matrix ``x xᵀ``;
    ``sq_norm [p, n]`` (``|x|²``) may be passed when already computed.
    """
    sq = x.pow(2).sum(-1) if sq_norm is None else sq_norm  # [p, n]
    inner = x @ x.transpose(1, 2)  # [p, n, n]
    d2 = (sq[:, :, None] + sq[:, None, :] - 2 * inner).clamp_min(0)  # [p, n, n]
    eye = torch.eye(x.shape[1], dtype=torch.bool, device=x.device)
    d2 = d2.masked_fill(eye, 0.0)
    nonzero = d2 > 0
    return torch.where(nonzero, torch.where(nonzero, d2, 1.0).sqrt(), 0.0), inner


def to_floats(stats: dict[str, Tensor | float]) -> dict[str, float]:
    """Detach a dict of scalars (0-d tensors on one device, or numbers) into floats, one device sync."""
    tensors = [key for key, value in stats.items() if isinstance(value, Tensor)]
    values = {}
    if tensors:
        stacked = torch.stack([stats[key].detach().reshape(()).double() for key in tensors])
        values = dict(zip(tensors, stacked.tolist(), strict=True))
    return {key: values[key] if key in values else float(value) for key, value in stats.items()}
