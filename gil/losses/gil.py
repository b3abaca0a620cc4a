"""Generalized Inter-class Loss (GIL) for part-based gait embeddings — a reconstruction of Yu et al., "Generalized
Inter-class Loss for Gait Recognition", ACM MM 2022.

The paper's equations could not be retrieved; the reconstruction is the authors' released code (a pair-weighted
triplet and a softmax-form pair loss, "InfoLoss") plus the standard formulations the paper's abstract names (class-level
hypersphere uniformity, an adaptive inter-class margin), every term switchable for ablation. The formulas, with their
tensor shapes, are in the docstring of :class:`GeneralizedInterClassLoss`; :class:`GILConfig` holds the settings and
their defaults; the functions below are the loss's building blocks, each with its formula.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gil.losses.gather import is_distributed
from gil.losses.pairs import (
    NoValidPairs,
    PairIndex,
    Triplets,
    all_triplets,
    check_batch_options,
    check_triplets,
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
# λ_u by form: the margin form's was chosen on validation identities among five candidates (gil.experiments.selection);
# the first reconstruction's 0.1 collapses unnormalised backbones (GaitSet, GaitPart) with it, and stays the softmax
# forms' value
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
    """``μ_c = normalize(mean_{y_i=c} ê_i)``: ``x [p, n, c]``, ``inv_norm [p, n]`` (``1/|x|``) → ``[p, C, c]``.

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


@dataclass(frozen=True)
class ListedTerms:
    """GIL on listed triplets with its sample-level losses not yet reduced, as
    :meth:`GeneralizedInterClassLoss.listed_terms` returns it, for callers that reduce them their own way (a
    pytorch-metric-learning reducer).

    ``losses [p, q]``: one loss per part and listed tuple — per triplet (margin form: the hinge of 2;
    softmax_official: the softplus of 7) or per anchor–positive pair (softmax form: ℓ_ap of 4 over the pair's listed
    negatives). ``indices``: the tuple of each column, triplets ``(a, p, n)`` or pairs ``(a, p)``, each ``[q]``.
    ``reduction``: ``"triplet"`` or ``"pos_pair"``, pytorch-metric-learning's name for such losses.
    ``main``: the form's own reduction of ``losses`` (margin form: Σ / #non-zero; softmax forms: the mean; 0 when
    q = 0), mean over parts. ``class_term``: ``λ_u · L_u`` of the whole batch, or None when λ_u = 0.
    ``loss``: ``main + class_term``; ``info``: as ``forward``'s.
    """

    losses: Tensor
    indices: tuple[Tensor, ...]
    reduction: str
    main: Tensor
    class_term: Tensor | None
    loss: Tensor
    info: dict[str, float]


