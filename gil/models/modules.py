"""Blocks shared by the gait backbones (OpenGait ``modeling/modules.py`` equivalents).

Shapes: ``n`` sequences, ``s`` frames, ``m`` valid frames of a padded batch, ``c`` channels,
``h, w`` pixels, ``p`` parts, ``k`` classes.

Variable-length batches: a model takes ``sils [n, s, h, w]`` and optional ``lengths [n]``; frames
``>= lengths[i]`` are padding. Frame-wise 2D backbones run on the valid frames only (``pack_frames``,
so padding never enters BatchNorm statistics either); temporal ops mask padding to the value a lone
sequence would see at its border (zero for convolutions and average pools, ``-inf`` for max pools).

Horizontal pooling rule: a bin count ``b`` splits a feature map of ``h`` rows into ``b`` strips with
adaptive pooling. When ``b`` divides ``h`` (every OpenGait config at 64x44) this is exactly OpenGait's
equal split; when ``b > h`` (the 32x22 CPU presets) neighbouring parts share a row. The part count
therefore never depends on the input size, and a checkpoint fits both sizes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypedDict

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class ModelOutput(TypedDict):
    """What every backbone returns."""

    embeddings: Tensor  # [n, p, c]
    logits: Tensor | None  # [n, p, k], None for models without a classifier


def init_opengait_(model: nn.Module) -> None:
    """OpenGait's ``BaseModel.init_parameters``: Xavier-uniform convs/linears, BN weight ~ N(1, 0.02)."""
    for module in model.modules():
        if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)):
            nn.init.xavier_uniform_(module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)) and module.affine:
            nn.init.normal_(module.weight, 1.0, 0.02)
            nn.init.zeros_(module.bias)


def frame_mask(sils: Tensor, lengths: Tensor | None) -> Tensor | None:
    """Validate ``sils [n, s, h, w]`` and ``lengths [n]``; return the valid-frame mask ``[n, s]`` (bool).

    ``None`` when ``lengths`` is None or no sequence is padded (then every frame is valid).
    """
    if sils.dim() != 4:
        raise ValueError(f"sils must be [n, s, h, w] silhouettes, got shape {tuple(sils.shape)}")
    if lengths is None:
        return None
    n, s = sils.shape[:2]
    if lengths.shape != (n,) or lengths.dtype.is_floating_point or lengths.dtype == torch.bool:
        raise ValueError(
            f"lengths must be an integer tensor of shape [{n}], got {lengths.dtype} {tuple(lengths.shape)}"
        )
    lengths = lengths.to(sils.device)
    if bool((lengths < 1).any()) or bool((lengths > s).any()):
        raise ValueError(f"lengths must lie in [1, {s}] (the padded frame count), got {lengths.tolist()}")
    if bool((lengths == s).all()):
        return None
    return torch.arange(s, device=sils.device) < lengths[:, None]  # [n, s]


def pack_frames(x: Tensor, mask: Tensor | None) -> Tensor:
    """``x [n, s, ...]`` -> the valid frames ``[m, ...]`` (``m = n * s`` without a mask)."""
    return x.flatten(0, 1) if mask is None else x[mask]


def set_max(x: Tensor, mask: Tensor | None, n: int) -> Tensor:
    """Set pooling: max over each sequence's valid frames, ``[m, ...]`` -> ``[n, ...]``."""
    if mask is None:
        return x.unflatten(0, (n, -1)).max(1).values  # [n, s, ...] -> [n, ...]
    padded = x.new_full((*mask.shape, *x.shape[1:]), float("-inf"))  # [n, s, ...]
    padded[mask] = x
    return padded.max(1).values


class HorizontalPoolingPyramid(nn.Module):
    """Mean + max over ``b`` horizontal strips for each ``b`` in ``bins``: ``[n, c, h, w] -> [n, p, c]``.

    ``p = sum(bins)``, strips ordered top to bottom, bins in the given order (OpenGait's order).
    """

    def __init__(self, bins: Sequence[int] = (16, 8, 4, 2, 1)) -> None:
        super().__init__()
        self.bins = tuple(bins)

    def forward(self, x: Tensor) -> Tensor:
        parts = [F.adaptive_avg_pool2d(x, (b, 1)) + F.adaptive_max_pool2d(x, (b, 1)) for b in self.bins]
        return torch.cat(parts, 2).squeeze(-1).transpose(1, 2)  # [n, c, p, 1] -> [n, p, c]


class GeMHPP(nn.Module):
    """Generalised-mean pooling over horizontal strips (GaitGL): ``[n, c, h, w] -> [n, p, c]``.

    ``GeM(z) = mean(clamp(z, eps) ** q) ** (1 / q)`` over a strip, with a learnt exponent ``q``
    (OpenGait's ``GeMHPP.p``, initialised to 6.5).
    """

    def __init__(self, bins: Sequence[int] = (64,), q: float = 6.5, eps: float = 1.0e-6) -> None:
        super().__init__()
        self.bins = tuple(bins)
        self.q = nn.Parameter(torch.full((1,), q))
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        z = x.clamp(min=self.eps).pow(self.q)  # [n, c, h, w]
        parts = [F.adaptive_avg_pool2d(z, (b, 1)) for b in self.bins]
        return torch.cat(parts, 2).pow(1.0 / self.q).squeeze(-1).transpose(1, 2)  # [n, p, c]


