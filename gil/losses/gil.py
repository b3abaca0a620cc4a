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
6. Total: ``L = L_m (or L_s) + λ_u · L_u``. Default λ_u (``uniformity_weight=None``): 0.01 for the margin form,
   chosen on validation identities among five candidates (issue #17, ``gil.experiments.selection``, the loss page
   §8); 0.1 for the softmax forms, the first reconstruction's value, kept. ``uniformity_weight=0.1`` with the
   margin form is the first reconstruction, which collapses GaitSet's and GaitPart's embeddings.
   ``uniformity_scale="norm"``: ``λ_u · sg(mean |e|) · L_u`` — L_u's gradient on an embedding scales as 1/|e|;
   multiplied by the batch's detached mean part norm it is on the scale of the margin term's, whatever the
   network's output scale (issue #17's candidate "norm-scaled").
   ``metric_space="sphere"`` (margin form): ``d_ij = ||ê_i − ê_j||`` — the margin term on the hypersphere the
   class centres, the margins and L_u live on (issue #17's candidate "sphere").
7. ``form="softmax_official"`` — the authors' InfoLoss: over the triplets of 2,
   ``softplus((e_a·e_n − e_a·e_p)/τ)`` on raw dot products, mean over triplets, then parts.
   No margin (``margin`` is ``"none"``, the only value it takes with this form). Their 50k-iteration re-weighting
   is not reproduced.

Scale: L_u sees only directions, so its gradient on an embedding scales as 1/|e|, while the margin form works on raw
distances, so unnormalised embeddings can collapse in norm (measured in ``results/gpu/README.md``).
Below ``|e| = ε = 1e-12`` the normalisation saturates as F.normalize does (``ê = e/ε``): values and gradients
stay finite for zero or tiny embeddings, but the directional gradient is then 1/ε, and through L_u a class of
zero embeddings gets about 1/ε² (~1e22) — finite, large; ``trainer.grad_clip`` bounds the step.

The authors' weighted triplet is ``GeneralizedInterClassLoss(form="margin", pair_weight="official",
margin="fixed", uniformity_weight=0)``; their InfoLoss is ``form="softmax_official",
uniformity_weight=0``; with ``pair_weight="none"`` as well, the margin form is exactly
:class:`gil.losses.triplet.TripletLoss`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gil.losses.pairs import (
    NoValidPairs,
    PairIndex,
    check_batch_options,
    fill_padding,
    full_precision,
    pairwise_distance,
    prepare_batch,
    softplus_sum,
    to_floats,
    zero_loss,
)
from gil.losses.settings import finite_number, setting_names, settings_from
from gil.losses.triplet import batch_all_triplet

FORMS = ("margin", "softmax", "softmax_official")
PAIR_WEIGHTS = ("official", "none")
MARGINS = ("fixed", "adaptive")
UNIFORMITY_SCALES = ("none", "norm")
METRIC_SPACES = ("raw", "sphere")
# λ_u by form: the margin form's was chosen on validation identities (issue #17); the first reconstruction's 0.1
# collapses unnormalised backbones (GaitSet, GaitPart) with it, and stays the softmax forms' value
DEFAULT_UNIFORMITY_WEIGHT = {"margin": 0.01, "softmax": 0.1, "softmax_official": 0.1}
_EPS = 1e-12  # norm floor, F.normalize's: ê = e / max(|e|, ε)
# the numeric settings and their largest meaningful value (margins and temperatures on a unit sphere; λ_u a weight)
_AT_MOST = {"uniformity_weight": 1e6, "m0": 100.0, "kappa": 100.0, "m_min": 100.0, "m_max": 100.0, "tau": 1e3, "t": 1e3}


