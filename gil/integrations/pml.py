# ruff: noqa: E402 (the extra is checked before pytorch-metric-learning is imported)
"""GIL as a pytorch-metric-learning loss (``pip install "gil-gait[pml]"``).

``GeneralizedInterClassLoss(**settings)(embeddings [n, d], labels [n], indices_tuple=None)`` returns a scalar tensor,
as every pml loss does; the embeddings are one part (p = 1) of :class:`gil.losses.GeneralizedInterClassLoss`, whose
docstring has the formulas. How pml's arguments map onto GIL:

- ``indices_tuple``, a miner's output: triplets ``(a, p, n)``, or pairs ``(a1, p, a2, n)``, which are converted to
  triplets by pml's ``lmu.convert_to_triplets`` as pml's triplet losses do (each positive pair ``(a1, p)`` with each
  negative pair ``(a2, n)`` of the same anchor). GIL's sample-level terms (the pair-weighted triplet hinge, the softmax
  pair loss, InfoLoss) use exactly those triplets; its class-level terms (class centres, adaptive inter-class margins,
  centre uniformity) and the pair weights' normaliser use the whole batch. Without a miner: every valid triplet of the
  batch as the core loss counts them (p = a included, as OpenGait's batch-all triplet): with the default
  reducer the value is the core's.
- ``reducer`` reduces the per-tuple losses: per triplet (``reduction_type="triplet"``; margin and softmax_official
  forms) or per anchor–positive pair (``"pos_pair"``; softmax form). Its default is the core's own reduction:
  ``AvgNonZeroReducer`` (the margin form's mean over non-zero hinges) or ``MeanReducer`` (the softmax forms).
  ``MeanReducer``, ``SumReducer``, ``AvgNonZeroReducer`` and any ``ThresholdReducer`` are accepted; any other
  reducer is refused. The class-level term ``λ_u · L_u`` is a second sub-loss, ``"uniformity"`` (already reduced),
  added to the reduced ``"loss"`` as pml adds its sub-losses.
- An empty mining result: the ``"loss"`` sub-loss is 0 with a zero gradient, as pml's losses return; λ_u · L_u still
  applies (0 with ``uniformity_weight=0``). A batch without any valid pair gives 0 (``empty_batch="zero"``, pml's
  behaviour) or raises (``"raise"``).
- ``ref_emb`` / ``ref_labels`` and a custom ``distance`` are refused: GIL's centres, margins and pair weights are
  computed over one batch with its own distances.
"""

from __future__ import annotations

from typing import Any

import torch

from gil.extras import require

require("pytorch_metric_learning", "pml", "gil.integrations.pml")

from pytorch_metric_learning.losses import BaseMetricLossFunction
from pytorch_metric_learning.reducers import AvgNonZeroReducer, BaseReducer, MeanReducer, ThresholdReducer
from pytorch_metric_learning.utils import loss_and_miner_utils as lmu
from torch import Tensor

from gil.losses import gil as core
from gil.losses.gil import GIL_SETTINGS
from gil.losses.pairs import Triplets, check_triplets

NAME = "GeneralizedInterClassLoss (pml)"
SUPPORTED_REDUCERS = (MeanReducer, ThresholdReducer)  # SumReducer is a MeanReducer, AvgNonZeroReducer a Threshold one


def default_reducer(form: str) -> BaseReducer:
    """The pml reducer that is the core loss's own reduction of ``form``'s per-tuple losses."""
    return AvgNonZeroReducer() if form == "margin" else MeanReducer()


def check_reducer(reducer: Any) -> None:
    """Refuse a reducer that does not reduce per-tuple losses to their mean, sum or thresholded mean."""
    if reducer is not None and not isinstance(reducer, SUPPORTED_REDUCERS):
        raise ValueError(
            f"{NAME}: reducer={type(reducer).__name__} is not supported; GIL's per-triplet (or per-pair) losses take "
            "MeanReducer, SumReducer, AvgNonZeroReducer or a ThresholdReducer (None: the form's own reduction)"
        )


