"""The layout and empty-batch settings of the metric losses (issue #18, items 3–4): OpenGait's [n, c, p] read as
[n, p, c] only when asked, and a batch without valid pairs either a named error or a zero loss with zero gradient."""

import pytest
import torch

from gil.losses import GeneralizedInterClassLoss, TripletLoss
from gil.losses.pairs import NoValidPairs

LOSSES = [
    TripletLoss,
    GeneralizedInterClassLoss,
    lambda **kw: GeneralizedInterClassLoss(form="softmax", **kw),
    lambda **kw: GeneralizedInterClassLoss(form="softmax_official", **kw),
]


def batch(seed=0, n=12, p=4, c=6):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, p, c, generator=g, dtype=torch.float64), torch.arange(n) % 3


@pytest.mark.parametrize("make", LOSSES)
def test_ncp_layout_gives_the_npc_value_of_the_same_batch(make):
    e, y = batch()
    expected, _ = make()(e, y)
    got, _ = make(layout="ncp")(e.transpose(1, 2).contiguous(), y)
    assert torch.allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_a_transposed_batch_read_with_the_default_layout_is_another_value():
    e, y = batch(p=4, c=6)  # [n, c, p] passed as [n, p, c] without layout="ncp" is read as 6 parts of 4 dims
    assert not torch.allclose(
        GeneralizedInterClassLoss()(e.transpose(1, 2), y)[0], GeneralizedInterClassLoss()(e, y)[0]
    )


@pytest.mark.parametrize("make", LOSSES)
@pytest.mark.parametrize(
    ("labels", "named"),
    [
        (torch.zeros(6, dtype=torch.int64), "single class"),
        (torch.arange(6), "no positive pair"),
        (torch.zeros(0, dtype=torch.int64), "batch is empty"),
    ],
)
def test_batches_without_valid_pairs_raise_by_default_and_give_zero_when_asked(make, labels, named):
    e = torch.randn(len(labels), 4, 6, dtype=torch.float64, requires_grad=True)
    with pytest.raises(NoValidPairs, match=named) as info:
        make()(e, labels)
    assert 'empty_batch="zero"' in str(info.value)
    loss, stats = make(empty_batch="zero")(e, labels)
    assert loss.item() == 0.0 and stats["empty_batch"] == 1.0
    loss.backward()
    assert e.grad is not None and torch.count_nonzero(e.grad) == 0


@pytest.mark.parametrize("make", LOSSES)
def test_zero_mode_leaves_ordinary_batches_unchanged(make):
    e, y = batch()
    plain, plain_info = make()(e, y)
    zero, zero_info = make(empty_batch="zero")(e, y)
    assert torch.equal(plain, zero)
    assert zero_info.pop("empty_batch") == 0.0 and zero_info == plain_info


@pytest.mark.parametrize("make", [TripletLoss, GeneralizedInterClassLoss])
def test_unknown_settings_are_named(make):
    with pytest.raises(ValueError, match="layout must be 'npc'"):
        make(layout="cnp")
    with pytest.raises(ValueError, match="empty_batch must be 'raise' or 'zero'"):
        make(empty_batch="skip")


def test_build_loss_gives_the_batch_options_to_every_metric_loss():
    from gil.losses import CrossEntropyTerm, GILTerm, TripletTerm, build_loss

    terms = {"gil": GILTerm(), "triplet": TripletTerm(), "ce": CrossEntropyTerm()}
    loss = build_loss(terms, empty_batch="zero", layout="ncp")
    for name in ("gil", "triplet"):
        assert loss.terms[name].empty_batch == "zero" and loss.terms[name].layout == "ncp"
    assert build_loss(terms).terms["gil"].empty_batch == "raise"  # the default: a batch without pairs is an error
