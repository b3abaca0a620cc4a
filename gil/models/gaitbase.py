"""GaitBase (Fan et al., CVPR 2023, OpenGait's ``Baseline`` with a ResNet9 backbone).

Equal to OpenGait's ``modeling/models/baseline.py`` + ``backbones/resnet.py`` as configured by
``configs/gaitbase/gaitbase_da_casiab.yaml``: a frame-wise ResNet of torchvision BasicBlocks, a max
over frames, a horizontal pyramid, per-part FCs and per-part BNNecks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn

from .modules import (
    BasicBlock,
    HorizontalPoolingPyramid,
    ModelOutput,
    SeparateBNNecks,
    SeparateFCs,
    frame_mask,
    init_opengait_,
    pack_frames,
    set_max,
)
from .registry import register_model, scaled, with_overrides


@dataclass(frozen=True)
class GaitBaseConfig:
    # OpenGait configs/gaitbase/gaitbase_da_casiab.yaml, backbone_cfg (ResNet9, BasicBlock)
    channels: tuple[int, int, int, int] = (64, 128, 256, 512)
    layers: tuple[int, int, int, int] = (1, 1, 1, 1)  # blocks per stage
    strides: tuple[int, int, int, int] = (1, 2, 2, 1)
    maxpool: bool = False  # the ResNet stem's 3x3/2 max pool
    embed_dim: int = 256  # SeparateFCs.out_channels
    bins: tuple[int, ...] = (16,)  # bin_num


class GaitBase(nn.Module):
    """``(sils [n, s, h, w], lengths [n] | None) -> {"embeddings": [n, 16, 256], "logits": [n, 16, k]}``.

    The embeddings are the FC outputs before the BNNeck (OpenGait's ``embed_1``, used for its
    triplet loss and at inference); ``logits`` are the BNNeck's cosine logits (OpenGait's CE loss
    multiplies them by its scale, 16).
    """

    def __init__(self, num_classes: int, width: float = 1.0, config: GaitBaseConfig = GaitBaseConfig()) -> None:
        super().__init__()
        self.config = config
        c = [scaled(ch, width) for ch in config.channels]
        self.stem_conv = nn.Conv2d(1, c[0], 3, 1, 1, bias=False)
        self.stem_bn = nn.BatchNorm2d(c[0])
        self.stem_pool = nn.MaxPool2d(3, 2, 1) if config.maxpool else nn.Identity()
        c_in = c[0]
        for i, (ch, blocks, stride) in enumerate(zip(c, config.layers, config.strides, strict=True)):
            layer = [BasicBlock(c_in if j == 0 else ch, ch, stride if j == 0 else 1) for j in range(blocks)]
            self.add_module(f"layer{i + 1}", nn.Sequential(*layer))  # empty Sequential = identity
            c_in = ch if blocks else c_in
        self.hpp = HorizontalPoolingPyramid(config.bins)
        parts = sum(config.bins)
        self.fcs = SeparateFCs(parts, c_in, scaled(config.embed_dim, width))
        self.bnnecks = SeparateBNNecks(parts, scaled(config.embed_dim, width), num_classes)
        init_opengait_(self)

    def backbone(self, x: Tensor) -> Tensor:
        """ResNet9 on frames: ``[m, 1, h, w] -> [m, c, h', w']``."""
        x = self.stem_pool(F.relu(self.stem_bn(self.stem_conv(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    def forward(self, sils: Tensor, lengths: Tensor | None = None) -> ModelOutput:
        mask = frame_mask(sils, lengths)  # [n, s] | None
        x = self.backbone(pack_frames(sils.unsqueeze(2), mask))  # [m, c, h / 4, w / 4]
        x = set_max(x, mask, sils.shape[0])  # [n, c, h / 4, w / 4]
        embed = self.fcs(self.hpp(x))  # [n, p, c]
        _, logits = self.bnnecks(embed)  # [n, p, k]
        return {"embeddings": embed, "logits": logits}

    def opengait_key_rules(self) -> tuple[tuple[str, str], ...]:
        """(our key regex, OpenGait key template) pairs; see :mod:`gil.models.opengait_weights`."""
        net = "Backbone.forward_block"
        return (
            (r"stem_conv\.weight", f"{net}.conv1.conv.weight"),
            (r"stem_bn\.(\w+)", rf"{net}.bn1.\1"),
            (r"(layer\d\.\d+\.(?:conv\d|bn\d|downsample\.\d)\.\w+)", rf"{net}.\1"),
            (r"fcs\.weight", "FCs.fc_bin"),
            (r"bnnecks\.weight", "BNNecks.fc_bin"),
            (r"bnnecks\.bn\.(\w+)", r"BNNecks.bn1d.\1"),
        )


@register_model("gaitbase")
def gaitbase(num_classes: int, width: float = 1.0, **kw: Any) -> GaitBase:
    """GaitBase, OpenGait CASIA-B config (gaitbase_da_casiab.yaml)."""
    return GaitBase(num_classes, width, with_overrides(GaitBaseConfig(), "gaitbase", kw))


@register_model("gaitbase_oumvlp")
def gaitbase_oumvlp(num_classes: int, width: float = 1.0, **kw: Any) -> GaitBase:
    """GaitBase, OpenGait OUMVLP config (gaitbase_oumvlp.yaml: the same network as CASIA-B's)."""
    return GaitBase(num_classes, width, with_overrides(GaitBaseConfig(), "gaitbase_oumvlp", kw))
