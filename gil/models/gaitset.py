"""GaitSet (Chao et al., AAAI 2019), equal to OpenGait's ``modeling/models/gaitset.py``.

Frame-wise 2-D conv blocks; after each block the frames are max-pooled into a set feature that
feeds a parallel "global" branch; both maps are cut into a horizontal pyramid of parts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from .modules import (
    HorizontalPoolingPyramid,
    ModelOutput,
    SeparateFCs,
    frame_mask,
    init_opengait_,
    pack_frames,
    set_max,
)
from .registry import register_model, scaled, with_overrides


@dataclass(frozen=True)
class GaitSetConfig:
    # OpenGait configs/gaitset/gaitset.yaml (CASIA-B): in_channels [1, 32, 64, 128]
    channels: tuple[int, int, int] = (32, 64, 128)
    embed_dim: int = 256  # SeparateFCs.out_channels
    bins: tuple[int, ...] = (16, 8, 4, 2, 1)  # bin_num; parts = 2 * sum(bins) = 62


GAITSET_OUMVLP = GaitSetConfig(channels=(64, 128, 256))  # configs/gaitset/gaitset_OUMVLP.yaml


def _block(c_in: int, c_out: int, kernel_size: int, pool: bool) -> nn.Sequential:
    layers: list[nn.Module] = [
        nn.Conv2d(c_in, c_out, kernel_size, padding=kernel_size // 2, bias=False),
        nn.LeakyReLU(inplace=True),
        nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
        nn.LeakyReLU(inplace=True),
    ]
    if pool:
        layers.append(nn.MaxPool2d(2, 2))
    return nn.Sequential(*layers)


class GaitSet(nn.Module):
    """``forward(sils [n, s, h, w], lengths [n] | None) -> {"embeddings": [n, 62, 256], "logits": None}``.

    ``num_classes`` is accepted for a uniform signature and unused: OpenGait trains GaitSet with the
    triplet loss alone.
    """

    def __init__(
        self, num_classes: int | None = None, width: float = 1.0, config: GaitSetConfig = GaitSetConfig()
    ) -> None:
        super().__init__()
        self.config = config
        c1, c2, c3 = (scaled(c, width) for c in config.channels)
        self.set_block1 = _block(1, c1, 5, pool=True)
        self.set_block2 = _block(c1, c2, 3, pool=True)
        self.set_block3 = _block(c2, c3, 3, pool=False)
        self.gl_block2 = _block(c1, c2, 3, pool=True)
        self.gl_block3 = _block(c2, c3, 3, pool=False)
        self.hpp = HorizontalPoolingPyramid(config.bins)
        self.head = SeparateFCs(2 * sum(config.bins), c3, scaled(config.embed_dim, width))
        init_opengait_(self)

    def forward(self, sils: Tensor, lengths: Tensor | None = None) -> ModelOutput:
        mask = frame_mask(sils, lengths)  # [n, s] | None
        n = sils.shape[0]
        x = pack_frames(sils.unsqueeze(2), mask)  # [m, 1, h, w]
        x = self.set_block1(x)  # [m, c1, h/2, w/2]
        gl = self.gl_block2(set_max(x, mask, n))  # [n, c2, h/4, w/4]
        x = self.set_block2(x)  # [m, c2, h/4, w/4]
        gl = self.gl_block3(gl + set_max(x, mask, n))  # [n, c3, h/4, w/4]
        x = set_max(self.set_block3(x), mask, n)  # [n, c3, h/4, w/4]
        gl = gl + x
        feat = torch.cat([self.hpp(x), self.hpp(gl)], 1)  # [n, p, c3]
        return {"embeddings": self.head(feat), "logits": None}  # [n, p, c]

    def opengait_key_rules(self) -> tuple[tuple[str, str], ...]:
        """(our key regex, OpenGait key template) pairs; see :mod:`gil.models.opengait_weights`."""
        return (
            (r"set_block(\d)\.(\d)\.weight", r"set_block\1.forward_block.\2.conv.weight"),
            (r"gl_block(\d)\.(\d)\.weight", r"gl_block\1.\2.conv.weight"),
            (r"head\.weight", "Head.fc_bin"),
        )


@register_model("gaitset")
def gaitset(num_classes: int, width: float = 1.0, **kw: Any) -> GaitSet:
    """GaitSet, OpenGait CASIA-B config."""
    return GaitSet(num_classes, width, with_overrides(GaitSetConfig(), "gaitset", kw))


@register_model("gaitset_oumvlp")
def gaitset_oumvlp(num_classes: int, width: float = 1.0, **kw: Any) -> GaitSet:
    """GaitSet, OpenGait OUMVLP config (wider convs)."""
    return GaitSet(num_classes, width, with_overrides(GAITSET_OUMVLP, "gaitset_oumvlp", kw))
