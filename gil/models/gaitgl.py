"""GaitGL (Lin et al., ICCV 2021), equal to OpenGait's ``modeling/models/gaitgl.py``.

3-D convs, local temporal aggregation (a stride-3 temporal conv), global-local conv stages, a max
over frames, GeM pooling into 64 horizontal parts, per-part FCs, BatchNorm and a per-part classifier.
Both OpenGait variants: CASIA-B (``"gaitgl"``) and OUMVLP/GREW (``"gaitgl_oumvlp"``: two stem convs,
two GLConvs per stage, strips of half the height, 256 channels).

Part rule at other input sizes: the last GLConv stacks its global and local maps along the height,
so the final map has as many rows as the input (64 at 64x44, 32 at 32x22). The 64 parts are kept at
every size (adaptive GeM pooling, see :mod:`gil.models.modules`): at 32x22 parts 2i and 2i+1 both
pool row i, so shapes and checkpoints do not depend on the input size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .modules import GeMHPP, GLConv, ModelOutput, SeparateFCs, frame_mask, init_opengait_
from .registry import register_model, scaled, with_overrides


@dataclass(frozen=True)
class GaitGLConfig:
    # OpenGait configs/gaitgl/gaitgl.yaml (CASIA-B): channels [32, 64, 128]; the last is the
    # embedding size. OUMVLP: [32, 64, 128, 256] with `deep=True` (OpenGait picks the variant from
    # data_cfg.dataset_name).
    channels: tuple[int, ...] = (32, 64, 128)
    deep: bool = False
    halving: int = 3  # local strips = 2 ** halving (OUMVLP: 1)
    parts: int = 64  # GeMHPP bin_num


GAITGL_OUMVLP = GaitGLConfig(channels=(32, 64, 128, 256), deep=True, halving=1)


def _masked(x: Tensor, m: Tensor | None) -> Tensor:
    return x if m is None else x * m


def _time_mask(lengths: Tensor | None, s: int, x: Tensor) -> Tensor | None:
    """``[n, 1, s, 1, 1]`` 1.0 on valid frames, or None when nothing is padded."""
    if lengths is None or bool((lengths == s).all()):
        return None
    return (torch.arange(s, device=x.device) < lengths[:, None]).to(x.dtype)[:, None, :, None, None]


def _repeat_short(x: Tensor, lengths: Tensor | None) -> tuple[Tensor, Tensor | None]:
    """OpenGait tiles a clip of 1 or 2 frames to 3 or 4 frames (``x [n, 1, s, h, w]``), per sequence."""
    s = x.shape[2]
    if lengths is None:
        return (x.repeat(1, 1, 3 if s == 1 else 2, 1, 1), None) if s < 3 else (x, None)
    if not bool((lengths < 3).any()):
        return x, lengths
    new = torch.where(lengths == 1, 3, torch.where(lengths == 2, 4, lengths))  # [n]
    idx = torch.arange(max(s, int(new.max())), device=x.device)[None, :] % lengths[:, None]  # [n, s']
    x = torch.take_along_dim(x, idx[:, None, :, None, None], dim=2)  # [n, 1, s', h, w]
    return x, new


class GaitGL(nn.Module):
    """``(sils [n, s, h, w], lengths [n] | None) -> {"embeddings": [n, 64, 128], "logits": [n, 64, k]}``.

    The embeddings are the BatchNorm'd features (OpenGait's ``bnft``: used for its triplet loss and
    at inference); ``logits`` come from the per-part classifier on them.
    """

    def __init__(self, num_classes: int, width: float = 1.0, config: GaitGLConfig = GaitGLConfig()) -> None:
        super().__init__()
        self.config = config
        c = [scaled(ch, width) for ch in config.channels]
        reps, hv = (2 if config.deep else 1), config.halving
        self.stem = nn.ModuleList(
            [nn.Conv3d(1 if i == 0 else c[0], c[0], 3, padding=1, bias=False) for i in range(reps)]
        )
        self.lta = nn.Conv3d(c[0], c[0], (3, 1, 1), stride=(3, 1, 1), bias=False)
        ins = [c[0], c[1], c[2]]  # stage inputs
        outs = [c[1], c[2], c[-1]]  # CASIA-B: the last stage keeps c[2] channels
        self.stages = nn.ModuleList()
        for i in range(3):
            self.stages.append(
                nn.ModuleList(
                    [
                        GLConv(ins[i] if j == 0 else outs[i], outs[i], hv, concat=(i == 2 and j == reps - 1))
                        for j in range(reps)
                    ]
                )
            )
        self.gem = GeMHPP((config.parts,))
        self.head = SeparateFCs(config.parts, c[-1], c[-1])
        self.bn = nn.BatchNorm1d(c[-1])
        self.classifier = SeparateFCs(config.parts, c[-1], num_classes)
        init_opengait_(self)

    def forward(self, sils: Tensor, lengths: Tensor | None = None) -> ModelOutput:
        mask = frame_mask(sils, lengths)
        lengths = None if mask is None else mask.sum(1)  # [n]
        x, lengths = _repeat_short(sils.unsqueeze(1), lengths)  # [n, 1, s, h, w]
        m = _time_mask(lengths, x.shape[2], x)  # [n, 1, s, 1, 1] | None
        x = _masked(x, m)
        for conv in self.stem:
            x = _masked(F.leaky_relu(conv(x)), m)  # [n, c0, s, h, w]
        x = F.leaky_relu(self.lta(x))  # [n, c0, s / 3, h, w]
        lengths = None if lengths is None else lengths // 3
        m = _time_mask(lengths, x.shape[2], x)
        for i, stage in enumerate(self.stages):
            for glconv in stage:
                x = _masked(glconv(_masked(x, m)), m)  # [n, c, s / 3, h, w]
            if i == 0:
                x = F.max_pool3d(x, (1, 2, 2), (1, 2, 2))  # [n, c1, s / 3, h / 2, w / 2]
        if m is not None:
            x = x.masked_fill(m == 0, float("-inf"))
        x = x.max(2).values  # [n, c, h, w]: temporal max pooling
        gait = self.head(self.gem(x))  # [n, p, c]
        bnft = self.bn(gait.transpose(1, 2)).transpose(1, 2)  # [n, c, p] -> [n, p, c]
        return {"embeddings": bnft, "logits": self.classifier(bnft)}

    def opengait_key_rules(self) -> tuple[tuple[str, str], ...]:
        """(our key regex, OpenGait key template) pairs; see :mod:`gil.models.opengait_weights`."""
        names = ("GLConvA0", "GLConvA1", "GLConvB2")
        rules = [
            (r"lta\.weight", "LTA.0.conv3d.weight"),
            (r"gem\.q", "HPP.p"),
            (r"head\.weight", "Head0.fc_bin"),
            (r"bn\.(\w+)", r"Bn.\1"),
            (r"classifier\.weight", "Head1.fc_bin"),
        ]
        if self.config.deep:  # nn.Sequential stem (conv, act, conv, act) and two GLConvs per stage
            rules += [(r"stem\.0\.weight", "conv3d.0.conv3d.weight"), (r"stem\.1\.weight", "conv3d.2.conv3d.weight")]
            rules += [
                (rf"stages\.{i}\.(\d)\.(global|local)_conv\.weight", rf"{name}.\1.\2_conv3d.conv3d.weight")
                for i, name in enumerate(names)
            ]
        else:
            rules += [(r"stem\.0\.weight", "conv3d.0.conv3d.weight")]
            rules += [
                (rf"stages\.{i}\.0\.(global|local)_conv\.weight", rf"{name}.\1_conv3d.conv3d.weight")
                for i, name in enumerate(names)
            ]
        return tuple(rules)


@register_model("gaitgl")
def gaitgl(num_classes: int, width: float = 1.0, **kw: Any) -> GaitGL:
    """GaitGL, OpenGait CASIA-B config."""
    return GaitGL(num_classes, width, with_overrides(GaitGLConfig(), "gaitgl", kw))


@register_model("gaitgl_oumvlp")
def gaitgl_oumvlp(num_classes: int, width: float = 1.0, **kw: Any) -> GaitGL:
    """GaitGL, OpenGait OUMVLP config."""
    return GaitGL(num_classes, width, with_overrides(GAITGL_OUMVLP, "gaitgl_oumvlp", kw))