class GeneralizedInterClassLoss(BaseMetricLossFunction):
    """GIL with pml's interface (the module docstring says how a miner's tuples, ``reducer`` and ``ref_emb`` map).

    Keyword arguments named like :class:`gil.losses.gil.GILConfig`'s fields set GIL (``form``, ``m0``, …);
    ``empty_batch`` (``"zero"``, pml's behaviour, or ``"raise"``); the others go to pml's base class (``reducer``,
    ``embedding_regularizer``, …). ``last_info`` holds the core loss's terms of the last call (floats, the core's own
    reduction), for logging.
    """

    def __init__(self, empty_batch: str = "zero", **kwargs: Any) -> None:
        settings = {name: kwargs.pop(name) for name in list(kwargs) if name in GIL_SETTINGS}
        if "distance" in kwargs:
            raise ValueError(f"{NAME}: GIL computes its own distances; drop distance=")
        gil = core.GeneralizedInterClassLoss(**settings, empty_batch=empty_batch)
        reducer = kwargs.pop("reducer", None)
        check_reducer(reducer)
        super().__init__(reducer=reducer if reducer is not None else default_reducer(gil.config.form), **kwargs)
        self.gil = gil
        self.last_info: dict[str, float] = {}

    def get_default_reducer(self) -> BaseReducer:
        return default_reducer(self.gil.config.form)

    def set_reducer(self, reducer: Any) -> None:
        check_reducer(reducer)
        super().set_reducer(reducer)

    def _sub_loss_names(self) -> list[str]:
        return ["loss", "uniformity"]

    def forward(
        self,
        embeddings: Tensor,
        labels: Tensor | None = None,
        indices_tuple: tuple[Tensor, ...] | None = None,
        ref_emb: Tensor | None = None,
        ref_labels: Tensor | None = None,
    ) -> Tensor:
        if ref_emb is not None or ref_labels is not None:
            raise ValueError(
                f"{NAME}: ref_emb and ref_labels are not supported: GIL's class centres, margins and pair weights are "
                "computed over one batch; put the reference embeddings in the batch (torch.cat) instead"
            )
        return super().forward(embeddings, labels, indices_tuple)

    def compute_loss(
        self, embeddings: Tensor, labels: Tensor, indices_tuple: Any, ref_emb: Tensor, ref_labels: Tensor
    ) -> dict[str, dict[str, Any]]:
        if labels is None:
            raise ValueError(f"{NAME}: labels are required")
        triplets = None if indices_tuple is None else mined_triplets(indices_tuple, labels)
        terms = self.gil.listed_terms(embeddings, labels, triplets)
        self.last_info = terms.info
        losses = terms.losses[0]  # [q]: p = 1
        main = {"losses": losses, "indices": terms.indices, "reduction_type": terms.reduction}
        uniformity = {"losses": terms.class_term, "indices": None, "reduction_type": "already_reduced"}
        return {  # pml's zero_loss: 0 with a zero gradient, as its losses return when nothing is mined
            "loss": main if losses.numel() else self.zero_loss(),
            "uniformity": uniformity if terms.class_term is not None else self.zero_loss(),
        }


def mined_triplets(indices_tuple: Any, labels: Tensor) -> Triplets:
    """A miner's triplets ``(a, p, n)`` as they are, or its pairs ``(a1, p, a2, n)`` converted to triplets by pml's
    ``convert_to_triplets`` (each positive pair with each negative pair of its anchor); every index tensor ``[t]``."""
    if not isinstance(indices_tuple, tuple | list) or len(indices_tuple) not in (3, 4):
        got = type(indices_tuple).__name__
        length = f" of length {len(indices_tuple)}" if hasattr(indices_tuple, "__len__") else ""
        raise ValueError(
            f"{NAME}: indices_tuple must be a miner's triplets (a, p, n) or pairs (a1, p, a2, n), got {got}{length}"
        )
    parts = [torch.as_tensor(t, device=labels.device) for t in indices_tuple]
    if any(t.dim() != 1 or t.is_floating_point() for t in parts):
        shapes = [f"{t.dtype} {tuple(t.shape)}" for t in parts]
        raise ValueError(f"{NAME}: indices_tuple must hold 1-d integer tensors, got {shapes}")
    if len(parts) == 4 and (len(parts[0]) != len(parts[1]) or len(parts[2]) != len(parts[3])):
        sizes = [len(t) for t in parts]
        raise ValueError(
            f"{NAME}: indices_tuple pairs (a1, p, a2, n) need len(a1) = len(p), len(a2) = len(n), got {sizes}"
        )
    a, pos, neg = lmu.convert_to_triplets(tuple(parts), labels)
    return check_triplets((a, pos, neg), len(labels), f"{NAME} indices_tuple", labels.device)