@dataclass(frozen=True)
class GILConfig:
    """Settings of :class:`GeneralizedInterClassLoss`, the one home of their defaults; they give the full reconstructed
    method. ``None`` resolves to the form's default when the config is built, so a built config holds no ``None`` and
    reads back as itself (a run folder's ``config.yaml`` shows every value)."""

    form: str = "margin"  # "margin" (L_m), "softmax" (L_s) or "softmax_official" (the authors' InfoLoss)
    pair_weight: str | None = None  # None: "official" for the margin form, "none" for the softmax forms
    margin: str | None = None  # None: "adaptive"; softmax_official has no margin (resolves to "none")
    uniformity_weight: float | None = None  # λ_u; None: DEFAULT_UNIFORMITY_WEIGHT[form]; 0: L_u off (still logged)
    m0: float = 0.2  # base margin: OpenGait's triplet margin
    kappa: float = 0.5  # how strongly centre crowding raises the margin
    m_min: float = 0.05
    m_max: float = 0.5
    tau: float = 0.1  # softmax temperature, the authors' value
    t: float = 2.0  # uniformity temperature (Wang & Isola)
    uniformity_scale: str = "none"  # "norm": λ_u times the batch's detached mean part norm
    metric_space: str = "raw"  # margin form on raw embeddings ("raw", the authors') or on ê ("sphere")

    def __post_init__(self) -> None:
        def bad(field: str, expected: str) -> ValueError:
            return ValueError(f"GeneralizedInterClassLoss: {field} must be {expected}, got {getattr(self, field)!r}")

        if self.form not in FORMS:
            raise bad("form", f"one of {FORMS}")
        # what the form allows, its default first; None resolves to the default, so a resolved config reads back
        pair_weights = PAIR_WEIGHTS if self.form == "margin" else ("none",)
        margins = ("none",) if self.form == "softmax_official" else MARGINS[::-1]
        if self.pair_weight is not None and self.pair_weight not in pair_weights:
            reason = "" if self.form == "margin" else " (pair weights belong to the margin form)"
            raise bad("pair_weight", f"one of {pair_weights} with form={self.form!r}{reason}")
        if self.margin is not None and self.margin not in margins:
            reason = " (the authors' InfoLoss has no margin)" if self.form == "softmax_official" else ""
            raise bad("margin", f"one of {margins} with form={self.form!r}{reason}")
        if self.uniformity_weight is None:
            object.__setattr__(self, "uniformity_weight", DEFAULT_UNIFORMITY_WEIGHT[self.form])
        for field, at_most in _AT_MOST.items():
            value = finite_number("GeneralizedInterClassLoss", field, getattr(self, field), at_most)
            object.__setattr__(self, field, value)
        for field in ("uniformity_weight", "m0", "kappa", "m_min"):
            if not getattr(self, field) >= 0:
                raise bad(field, ">= 0")
        for field in ("tau", "t"):
            if not getattr(self, field) > 0:
                raise bad(field, "> 0")
        if not self.m_min <= self.m_max:
            raise bad("m_max", f">= m_min = {self.m_min}")
        if self.uniformity_scale not in UNIFORMITY_SCALES:
            raise bad("uniformity_scale", f"one of {UNIFORMITY_SCALES}")
        if self.metric_space not in METRIC_SPACES:
            raise bad("metric_space", f"one of {METRIC_SPACES}")
        if self.metric_space == "sphere" and self.form != "margin":
            raise bad("metric_space", f"'raw' with form={self.form!r} (the softmax form is on the sphere already)")
        object.__setattr__(self, "pair_weight", self.pair_weight or pair_weights[0])
        object.__setattr__(self, "margin", self.margin or margins[0])


GIL_SETTINGS = setting_names(GILConfig)  # the keyword names of GIL's settings


# --- 1. dynamic pair weights ---------------------------------------------------------------------
def pair_weights(inner: Tensor, inv_norm: Tensor) -> Tensor:
    """``w = 1 + u / max(u)``, ``u = (1 − s)/2 + 0.01`` from the Gram matrix.

    ``inner [p, n, n]`` (``x xᵀ``), ``inv_norm [p, n]`` (``1/|x|``) → ``w [p, n, n]``.
    Computed without gradient; the max runs over the whole ``[p, n, n]`` tensor (as the authors' code).
    """
    with torch.no_grad():
        u = inner * (inv_norm[:, :, None] * inv_norm[:, None, :])  # [p, n, n]: s
        u = u.mul_(-0.5).add_(0.51)  # (1 − s)/2 + 0.01
        return u.div_(u.max()).add_(1)


# --- normalisation ---------------------------------------------------------------------------------
def inverse_norm(sq_norm: Tensor) -> Tensor:
    """``1 / max(|e|, ε)`` from ``sq_norm = |e|²`` (any shape), with a finite gradient everywhere.

    The floor is applied to the square, ``rsqrt(max(|e|², ε²))``: a zero or tiny vector (even one
    whose square underflows to 0) lands in the clamped branch, whose gradient is exactly 0, where
    ``1 / max(sqrt(|e|²), ε)`` would multiply sqrt's infinite slope at 0 by clamp's 0 (NaN).
    Values are F.normalize's: ``e · inverse_norm(|e|²)`` is ``e / max(|e|, ε)``.
    """
    return sq_norm.clamp_min(_EPS**2).rsqrt()


# --- 3. class centres and the adaptive inter-class margin ----------------------------------------
def class_centres(x: Tensor, inv_norm: Tensor, index: PairIndex) -> Tensor:
    """``μ_c = normalize(mean_{y_i=c} ê_i)``: ``x [p, n, c]``, ``inv_norm [p, n]`` (1/|x|) → ``[p, C, c]``.

    ``Σ_{y_i=c} x_i / |x_i|`` is one batched product with the ``[p, C, n]`` membership matrix
    scaled by ``1/|x_i|`` (ê itself is never formed); normalize(Σ) = normalize(mean). A class whose
    sum is 0 (all its embeddings zero) gets a zero centre and a finite gradient (:func:`inverse_norm`).
    """
    onehot = F.one_hot(index.inverse, index.num_classes).to(x.dtype)  # [n, C]
    sums = (onehot.T * inv_norm[:, None, :]) @ x  # [p, C, n] @ [p, n, c] -> [p, C, c]
    return sums * inverse_norm(sums.pow(2).sum(-1))[..., None]  # [p, C, c]


