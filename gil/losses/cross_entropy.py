"""Cross-entropy on BNNeck logits, as OpenGait's ``CrossEntropyLoss`` (modeling/losses/ce.py).

Per part, a classifier over the training identities gives ``logits [n, p, classes]``; the loss is

    L_ce = mean_{i, part} CE(scale · logits_{i, part}, y_i; label smoothing ε)

i.e. the cross-entropy of every (sample, part) pair, averaged (the mean over parts of the
per-part means). OpenGait's defaults: scale 16, label smoothing 0.1 (GaitGL's and GaitBase's
configs use them). Its models return ``[n, classes, p]``; ours return ``[n, p, classes]``.
No DDP gather: the loss is per-sample, so DDP's gradient averaging is already exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gil.losses.pairs import full_precision, to_floats
from gil.losses.settings import finite_number, settings_from


@dataclass(frozen=True)
class CrossEntropyConfig:
    """Settings of :class:`CrossEntropyLoss`; the defaults are OpenGait's (GaitGL's and GaitBase's configs)."""

    scale: float = 16.0  # logits are multiplied by it before the softmax
    label_smoothing: float = 0.1

    def __post_init__(self) -> None:
        for name in ("scale", "label_smoothing"):
            object.__setattr__(self, name, finite_number("CrossEntropyLoss", name, getattr(self, name), at_most=1e4))
        if not self.scale > 0:
            raise ValueError(f"CrossEntropyLoss: scale must be > 0, got {self.scale!r}")
        if not 0 <= self.label_smoothing < 1:
            raise ValueError(f"CrossEntropyLoss: label_smoothing must be in [0, 1), got {self.label_smoothing!r}")


class CrossEntropyLoss(nn.Module):
    """``forward(logits [n, p, classes] | [n, classes], labels [n]) -> (loss, info)``.

    ``info``: ``loss``, ``accuracy`` (argmax per part vs the label, mean over samples and parts).
    Settings: a :class:`CrossEntropyConfig` or its fields as keywords (``CrossEntropyLoss(scale=1.0)``).
    Labels must be class indices 0..classes-1 (the training partition's identity index).
    """

    input_key = "logits"
    settings = CrossEntropyConfig

    def __init__(self, config: CrossEntropyConfig | None = None, **settings: Any) -> None:
        super().__init__()
        self.config = settings_from(CrossEntropyConfig, config, settings, "CrossEntropyLoss")
        self.scale = float(self.config.scale)
        self.label_smoothing = float(self.config.label_smoothing)

    def extra_repr(self) -> str:
        return f"scale={self.scale}, label_smoothing={self.label_smoothing}"

    def forward(self, logits: Tensor, labels: Tensor) -> tuple[Tensor, dict[str, float]]:
        if not isinstance(logits, Tensor) or logits.dim() not in (2, 3) or not logits.is_floating_point():
            got = f"{logits.dtype} {tuple(logits.shape)}" if isinstance(logits, Tensor) else type(logits).__name__
            raise ValueError(
                f"CrossEntropyLoss: logits must be a float tensor [n, p, classes] or [n, classes], got {got}"
            )
        if not isinstance(labels, Tensor) or labels.dim() != 1 or labels.is_floating_point():
            raise ValueError("CrossEntropyLoss: labels must be an integer tensor [n]")
        if labels.shape[0] != logits.shape[0]:
            raise ValueError(
                f"CrossEntropyLoss: {labels.shape[0]} labels for {logits.shape[0]} logits (first dims differ)"
            )
        x = logits.unsqueeze(1) if logits.dim() == 2 else logits  # [n, p, classes]
        layout = "[n, p, classes]" if logits.dim() == 3 else "[n, classes]"
        if x.shape[0] == 0:
            raise ValueError(
                f"CrossEntropyLoss: the batch is empty (n = 0): logits {layout} of shape {tuple(logits.shape)}"
            )
        if x.shape[1] == 0 or x.shape[2] == 0:
            raise ValueError(
                f"CrossEntropyLoss: logits {layout} must have at least one part and one class, got shape "
                f"{tuple(logits.shape)} (p = {x.shape[1]}, classes = {x.shape[2]})"
            )
        classes = logits.shape[-1]
        labels = labels.to(logits.device)
        if int(labels.min()) < 0 or int(labels.max()) >= classes:
            raise ValueError(
                f"CrossEntropyLoss: labels must be class indices in [0, {classes}), got range "
                f"[{int(labels.min())}, {int(labels.max())}]"
            )
        with full_precision(x):
            x = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
            n, p, _ = x.shape
            target = labels[:, None].expand(n, p)  # [n, p]
            loss = F.cross_entropy(
                self.scale * x.transpose(1, 2), target, label_smoothing=self.label_smoothing
            )  # input [n, classes, p]
            accuracy = (x.detach().argmax(-1) == target).double().mean()
        return loss, to_floats({"loss": loss, "accuracy": accuracy})


__all__ = ["CrossEntropyConfig", "CrossEntropyLoss"]