class GeneralizedInterClassLoss(nn.Module):
    """Generalized Inter-class Loss over part-based embeddings (Yu et al., ACM MM 2022; reconstructed).

    ``forward(embeddings [n, p, c] | [n, c], labels [n], triplets=None) -> (loss, info)``: ``n`` sequences, ``p``
    parts, ``c`` channels (``[n, c]`` is read as p = 1). Each part is its own metric space and every term is averaged
    over the parts. Per part: ``d_ij = ||e_i − e_j||₂`` and ``s_ij = cos(e_i, e_j)``, both ``[n, n]``;
    ``ê = e / max(||e||, ε)`` (ε = 1e-12, as ``F.normalize``); ``C`` classes. A triplet ``(a, p, n)`` has
    ``y_p = y_a`` and ``y_n ≠ y_a``; by default the loss uses every triplet of the batch, p = a included (d_aa = 0,
    as OpenGait's batch-all triplet). Any labelled batch works: unbalanced classes as well as P×K.

    1. Dynamic pair weights (sample level; ``pair_weight="official"``, margin form only): ``u_ij = (1 − s_ij)/2 +
       0.01``, ``w_ij = 1 + u_ij / max(u)`` ``[p, n, n]``, the max over every part and pair of the batch, no gradient
       through w; ``d̃_ij = w_ij · d_ij``. ``pair_weight="none"``: ``d̃ = d``.
    2. Margin form ``L_m`` (``form="margin"``): ``[d̃_ap − d̃_an + m(y_a, y_n)]₊`` over the triplets; per part the
       sum divided by the number of non-zero terms (0 when none is), then the mean over parts.
       ``metric_space="sphere"``: d computed on ê instead of e — the margin term on the hypersphere that the
       centres, the margins and L_u live on.
    3. Adaptive inter-class margin (``margin="adaptive"``): class centres ``μ_k = normalize(mean_{y_i=k} ê_i)``
       ``[p, C, c]`` from the whole batch, detached; ``m(k, l) = clip(m0 · (1 + κ μ_k·μ_l), m_min, m_max)``
       ``[p, C, C]`` — classes whose centres crowd each other get a larger margin. ``margin="fixed"``: ``m = m0``.
    4. Softmax form ``L_s`` (``form="softmax"``): ``s = ê êᵀ`` ``[p, n, n]``; for each anchor–positive pair
       (a, p), a ≠ p, ``ℓ_ap = −log(e^{s_ap/τ} / (e^{s_ap/τ} + Σ_n e^{(s_an + m(y_a, y_n))/τ}))`` over the anchor's
       negatives n; the mean of ℓ_ap over the pairs, then over parts. No pair weights (the softmax itself up-weights
       hard negatives).
    5. Class-level hypersphere uniformity (Wang & Isola 2020): the centres of 3 *with* gradient,
       ``L_u = log mean_{k≠l} exp(−t ||μ_k − μ_l||²)`` per part ``[p]``, mean over parts.
    6. Total: ``L = L_m (or L_s, or L_o) + λ_u · L_u``. ``uniformity_scale="norm"``: ``λ_u · sg(mean ||e||) · L_u``
       (sg: no gradient) — L_u sees only directions, so its gradient on an embedding scales as 1/||e||; times the
       batch's mean part norm it is on the margin term's scale whatever the network's output scale.
    7. The authors' InfoLoss ``L_o`` (``form="softmax_official"``): ``softplus((e_a·e_n − e_a·e_p)/τ)`` on raw dot
       products over the triplets of 2, mean over triplets, then parts. No margin (``margin="none"``, the only value
       with this form); their re-weighting after 50k iterations is not reproduced.

    Defaults (:class:`GILConfig`): λ_u (``uniformity_weight=None``) is 0.01 for the margin form, chosen on validation
    identities among five candidates; 0.1 for the softmax forms. λ_u = 0.1 with the margin form lets unnormalised
    embeddings (GaitSet's, GaitPart's) collapse in norm. The authors' weighted triplet is ``form="margin",
    pair_weight="official", margin="fixed", uniformity_weight=0``; their InfoLoss ``form="softmax_official",
    uniformity_weight=0``; with ``pair_weight="none"`` as well, the margin form is exactly
    :class:`gil.losses.triplet.TripletLoss`. Near ``||e|| = 0`` the normalisation saturates as ``F.normalize`` does:
    values and gradients stay finite, but a class of zero embeddings gets a gradient of about 1/ε² through L_u;
    ``trainer.grad_clip`` bounds the step.

    Listed triplets: ``triplets=(a, p, n)``, three integer tensors ``[t]`` of batch indices (a miner's output),
    restrict the sample-level terms (1, 2, 4, 7) to exactly those triplets; the class-level terms (centres, margins,
    L_u) and the pair weights' ``max(u)`` still use the whole batch. The softmax form groups them by (a, p): a pair's
    negatives are the n listed with it. An empty list gives a main term of 0 (with a zero gradient); λ_u · L_u
    remains. :meth:`listed_terms` returns the per-triplet losses before they are reduced. ``triplets=None`` (the
    default) is every valid triplet of the batch, computed without listing them.

    ``info`` (floats): ``loss`` (total), the main term under the form's name (``margin`` | ``softmax`` |
    ``softmax_official``), ``uniformity`` (L_u, unweighted, logged even when λ_u = 0), ``mean_pair_weight`` (1 when
    off), ``mean_margin`` (over anchor–negative pairs, or the listed triplets; 0 for softmax_official),
    ``active_fraction`` (margin form: non-zero hinge terms / triplets; softmax: triplets with ``s_an + m > s_ap``;
    softmax_official: ``e_a·e_n > e_a·e_p``).
    Settings: a :class:`GILConfig`, or its fields as keywords (``GeneralizedInterClassLoss(form="softmax")``); and how
    batches are read: ``layout="ncp"`` takes OpenGait's ``[n, c, p]``; ``empty_batch="zero"`` returns a zero loss with
    a zero gradient for a batch without valid pairs (``info["empty_batch"]`` 1, else 0) instead of raising.
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

    def forward(
        self, embeddings: Tensor, labels: Tensor, triplets: Triplets | None = None
    ) -> tuple[Tensor, dict[str, float]]:
        if triplets is not None:
            terms = self.listed_terms(embeddings, labels, triplets)
            return terms.loss, terms.info
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
            centres = self._centres(x, inv_norm, index)  # [p, C, c]
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
            l_u, weight = self._uniformity(centres, sq_norm)  # after the main term: autograd's order kept
            loss = main + weight * l_u if cfg.uniformity_weight > 0 else main
        stats["mean_margin"] = self._mean_margin(margins, index)
        info = to_floats({"loss": loss, cfg.form: main, "uniformity": l_u, **stats})
        if self.empty_batch == "zero":
            info["empty_batch"] = 0.0
        return loss, info

    def listed_terms(self, embeddings: Tensor, labels: Tensor, triplets: Triplets | None = None) -> ListedTerms:
        """GIL with its sample-level terms on the listed ``triplets`` ``(a, p, n)`` (each ``[t]``, indices into the
        batch), its losses per tuple before reduction; ``triplets=None`` lists every valid triplet of the batch (a ≠ p
        for the softmax form), which reduces to ``forward``'s value. ``embeddings`` and ``labels`` as ``forward``'s.
        """
        cfg = self.config
        name = "GeneralizedInterClassLoss"
        if triplets is not None and is_distributed():
            raise ValueError(
                f"{name}: triplets index one process's batch, but under DDP (world size > 1) the loss sees the batch "
                "gathered from every rank; pass triplets=None there"
            )
        try:
            x, labels, index = prepare_batch(embeddings, labels, name, self.layout)  # [p, n, c]
        except NoValidPairs:
            if self.empty_batch == "raise":
                raise
            return self._empty_terms(embeddings)
        if triplets is None:
            a, pos, neg = all_triplets(index, exclude_self=cfg.form == "softmax")
        else:
            a, pos, neg = check_triplets(triplets, labels.numel(), name, labels.device)
        with full_precision(x):
            sq_norm = x.pow(2).sum(-1)  # [p, n]
            inv_norm = inverse_norm(sq_norm)  # [p, n]
            centres = self._centres(x, inv_norm, index)  # [p, C, c]
            margins = self._triplet_margins(centres.detach(), index, a, neg)  # [p, t] or a float
            indices, reduction = (a, pos, neg), "triplet"
            if cfg.form == "margin":
                space = (x, sq_norm, inv_norm)
                if cfg.metric_space == "sphere":
                    e_hat = x * inv_norm[..., None]  # [p, n, c]
                    hat_sq = e_hat.pow(2).sum(-1)
                    space = (e_hat, hat_sq, inverse_norm(hat_sq))
                losses, stats = self._listed_margin(*space, indices, margins)
                count = (losses > 0).sum(1)  # [p]: non-zero hinge terms
                main = (losses.sum(1) / count.clamp_min(1)).mean()
                stats["active_fraction"] = count.double().mean() / max(a.numel(), 1)
            else:
                if cfg.form == "softmax":
                    losses, indices, stats = self._listed_softmax(x * inv_norm[..., None], indices, margins)
                    reduction = "pos_pair"
                else:
                    losses, stats = self._listed_official(x, indices)
                main = (losses.sum(1) / max(losses.shape[1], 1)).mean()
            l_u, weight = self._uniformity(centres, sq_norm)
            class_term = weight * l_u if cfg.uniformity_weight > 0 else None
            loss = main if class_term is None else main + class_term
        if isinstance(margins, Tensor):  # over the listed triplets; 0 when none is listed
            stats["mean_margin"] = margins.mean() if margins.numel() else 0.0
        else:
            stats["mean_margin"] = margins
        info = to_floats({"loss": loss, cfg.form: main, "uniformity": l_u, **stats})
        if self.empty_batch == "zero":
            info["empty_batch"] = 0.0
        return ListedTerms(losses, indices, reduction, main, class_term, loss, info)

    def _empty_terms(self, embeddings: Tensor) -> ListedTerms:
        """:meth:`listed_terms` of a batch without valid pairs (``empty_batch="zero"``): no tuple, a zero loss."""
        parts = 1 if embeddings.dim() == 2 else embeddings.shape[2 if self.layout == "ncp" else 1]
        none = torch.zeros(0, dtype=torch.long, device=embeddings.device)
        pairs = self.config.form == "softmax"
        zero = zero_loss(embeddings)
        return ListedTerms(
            losses=zero.new_zeros(parts, 0),
            indices=(none, none) if pairs else (none, none, none),
            reduction="pos_pair" if pairs else "triplet",
            main=zero,
            class_term=None,
            loss=zero,
            info=self._empty_info(),
        )

    def _centres(self, x: Tensor, inv_norm: Tensor, index: PairIndex) -> Tensor:
        """The whole batch's class centres (3): ``x [p, n, c]`` → ``[p, C, c]``, with gradient only when L_u is on."""
        if self.config.uniformity_weight > 0:
            return class_centres(x, inv_norm, index)  # [p, C, c], with gradient for L_u
        return class_centres(x.detach(), inv_norm.detach(), index)  # only logged

    def _uniformity(self, centres: Tensor, sq_norm: Tensor) -> tuple[Tensor, Tensor | float]:
        """``L_u`` (5, mean over parts) of ``centres [p, C, c]`` and its weight (6) from ``sq_norm [p, n]``."""
        cfg = self.config
        weight = cfg.uniformity_weight
        if cfg.uniformity_scale == "norm":
            weight = weight * sq_norm.detach().sqrt().mean()  # λ_u · sg(mean |e|)
        return uniformity(centres, cfg.t).mean(), weight

    def _empty_info(self) -> dict[str, float]:
        """``info`` of a batch without valid pairs (``empty_batch="zero"``): every term 0, flagged."""
        keys = ("loss", self.config.form, "uniformity", "mean_margin", "active_fraction")
        return {**dict.fromkeys(keys, 0.0), "mean_pair_weight": 1.0, "empty_batch": 1.0}

    def _class_margins(self, centres: Tensor) -> Tensor | float:
        """m(c, c') of every pair of the batch's classes, ``[p, C, C]`` (adaptive), or a float (fixed: m0;
        softmax_official: 0)."""
        cfg = self.config
        if cfg.margin == "none":
            return 0.0
        if cfg.margin == "fixed":
            return cfg.m0
        return adaptive_margins(centres, cfg)  # [p, C, C]

    def _negative_margins(self, centres: Tensor, index: PairIndex) -> Tensor | float:
        """m(y_a, y_n) for every anchor and negative, ``[p, n, m]`` laid out as ``index.negatives``
        (adaptive), or a float (fixed: m0; softmax_official: 0)."""
        by_class = self._class_margins(centres)
        if isinstance(by_class, float):
            return by_class
        pairs = index.inverse[:, None] * index.num_classes + index.inverse[index.neg_idx]  # [n, m]: (y_a, y_n)
        return by_class.flatten(1).index_select(1, pairs.flatten()).view(-1, *pairs.shape)  # [p, n, m]

    def _triplet_margins(self, centres: Tensor, index: PairIndex, a: Tensor, neg: Tensor) -> Tensor | float:
        """m(y_a, y_n) of listed triplets' anchors ``a [t]`` and negatives ``neg [t]``: ``[p, t]`` (adaptive) or a
        float (fixed: m0; softmax_official: 0)."""
        by_class = self._class_margins(centres)
        if isinstance(by_class, float):
            return by_class
        return by_class.flatten(1)[:, index.inverse[a] * index.num_classes + index.inverse[neg]]  # [p, t]

    @staticmethod
    def _mean_margin(margins: Tensor | float, index: PairIndex) -> Tensor | float:
        """Mean margin over all parts and (anchor, negative) pairs."""
        if not isinstance(margins, Tensor):
            return margins
        valid = index.neg_valid  # [n, m]
        return (margins * valid).sum() / (valid.sum() * margins.shape[0])

    # --- 2. margin form (with 1 and 3) --------------------------------------------------------------
    def _weighted_distance(self, x: Tensor, sq_norm: Tensor, inv_norm: Tensor) -> tuple[Tensor, dict]:
        """d̃ ``[p, n, n]``: the pairwise distance, times the pair weights w when ``pair_weight="official"``, and the
        stats it logs (``mean_pair_weight``)."""
        dist, inner = pairwise_distance(x, sq_norm)  # [p, n, n]
        stats: dict[str, Tensor | float] = {"mean_pair_weight": 1.0}
        if self.config.pair_weight == "official":
            w = pair_weights(inner.detach(), inv_norm.detach())  # [p, n, n]
            dist = dist * w  # d̃
            stats["mean_pair_weight"] = w.mean()
        return dist, stats

    def _margin_form(
        self, x: Tensor, sq_norm: Tensor, inv_norm: Tensor, index: PairIndex, margins: Tensor | float
    ) -> tuple[Tensor, dict]:
        dist, stats = self._weighted_distance(x, sq_norm, inv_norm)  # [p, n, n]
        per_part, num_active = batch_all_triplet(dist, index, margins)
        stats["active_fraction"] = num_active.double().mean() / index.num_triplets()
        return per_part.mean(), stats

    def _listed_margin(
        self, x: Tensor, sq_norm: Tensor, inv_norm: Tensor, triplets: Triplets, margins: Tensor | float
    ) -> tuple[Tensor, dict]:
        """Hinges ``[d̃_ap − d̃_an + m]₊`` of the listed triplets ``[p, t]``; w's max over the whole batch."""
        a, pos, neg = triplets
        dist, stats = self._weighted_distance(x, sq_norm, inv_norm)  # [p, n, n]
        return (dist[:, a, pos] - dist[:, a, neg] + margins).clamp_min(0), stats  # [p, t]

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

    def _listed_softmax(
        self, e_hat: Tensor, triplets: Triplets, margins: Tensor | float
    ) -> tuple[Tensor, tuple[Tensor, Tensor], dict]:
        """ℓ_ap ``[p, q]`` of the q distinct anchor–positive pairs ``(a, p)`` of the listed triplets, each over the
        negatives listed with it; returns the losses, the pairs ``(a [q], p [q])`` and the stats."""
        a, pos, neg = triplets
        tau = self.config.tau
        s = e_hat @ e_hat.transpose(1, 2)  # [p, n, n]
        parts, n, _ = s.shape
        keys, group = torch.unique(a * n + pos, return_inverse=True)  # [q], [t]: each triplet's (a, p) pair
        pair_a, pair_p = keys // n, keys % n  # [q]
        s_an = s[:, a, neg] + margins  # [p, t]: s_an + m(y_a, y_n)
        z = s_an / tau
        slots = group.expand(parts, -1)  # [p, t]
        with torch.no_grad():  # per pair max, for a stable logsumexp over its negatives
            top = z.new_full((parts, keys.numel()), float("-inf")).scatter_reduce(1, slots, z, "amax")  # [p, q]
        lse = z.new_zeros(parts, keys.numel()).scatter_add(1, slots, (z - top.gather(1, slots)).exp()).log() + top
        losses = F.softplus(lse - s[:, pair_a, pair_p] / tau)  # [p, q]: −log(e^{s_ap/τ} / (e^{s_ap/τ} + Σ_n …))
        with torch.no_grad():
            active = (s_an > s[:, a, pos]).double().mean() if a.numel() else 0.0
        return losses, (pair_a, pair_p), {"mean_pair_weight": 1.0, "active_fraction": active}

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

    def _listed_official(self, x: Tensor, triplets: Triplets) -> tuple[Tensor, dict]:
        """``softplus((e_a·e_n − e_a·e_p)/τ)`` of the listed triplets ``[p, t]``."""
        a, pos, neg = triplets
        dot = (x @ x.transpose(1, 2)) / self.config.tau  # [p, n, n] raw dot products / τ
        z = dot[:, a, neg] - dot[:, a, pos]  # [p, t]
        active = (z.detach() > 0).double().mean() if a.numel() else 0.0
        return F.softplus(z), {"mean_pair_weight": 1.0, "active_fraction": active}


__all__ = [
    "GIL_SETTINGS",
    "GILConfig",
    "GeneralizedInterClassLoss",
    "ListedTerms",
    "adaptive_margins",
    "class_centres",
    "inverse_norm",
    "margin_of_cosine",
    "pair_weights",
    "uniformity",
]
