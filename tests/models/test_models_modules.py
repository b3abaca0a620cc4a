"""Shared blocks against float64 references written as plain loops (OpenGait's definitions)."""

import torch
from torch import nn

from gil.models.modules import (
    GeMHPP,
    HorizontalPoolingPyramid,
    SeparateBNNecks,
    SeparateFCs,
    conv_per_strip,
    set_max,
)


def test_hpp_equals_opengait_split_when_bins_divide_rows():
    x = torch.randn(2, 3, 8, 5, dtype=torch.float64)
    out = HorizontalPoolingPyramid((4, 2, 1))(x)  # [n, p, c]
    parts = []
    for b in (4, 2, 1):
        rows = 8 // b
        for i in range(b):
            strip = x[:, :, i * rows : (i + 1) * rows, :].flatten(2)  # OpenGait: x.view(n, c, b, -1)
            parts.append(strip.mean(-1) + strip.max(-1).values)
    torch.testing.assert_close(out, torch.stack(parts, 1), rtol=0, atol=1e-12)


def test_hpp_keeps_part_count_when_bins_exceed_rows():
    x = torch.randn(2, 3, 4, 3, dtype=torch.float64)
    out = HorizontalPoolingPyramid((8,))(x)  # 8 parts over 4 rows: each row feeds two parts
    assert out.shape == (2, 8, 3)
    row0 = x[:, :, 0, :]
    torch.testing.assert_close(out[:, 0], row0.mean(-1) + row0.max(-1).values)
    torch.testing.assert_close(out[:, 0], out[:, 1])


def test_gem_equals_reference():
    x = torch.rand(2, 3, 4, 5, dtype=torch.float64)
    gem = GeMHPP((2,)).double()
    ref = torch.stack(
        [(x[:, :, 2 * i : 2 * i + 2].clamp(min=1e-6) ** 6.5).flatten(2).mean(-1) ** (1 / 6.5) for i in range(2)], 1
    )
    torch.testing.assert_close(gem(x), ref)


def test_separate_fcs_and_bnneck_match_per_part_loops():
    torch.manual_seed(0)
    x = torch.randn(5, 3, 4, dtype=torch.float64)  # [n, p, c]
    fc = SeparateFCs(3, 4, 2).double()
    ref = torch.stack([x[:, p] @ fc.weight[p] for p in range(3)], 1)
    torch.testing.assert_close(fc(x), ref)

    neck = SeparateBNNecks(3, 4, 6).double().train()
    feat, logits = neck(x)
    # OpenGait: BatchNorm1d(c * p) on [n, c, p].view(n, -1), i.e. feature index c_i * p + p_i
    flat = x.transpose(1, 2).reshape(5, 12)
    normed = (flat - flat.mean(0)) / torch.sqrt(flat.var(0, unbiased=False) + 1e-5)
    normed = normed.view(5, 4, 3).transpose(1, 2)  # [n, p, c]
    unit = normed / normed.norm(dim=-1, keepdim=True)
    w = neck.weight / neck.weight.norm(dim=1, keepdim=True)
    torch.testing.assert_close(feat, unit)
    torch.testing.assert_close(logits, torch.stack([unit[:, p] @ w[p] for p in range(3)], 1))


def test_conv_per_strip_equals_split_loop():
    torch.manual_seed(0)
    conv2d = nn.Conv2d(2, 3, 3, padding=1, bias=False).double()
    x = torch.randn(2, 2, 8, 5, dtype=torch.float64)
    ref = torch.cat([conv2d(z) for z in x.split(2, 2)], 2)  # OpenGait FocalConv2d, halving 2
    torch.testing.assert_close(conv_per_strip(conv2d, x, 2), ref)
    conv3d = nn.Conv3d(2, 3, 3, padding=1, bias=False).double()
    x = torch.randn(2, 2, 4, 8, 5, dtype=torch.float64)
    ref = torch.cat([conv3d(z) for z in x.split(4, 3)], 3)  # GaitGL GLConv local branch, halving 1
    torch.testing.assert_close(conv_per_strip(conv3d, x, 1), ref)


def test_set_max_ignores_padding():
    x = torch.randn(2, 3, 4)  # [n, s, c]
    mask = torch.tensor([[True, True, False], [True, False, False]])
    out = set_max(x[mask], mask, 2)
    torch.testing.assert_close(out, torch.stack([x[0, :2].max(0).values, x[1, 0]]))
