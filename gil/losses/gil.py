"""Generalized Inter-class Loss (GIL), Yu et al., ACM MM 2022 — this project's reconstruction.

The paper's equations could not be retrieved; the authors' code implements a pair-weighted
triplet and a softmax-form pair loss ("InfoLoss"). What follows is DESIGN.md §3: that code plus
the standard formulations the abstract names, every term switchable for ablation.

Embeddings are part-based, ``e [n, p, c]``; each part is its own metric space and every term is
averaged over parts. Per part: ``d_ij = ||e_i − e_j||₂`` and ``s_ij = cos(e_i, e_j)`` ``[n, n]``;
``ê = e / ||e||``; classes ``y ∈ {1..C}``.

1. Dynamic pair weights (sample level, ``pair_weight="official"``, margin form only):
   ``u_ij = (1 − s_ij)/2 + 0.01``, ``w_ij = 1 + u_ij / max(u)`` (max over the whole ``[p, n, n]``
   tensor, no gradient through w), ``d̃_ij = w_ij · d_ij`` on every pair.
2. Margin form ``L_m`` (``form="margin"``): OpenGait's batch-all triplet on d̃ —
   ``[d̃_ap − d̃_an + m(y_a, y_n)]₊`` over y_p = y_a (p = a included), y_n ≠ y_a; per part
   sum / #non-zero terms, then the mean over parts.
3. Adaptive inter-class margin (``margin="adaptive"``): detached class centres
   ``μ_c = normalize(mean_{y_i=c} ê_i)`` ``[p, C, c]``,
   ``m(a, b) = clip(m0 · (1 + κ μ_a·μ_b), m_min, m_max)`` ``[p, C, C]`` — crowded classes get a
   larger margin. ``margin="fixed"``: m0 everywhere.
4. Softmax form ``L_s`` (``form="softmax"``): ``s = ê êᵀ``; for each a ≠ p with y_p = y_a,
   ``−log(e^{s_ap/τ} / (e^{s_ap/τ} + Σ_{y_n≠y_a} e^{(s_an + m(y_a, y_n))/τ}))``, mean over those
   pairs, then over parts. No pair weights (the softmax itself up-weights hard negatives).
5. Class-level uniformity: centres as in 3 *with* gradient,
   ``L_u = log(mean_{a≠b} exp(−t ||μ_a − μ_b||²))`` (Wang & Isola 2020), mean over parts.
6. Total: ``L = L_m (or L_s) + λ_u · L_u``.
7. ``form="softmax_official"`` — the authors' InfoLoss: over the triplets of 2,
   ``softplus((e_a·e_n − e_a·e_p)/τ)`` on raw dot products, mean over triplets, then parts.
   No margin (its ``margin`` must stay unset). Their 50k-iteration re-weighting is not reproduced.

The authors' weighted triplet is ``GeneralizedInterClassLoss(form="margin", pair_weight="official",
margin="fixed", uniformity_weight=0)``; their InfoLoss is ``form="softmax_official",
uniformity_weight=0``; with ``pair_weight="none"`` as well, the margin form is exactly
:class:`gil.losses.triplet.TripletLoss`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gil.losses.pairs import (
    PairIndex,
    full_precision,
    pairwise_distance,
    prepare_batch,
    to_floats,
    triplet_table,
)
from gil.losses.triplet import batch_all_triplet

FORMS = ("margin", "softmax", "softmax_official")
PAIR_WEIGHTS = ("official", "none")
MARGINS = ("fixed", "adaptive")


@dataclass(frozen=True)
class GILConfig:
    """Settings of :class:`GeneralizedInterClassLoss`; defaults give the full reconstructed method."""

    form: str = "margin"  # "margin" (L_m), "softmax" (L_s) or "softmax_official" (the authors' InfoLoss)
    pair_weight: str | None = None  # None: "official" for the margin form, "none" for the softmax forms
    margin: str | None = None  # None: "adaptive"; softmax_official has no margin (resolves to "none")
    uniformity_weight: float = 0.1  # λ_u; 0 switches L_u off (it is still logged)
    m0: float = 0.2  # base margin: OpenGait's triplet margin
    kappa: float = 0.5  # how strongly centre crowding raises the margin
    m_min: float = 0.05
    m_max: float = 0.5
    tau: float = 0.1  # softmax temperature, the authors' value
    t: float = 2.0  # uniformity temperature (Wang & Isola)

    def __post_init__(self) -> None:
        def bad(field: str, expected: str) -> ValueError:
            return ValueError(
                f"GeneralizedInterClassLoss: {field} must be {expected}, got {getattr(self, field)!r}"
            )

        if self.form not in FORMS:
            raise bad("form", f"one of {FORMS}")
        if self.pair_weight is not None and self.pair_weight not in PAIR_WEIGHTS:
            raise bad("pair_weight", f"one of {PAIR_WEIGHTS} (or None)")
        if self.pair_weight == "official" and self.form != "margin":
            raise bad(
                "pair_weight", f"'none' with form={self.form!r} (pair weights belong to the margin form)"
            )
        if self.margin is not None and self.margin not in MARGINS:
            raise bad("margin", f"one of {MARGINS} (or None)")
        if self.margin is not None and self.form == "softmax_official":
            raise bad("margin", "None with form='softmax_official' (the authors' InfoLoss has no margin)")
        for field in ("uniformity_weight", "m0", "kappa", "m_min"):
            if not getattr(self, field) >= 0:
                raise bad(field, ">= 0")
        for field in ("tau", "t"):
            if not getattr(self, field) > 0:
                raise bad(field, "> 0")
        if not self.m_min <= self.m_max:
            raise bad("m_max", f">= m_min = {self.m_min}")
        default_margin = "none" if self.form == "softmax_official" else "adaptive"
        object.__setattr__(
            self, "pair_weight", self.pair_weight or ("official" if self.form == "margin" else "none")
        )
        object.__setattr__(self, "margin", self.margin or default_margin)


# --- 1. dynamic pair weights ---------------------------------------------------------------------
def pair_weights(inner: Tensor, sq_norm: Tensor) -> Tensor:
    """``w = 1 + u / max(u)``, ``u = (1 − s)/2 + 0.01`` from the Gram matrix.

    ``inner [p, n, n]`` (``x xᵀ``), ``sq_norm [p, n]`` (``|x|²``) → ``w [p, n, n]``.
    Computed without gradient; the max runs over the whole ``[p, n, n]`` tensor (as the authors' code).
    """
    with torch.no_grad():
        norm = sq_norm.sqrt().clamp_min(1e-12)  # [p, n]
        s = inner / (norm[:, :, None] * norm[:, None, :])  # [p, n, n]
        u = (1 - s) / 2 + 0.01
        return 1 + u / u.max()


# --- 3. class centres and the adaptive inter-class margin ----------------------------------------
def class_centres(e_hat: Tensor, index: PairIndex) -> Tensor:
    """``μ_c = normalize(mean_{y_i=c} ê_i)``: ``e_hat [p, n, c]`` → ``[p, C, c]``."""
    onehot = F.one_hot(index.inverse, index.num_classes).to(e_hat.dtype)  # [n, C]
    mean = (onehot.T @ e_hat) / onehot.sum(0)[:, None]  # [p, C, c]
    return F.normalize(mean, dim=-1)


def adaptive_margins(centres: Tensor, m0: float, kappa: float, m_min: float, m_max: float) -> Tensor:
    """``m(a, b) = clip(m0 · (1 + κ μ_a·μ_b), m_min, m_max)``: ``centres [p, C, c]`` → ``[p, C, C]``."""
    return (m0 * (1 + kappa * centres @ centres.transpose(1, 2))).clamp(m_min, m_max)


# --- 5. class-level uniformity --------------------------------------------------------------------
def uniformity(centres: Tensor, t: float) -> Tensor:
    """``L_u = log mean_{a≠b} exp(−t ||μ_a − μ_b||²)`` per part: ``centres [p, C, c]`` → ``[p]``."""
    num = centres.shape[1]
    sq = (2 - 2 * centres @ centres.transpose(1, 2)).clamp_min(0)  # [p, C, C]; unit centres
    eye = torch.eye(num, dtype=torch.bool, device=centres.device)
    return (-t * sq).masked_fill(eye, float("-inf")).flatten(1).logsumexp(1) - math.log(num * (num - 1))


class GeneralizedInterClassLoss(nn.Module):
    """GIL over part-based embeddings (terms 1–7 of the module docstring).

    ``forward(embeddings [n, p, c] | [n, c], labels [n]) -> (loss, info)``. ``info`` (floats):
    ``loss`` (total), the main term under the form's name (``margin`` | ``softmax`` |
    ``softmax_official``), ``uniformity`` (L_u, unweighted, logged even when λ_u = 0),
    ``mean_pair_weight`` (1 when off), ``mean_margin`` (over anchor–negative pairs; 0 for
    softmax_official), ``active_fraction`` (margin form: non-zero hinge terms / valid triplets;
    softmax: triplets with ``s_an + m > s_ap``; softmax_official: ``e_a·e_n > e_a·e_p``).
    Arguments are the fields of :class:`GILConfig` (see it for defaults and meaning).
    """

    input_key = "embeddings"

    def __init__(
        self,
        form: str = "margin",
        pair_weight: str | None = None,
        margin: str | None = None,
        uniformity_weight: float = 0.1,
        m0: float = 0.2,
        kappa: float = 0.5,
        m_min: float = 0.05,
        m_max: float = 0.5,
        tau: float = 0.1,
        t: float = 2.0,
    ) -> None:
        super().__init__()
        self.config = GILConfig(
            form=form,
            pair_weight=pair_weight,
            margin=margin,
            uniformity_weight=float(uniformity_weight),
            m0=float(m0),
            kappa=float(kappa),
            m_min=float(m_min),
            m_max=float(m_max),
            tau=float(tau),
            t=float(t),
        )

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in vars(self.config).items())

    def forward(self, embeddings: Tensor, labels: Tensor) -> tuple[Tensor, dict[str, float]]:
        cfg = self.config
        x, labels, index = prepare_batch(embeddings, labels, "GeneralizedInterClassLoss")  # [p, n, c]
        with full_precision(x):
            e_hat = F.normalize(x, dim=-1)  # [p, n, c]
            centres_fixed = class_centres(e_hat.detach(), index)  # [p, C, c], no gradient
            margins = self._sample_margins(centres_fixed, index)  # [p, n, n] or a float
            if cfg.form == "margin":
                main, stats = self._margin_form(x, index, margins)
            elif cfg.form == "softmax":
                main, stats = self._softmax_form(e_hat, index, margins)
            else:
                main, stats = self._softmax_official(x, index)
            if cfg.uniformity_weight > 0:
                l_u = uniformity(class_centres(e_hat, index), cfg.t).mean()
                loss = main + cfg.uniformity_weight * l_u
            else:
                l_u = uniformity(centres_fixed, cfg.t).mean()
                loss = main
        stats["mean_margin"] = self._mean_margin(margins, index)
        return loss, to_floats({"loss": loss, cfg.form: main, "uniformity": l_u, **stats})

    def _sample_margins(self, centres: Tensor, index: PairIndex) -> Tensor | float:
        """The margin of every sample pair, ``[p, n, n]`` (adaptive) or a float (fixed; 0 if none)."""
        cfg = self.config
        if cfg.margin == "none":
            return 0.0
        if cfg.margin == "fixed":
            return cfg.m0
        by_class = adaptive_margins(centres, cfg.m0, cfg.kappa, cfg.m_min, cfg.m_max)  # [p, C, C]
        inv = index.inverse
        return by_class[:, inv[:, None], inv[None, :]]  # [p, n, n]

    @staticmethod
    def _mean_margin(margins: Tensor | float, index: PairIndex) -> Tensor | float:
        if not isinstance(margins, Tensor):
            return margins
        diff = ~index.same  # [n, n]
        return (margins * diff).sum() / (diff.sum() * margins.shape[0])

    # --- 2. margin form (with 1 and 3) --------------------------------------------------------------
    def _margin_form(self, x: Tensor, index: PairIndex, margins: Tensor | float) -> tuple[Tensor, dict]:
        dist, inner = pairwise_distance(x)  # [p, n, n]
        stats: dict[str, Tensor | float] = {"mean_pair_weight": 1.0}
        if self.config.pair_weight == "official":
            w = pair_weights(inner.detach(), x.detach().pow(2).sum(-1))  # [p, n, n]
            dist = dist * w  # d̃
            stats["mean_pair_weight"] = w.mean()
        margin = index.negatives(margins) if isinstance(margins, Tensor) else margins  # [p, n, m] | float
        per_part, num_active, _ = batch_all_triplet(dist, index, margin)
        stats["active_fraction"] = num_active.double().mean() / index.num_triplets()
        return per_part.mean(), stats

    # --- 4. softmax form (with 3) -------------------------------------------------------------------
    def _softmax_form(self, e_hat: Tensor, index: PairIndex, margins: Tensor | float) -> tuple[Tensor, dict]:
        tau = self.config.tau
        s = e_hat @ e_hat.transpose(1, 2)  # [p, n, n]
        neg = (s + margins).masked_fill(index.same, float("-inf"))  # [p, n, n]: s_an + m, negatives only
        lse = (neg / tau).logsumexp(2)  # [p, n]
        # −log(e^{s_ap/τ} / (e^{s_ap/τ} + Σ_n e^{(s_an+m)/τ})) = softplus(logsumexp_n((s_an+m)/τ) − s_ap/τ)
        pair_loss = F.softplus(lse[:, :, None] - s / tau)  # [p, n, n]
        eye = torch.eye(s.shape[1], dtype=torch.bool, device=s.device)
        pos_pairs = index.same & ~eye  # [n, n]: a ≠ p, y_p = y_a
        per_part = torch.where(pos_pairs, pair_loss, 0.0).sum((1, 2)) / pos_pairs.sum()  # [p]
        with torch.no_grad():
            not_self = index.pos_valid & (index.pos_idx != torch.arange(s.shape[1], device=s.device)[:, None])
            gap = triplet_table(
                index.negatives(neg), index.neg_valid, index.positives(s), not_self
            )  # [p, n, m, k]
            active = (gap > 0).flatten(1).sum(1).double().mean() / index.num_triplets(exclude_self=True)
        return per_part.mean(), {"mean_pair_weight": 1.0, "active_fraction": active}

    # --- 7. the authors' InfoLoss -------------------------------------------------------------------
    def _softmax_official(self, x: Tensor, index: PairIndex) -> tuple[Tensor, dict]:
        dot = x @ x.transpose(1, 2)  # [p, n, n] raw dot products
        masks = (None, None) if index.balanced else (index.neg_valid, index.pos_valid)
        z = triplet_table(index.negatives(dot), masks[0], index.positives(dot), masks[1])  # [p, n, m, k]
        z = (z / self.config.tau).flatten(1)  # (e_a·e_n − e_a·e_p)/τ; −inf: padding
        num = index.num_triplets()
        per_part = F.softplus(z).sum(1) / num  # [p]
        active = (z.detach() > 0).sum(1).double().mean() / num
        return per_part.mean(), {"mean_pair_weight": 1.0, "active_fraction": active}


__all__ = [
    "GILConfig",
    "GeneralizedInterClassLoss",
    "adaptive_margins",
    "class_centres",
    "pair_weights",
    "uniformity",
]