class SeparateFCs(nn.Module):
    """One bias-free linear map per part: ``[n, p, c_in] -> [n, p, c_out]``.

    ``weight [p, c_in, c_out]`` is initialised as OpenGait does (Xavier-uniform on the 3-D tensor).
    ``norm=True`` L2-normalises each output column of the weight (cosine classifier).
    """

    def __init__(self, parts: int, c_in: int, c_out: int, norm: bool = False) -> None:
        super().__init__()
        self.weight = nn.Parameter(nn.init.xavier_uniform_(torch.empty(parts, c_in, c_out)))
        self.norm = norm

    def forward(self, x: Tensor) -> Tensor:
        w = F.normalize(self.weight, dim=1) if self.norm else self.weight
        return torch.bmm(x.transpose(0, 1), w).transpose(0, 1)  # [p, n, c_out] -> [n, p, c_out]


class SeparateBNNecks(nn.Module):
    """BNNeck (Luo et al., 2019) per part: BatchNorm, then a cosine classifier.

    ``[n, p, c] -> (features [n, p, c], logits [n, p, k])``. As OpenGait (``parallel_BN1d=True``)
    one ``BatchNorm1d(c * p)`` normalises the channel-major flattening of ``[n, c, p]``; with
    ``norm=True`` the features are L2-normalised and the logits are cosines.
    """

    def __init__(self, parts: int, c: int, num_classes: int, norm: bool = True) -> None:
        super().__init__()
        self.weight = nn.Parameter(nn.init.xavier_uniform_(torch.empty(parts, c, num_classes)))
        self.bn = nn.BatchNorm1d(c * parts)
        self.norm = norm

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        n, p, c = x.shape
        x = self.bn(x.transpose(1, 2).reshape(n, c * p)).view(n, c, p).transpose(1, 2)  # [n, p, c]
        if self.norm:
            x = F.normalize(x, dim=-1)
            return x, torch.bmm(x.transpose(0, 1), F.normalize(self.weight, dim=1)).transpose(0, 1)
        return x, torch.bmm(x.transpose(0, 1), self.weight).transpose(0, 1)  # [n, p, k]


def conv_per_strip(conv: nn.Module, x: Tensor, halving: int) -> Tensor:
    """Apply ``conv`` to ``2 ** halving`` horizontal strips of ``x [n, c, ..., h, w]`` independently.

    The focal convolution of GaitPart and the local branch of GaitGL's GLConv. Strips are batched
    into one call when they divide ``h``; otherwise OpenGait's ``split(h // 2**halving)`` is used.
    """
    if halving == 0:
        return conv(x)
    strips, h = 2**halving, x.shape[-2]
    if h < strips:
        raise ValueError(f"cannot split {h} feature rows into 2**{halving} strips; use a taller input")
    if h % strips:
        return torch.cat([conv(z) for z in x.split(h // strips, -2)], -2)
    n = x.shape[0]
    z = x.unflatten(-2, (strips, h // strips)).movedim(-3, 1).flatten(0, 1)  # [n * strips, c, ..., h / strips, w]
    z = conv(z)  # [n * strips, c', ..., h', w']
    return z.unflatten(0, (n, strips)).movedim(1, -3).flatten(-3, -2)  # [n, c', ..., strips * h', w']


class FocalConv2d(nn.Module):
    """GaitPart's focal convolution: ``[n, c_in, h, w] -> [n, c_out, h, w]`` (halving 0: plain)."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int, halving: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel_size, padding=kernel_size // 2, bias=False)
        self.halving = halving

    def forward(self, x: Tensor) -> Tensor:
        return conv_per_strip(self.conv, x, self.halving)


class GLConv(nn.Module):
    """GaitGL's global-local 3-D convolution: ``[n, c_in, s, h, w] -> [n, c_out, s, h', w]``.

    ``leaky(global) + leaky(local)``, or with ``concat=True`` (OpenGait's ``fm_sign``) the two maps
    stacked along the height, ``h' = 2h``.
    """

    def __init__(self, c_in: int, c_out: int, halving: int, concat: bool = False) -> None:
        super().__init__()
        self.global_conv = nn.Conv3d(c_in, c_out, 3, padding=1, bias=False)
        self.local_conv = nn.Conv3d(c_in, c_out, 3, padding=1, bias=False)
        self.halving, self.concat = halving, concat

    def forward(self, x: Tensor) -> Tensor:
        g = self.global_conv(x)
        loc = conv_per_strip(self.local_conv, x, self.halving)
        if self.concat:
            return F.leaky_relu(torch.cat([g, loc], 3))  # [n, c, s, 2h, w]
        return F.leaky_relu(g) + F.leaky_relu(loc)


class BasicBlock(nn.Module):
    """torchvision's ResNet ``BasicBlock`` (same names): ``[n, c_in, h, w] -> [n, c, h/st, w/st]``."""

    def __init__(self, c_in: int, c: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c)
        self.downsample = None
        if stride != 1 or c_in != c:
            self.downsample = nn.Sequential(nn.Conv2d(c_in, c, 1, stride, bias=False), nn.BatchNorm2d(c))

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + identity)
