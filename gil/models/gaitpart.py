"""GaitPart (Fan et al., CVPR 2020), equal to OpenGait's ``modeling/models/gaitpart.py``.

A frame-wise backbone of (focal) convolutions, horizontal parts per frame, then the temporal
feature aggregator (two micro-motion branches, each a per-part 1-D conv attention over a local
temporal template) and a max over frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .modules import (
    FocalConv2d,
    HorizontalPoolingPyramid,
    ModelOutput,
    SeparateFCs,
    frame_mask,
    init_opengait_,
    pack_frames,
)
from .registry import register_model, scaled, with_overrides


@dataclass(frozen=True)
class GaitPartConfig:
    # OpenGait configs/gaitpart/gaitpart.yaml (CASIA-B) backbone layers_cfg, read as in its Plain
    # backbone: "BC-c" conv, "FC-c-k" focal conv over 2**k strips, "M" 2x2 max pool. The first
    # conv is 5x5, the others 3x3; each conv is followed by a LeakyReLU.
    layers: tuple[str, ...] = ("BC-32", "BC-32", "M", "FC-64-2", "FC-64-2", "M", "FC-128-3", "FC-128-3")
    embed_dim: int = 128  # SeparateFCs.out_channels
    bins: tuple[int, ...] = (16,)  # bin_num
    squeeze: int = 4  # TemporalFeatureAggregator hidden = channels // squeeze


GAITPART_OUMVLP = GaitPartConfig(  # configs/gaitpart/gaitpart_OUMVLP.yaml
    layers=("BC-32", "BC-32", "M", "BC-64", "BC-64", "M", "FC-128-3", "FC-128-3", "FC-256-3", "FC-256-3"),
    embed_dim=256,
)


def _backbone(layers: tuple[str, ...], width: float) -> tuple[nn.Sequential, int]:
    modules: list[nn.Module] = []
    c_in = 1
    for spec in layers:
        if spec == "M":
            modules.append(nn.MaxPool2d(2, 2))
            continue
        kind, *args = spec.split("-")
        if kind not in ("BC", "FC") or len(args) != (1 if kind == "BC" else 2):
            raise ValueError(f"GaitPart layer spec must be 'BC-c', 'FC-c-k' or 'M', got {spec!r}")
        c_out = scaled(int(args[0]), width)
        halving = int(args[1]) if kind == "FC" else 0
        modules += [FocalConv2d(c_in, c_out, 5 if not modules else 3, halving), nn.LeakyReLU(inplace=True)]
        c_in = c_out
    return nn.Sequential(*modules), c_in


class TemporalFeatureAggregator(nn.Module):
    """GaitPart's TFA: ``x [n, s, p, c]`` and ``mask [n, s] | None`` -> ``[n, p, c]``.

    Each part has its own 1-D convs; they run as one grouped convolution (``groups = p``), the
    weights stored stacked ``[p, c_out, c_in, kernel]``. Padding frames are zeroed before every
    temporal conv and the average pool and set to ``-inf`` before the max pools, which is what a
    lone sequence sees beyond its ends.
    """

    def __init__(self, parts: int, c: int, squeeze: int = 4) -> None:
        super().__init__()
        hidden = c // squeeze
        self.conv3x1_in = nn.Parameter(torch.empty(parts, hidden, c, 3))
        self.conv3x1_out = nn.Parameter(torch.empty(parts, c, hidden, 1))
        self.conv3x3_in = nn.Parameter(torch.empty(parts, hidden, c, 3))
        self.conv3x3_out = nn.Parameter(torch.empty(parts, c, hidden, 3))
        for weight in self.parameters():
            for w in weight:  # OpenGait initialises each part's Conv1d separately
                nn.init.xavier_uniform_(w)

    def _attention(self, x: Tensor, m: Tensor | None, w_in: Tensor, w_out: Tensor) -> Tensor:
        p = w_in.shape[0]
        h = F.leaky_relu(F.conv1d(x, w_in.flatten(0, 1), padding=1, groups=p))  # [n, p * hidden, s]
        if m is not None:
            h = h * m
        return torch.sigmoid(F.conv1d(h, w_out.flatten(0, 1), padding=w_out.shape[-1] // 2, groups=p))

    def _template(self, x: Tensor, m: Tensor | None, k: int) -> Tensor:
        if m is None:
            return F.avg_pool1d(x, k, 1, k // 2) + F.max_pool1d(x, k, 1, k // 2)
        t = F.avg_pool1d(x, k, 1, k // 2) + F.max_pool1d(x.masked_fill(m == 0, float("-inf")), k, 1, k // 2)
        return t.masked_fill(m == 0, 0.0)  # no -inf left to meet a gradient

    def forward(self, x: Tensor, mask: Tensor | None) -> Tensor:
        n, s, p, c = x.shape
        x = x.permute(0, 2, 3, 1).reshape(n, p * c, s)  # [n, p * c, s]
        m = None if mask is None else mask[:, None, :].to(x.dtype)  # [n, 1, s]
        if m is not None:
            x = x * m
        f = self._template(x, m, 3) * self._attention(x, m, self.conv3x1_in, self.conv3x1_out) + self._template(
            x, m, 5
        ) * self._attention(x, m, self.conv3x3_in, self.conv3x3_out)
        if m is not None:
            f = f.masked_fill(m == 0, float("-inf"))
        return f.max(-1).values.view(n, p, c)  # [n, p * c] -> [n, p, c]


class GaitPart(nn.Module):
    """``forward(sils [n, s, h, w], lengths [n] | None) -> {"embeddings": [n, 16, 128], "logits": None}``.

    ``num_classes`` is unused (OpenGait trains GaitPart with the triplet loss alone).
    """

    def __init__(
        self, num_classes: int | None = None, width: float = 1.0, config: GaitPartConfig = GaitPartConfig()
    ) -> None:
        super().__init__()
        self.config = config
        self.backbone, c = _backbone(config.layers, width)
        self.hpp = HorizontalPoolingPyramid(config.bins)
        parts = sum(config.bins)
        self.tfa = TemporalFeatureAggregator(parts, c, config.squeeze)
        self.head = SeparateFCs(parts, c, scaled(config.embed_dim, width))
        init_opengait_(self)

    def forward(self, sils: Tensor, lengths: Tensor | None = None) -> ModelOutput:
        mask = frame_mask(sils, lengths)  # [n, s] | None
        n, s = sils.shape[:2]
        x = self.hpp(self.backbone(pack_frames(sils.unsqueeze(2), mask)))  # [m, p, c]
        if mask is None:
            x = x.view(n, s, *x.shape[1:])  # [n, s, p, c]
        else:
            x = x.new_zeros(n, s, *x.shape[1:]).index_put((mask,), x)  # [n, s, p, c], zero padding
        return {"embeddings": self.head(self.tfa(x, mask)), "logits": None}

    def opengait_key_rules(self) -> tuple[tuple[str, str], ...]:
        """(our key regex, OpenGait key template); ``*`` marks a per-part key stacked on dim 0."""
        tfa = "TFA.pooling_func"
        return (
            (r"backbone\.(\d+)\.conv\.weight", r"Backbone.forward_block.feature.\1.conv.weight"),
            (r"tfa\.conv3x1_in", f"{tfa}.conv1d3x1.*.0.conv.weight"),
            (r"tfa\.conv3x1_out", f"{tfa}.conv1d3x1.*.2.conv.weight"),
            (r"tfa\.conv3x3_in", f"{tfa}.conv1d3x3.*.0.conv.weight"),
            (r"tfa\.conv3x3_out", f"{tfa}.conv1d3x3.*.2.conv.weight"),
            (r"head\.weight", "Head.fc_bin"),
        )


@register_model("gaitpart")
def gaitpart(num_classes: int, width: float = 1.0, **kw: Any) -> GaitPart:
    """GaitPart, OpenGait CASIA-B config."""
    return GaitPart(num_classes, width, with_overrides(GaitPartConfig(), "gaitpart", kw))


@register_model("gaitpart_oumvlp")
def gaitpart_oumvlp(num_classes: int, width: float = 1.0, **kw: Any) -> GaitPart:
    """GaitPart, OpenGait OUMVLP config (deeper, 256 channels)."""
    return GaitPart(num_classes, width, with_overrides(GAITPART_OUMVLP, "gaitpart_oumvlp", kw))