def margin_of_cosine(cos: Tensor, settings: GILConfig) -> Tensor:
    """The adaptive-margin rule ``clip(m0 · (1 + κ cos), m_min, m_max)`` of ``settings`` on centre cosines of any
    shape."""
    return (settings.m0 * (1 + settings.kappa * cos)).clamp(settings.m_min, settings.m_max)


def adaptive_margins(centres: Tensor, settings: GILConfig) -> Tensor:
    """``m(a, b) = clip(m0 · (1 + κ μ_a·μ_b), m_min, m_max)``: ``centres [p, C, c]`` → ``[p, C, C]``."""
    return margin_of_cosine(centres @ centres.transpose(1, 2), settings)  # [p, C, C]


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
    Settings: a :class:`GILConfig`, or its fields as keywords (``GeneralizedInterClassLoss(form="softmax")``; see it
    for defaults and meaning); and how batches are read:
    ``layout="ncp"`` takes OpenGait's ``[n, c, p]``; ``empty_batch="zero"`` returns a zero loss with a zero
    gradient for a batch without valid pairs (``info["empty_batch"]`` 1, else 0) instead of raising.
    """

    input_key = "embeddings"
    settings = GILConfig

    def __init__(
        self, config: GILConfig | None = None, *, layout: str = "npc", empty_batch: str = "raise", **settings: Any
    ) -> None:
        super().__init__()
        self.config = settings_from(GILConfig, config, settings, "GeneralizedInterClassLoss")
        check_batch_options("GeneralizedInterClassLoss", layout, empty_batch)
        self.layout, self.empty_batch = layout, empty_batch  # how batches are read, not a setting of the method

    def extra_repr(self) -> str:
        settings = {**vars(self.config), "layout": self.layout, "empty_batch": self.empty_batch}
        return ", ".join(f"{k}={v!r}" for k, v in settings.items())

    def forward(self, embeddings: Tensor, labels: Tensor) -> tuple[Tensor, dict[str, float]]:
        cfg = self.config
        try:
            x, labels, index = prepare_batch(embeddings, labels, "GeneralizedInterClassLoss", self.layout)  # [p, n, c]
        except NoValidPairs:
            if self.empty_batch == "raise":
                raise
            return zero_loss(embeddings), self._empty_info()
        with full_precision(x):
            sq_norm = x.pow(2).sum(-1)  # [p, n]
            inv_norm = inverse_norm(sq_norm)  # [p, n]: 1/max(|e|, ε), finite gradient at e = 0
            if cfg.uniformity_weight > 0:
                centres = class_centres(x, inv_norm, index)  # [p, C, c], with gradient for L_u
            else:
                centres = class_centres(x.detach(), inv_norm.detach(), index)  # only logged
            margins = self._negative_margins(centres.detach(), index)  # [p, n, m] or a float
            if cfg.form == "margin" and cfg.metric_space == "sphere":
                e_hat = x * inv_norm[..., None]  # [p, n, c]
                hat_sq = e_hat.pow(2).sum(-1)
                main, stats = self._margin_form(e_hat, hat_sq, inverse_norm(hat_sq), index, margins)
            elif cfg.form == "margin":
                main, stats = self._margin_form(x, sq_norm, inv_norm, index, margins)
            elif cfg.form == "softmax":
                main, stats = self._softmax_form(x * inv_norm[..., None], index, margins)  # ê [p, n, c]
            else:
                main, stats = self._softmax_official(x, index)
            l_u = uniformity(centres, cfg.t).mean()
            weight = cfg.uniformity_weight
            if cfg.uniformity_scale == "norm":
                weight = weight * sq_norm.detach().sqrt().mean()  # λ_u · sg(mean |e|)
            loss = main + weight * l_u if cfg.uniformity_weight > 0 else main
        stats["mean_margin"] = self._mean_margin(margins, index)
        info = to_floats({"loss": loss, cfg.form: main, "uniformity": l_u, **stats})
        if self.empty_batch == "zero":
            info["empty_batch"] = 0.0
        return loss, info

    def _empty_info(self) -> dict[str, float]:
        """``info`` of a batch without valid pairs (``empty_batch="zero"``): every term 0, flagged."""
        keys = ("loss", self.config.form, "uniformity", "mean_margin", "active_fraction")
        return {**dict.fromkeys(keys, 0.0), "mean_pair_weight": 1.0, "empty_batch": 1.0}

    def _negative_margins(self, centres: Tensor, index: PairIndex) -> Tensor | float:
        """m(y_a, y_n) for every anchor and negative, ``[p, n, m]`` laid out as ``index.negatives``
        (adaptive), or a float (fixed: m0; softmax_official: 0)."""
        cfg = self.config
        if cfg.margin == "none":
            return 0.0
        if cfg.margin == "fixed":
            return cfg.m0
        by_class = adaptive_margins(centres, cfg)  # [p, C, C]
        pairs = index.inverse[:, None] * index.num_classes + index.inverse[index.neg_idx]  # [n, m]: (y_a, y_n)
        return by_class.flatten(1).index_select(1, pairs.flatten()).view(-1, *pairs.shape)  # [p, n, m]

    @staticmethod
    def _mean_margin(margins: Tensor | float, index: PairIndex) -> Tensor | float:
        """Mean margin over all parts and (anchor, negative) pairs."""
        if not isinstance(margins, Tensor):
            return margins
        valid = index.neg_valid  # [n, m]
        return (margins * valid).sum() / (valid.sum() * margins.shape[0])

    # --- 2. margin form (with 1 and 3) --------------------------------------------------------------
    def _margin_form(
        self, x: Tensor, sq_norm: Tensor, inv_norm: Tensor, index: PairIndex, margins: Tensor | float
    ) -> tuple[Tensor, dict]:
        dist, inner = pairwise_distance(x, sq_norm)  # [p, n, n]
        stats: dict[str, Tensor | float] = {"mean_pair_weight": 1.0}
        if self.config.pair_weight == "official":
            w = pair_weights(inner.detach(), inv_norm.detach())  # [p, n, n]
            dist = dist * w  # d̃
            stats["mean_pair_weight"] = w.mean()
        per_part, num_active = batch_all_triplet(dist, index, margins)
        stats["active_fraction"] = num_active.double().mean() / index.num_triplets()
        return per_part.mean(), stats

    # --- 4. softmax form (with 3) -------------------------------------------------------------------
    def _softmax_form(self, e_hat: Tensor, index: PairIndex, margins: Tensor | float) -> tuple[Tensor, dict]:
        tau = self.config.tau
        s = e_hat @ e_hat.transpose(1, 2)  # [p, n, n]
        s_an = index.negatives(s) + margins  # [p, n, m]: s_an + m(y_a, y_n)
        s_ap = index.positives(s)  # [p, n, k]
        n = s.shape[1]
        not_self = index.pos_valid & (index.pos_idx != torch.arange(n, device=s.device)[:, None])  # [n, k]
        s_an = s_an.masked_fill(~index.neg_valid, float("-inf"))
        lse = (s_an / tau).logsumexp(2)  # [p, n]
        # −log(e^{s_ap/τ} / (e^{s_ap/τ} + Σ_n e^{(s_an+m)/τ})) = softplus(logsumexp_n((s_an+m)/τ) − s_ap/τ)
        pair_loss = F.softplus(lse[:, :, None] - s_ap / tau)  # [p, n, k]
        num_pairs = not_self.sum()
        per_part = torch.where(not_self, pair_loss, 0.0).sum((1, 2)) / num_pairs  # [p]
        with torch.no_grad():  # fraction of triplets (a ≠ p) with s_an + m > s_ap
            s_ap_real = s_ap.masked_fill(~not_self, float("inf"))  # self and padding: never below
            gap = s_an[..., :, None] - s_ap_real[..., None, :]  # [p, n, m, k]
            active = gap.sign_().clamp_min_(0).flatten(1).sum(1).mean() / index.num_triplets(exclude_self=True)
        return per_part.mean(), {"mean_pair_weight": 1.0, "active_fraction": active}

    # --- 7. the authors' InfoLoss -------------------------------------------------------------------
    def _softmax_official(self, x: Tensor, index: PairIndex) -> tuple[Tensor, dict]:
        dot = (x @ x.transpose(1, 2)) / self.config.tau  # [p, n, n] raw dot products / τ
        an, ap = fill_padding(index.negatives(dot), index.positives(dot), index, first_kind="neg")
        total, positive = softplus_sum(an, ap)  # Σ softplus((e_a·e_n − e_a·e_p)/τ), #(e_a·e_n > e_a·e_p)
        num = index.num_triplets()
        return (total / num).mean(), {
            "mean_pair_weight": 1.0,
            "active_fraction": positive.double().mean() / num,
        }


__all__ = [
    "GIL_SETTINGS",
    "GILConfig",
    "GeneralizedInterClassLoss",
    "adaptive_margins",
    "class_centres",
    "inverse_norm",
    "margin_of_cosine",
    "pair_weights",
    "uniformity",
]
