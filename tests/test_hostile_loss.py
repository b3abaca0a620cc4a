"""Losses on hostile inputs: zero, tiny and denormal embeddings, and degenerate shapes (issue #14).

Every form of GIL (with and without L_u), the triplet baseline and cross-entropy must give a finite
loss, finite ``info`` and finite gradients for an all-zero sample, an all-zero class, tiny and
denormal embeddings and batches that mix them with ordinary ones, in float32 and float64, on P×K and
unbalanced batches; ordinary embeddings must keep their values (checked against the float64 loop
reference of ``tests/losses/test_gil_reference.py``); empty batches and p = 0 / c = 0 must raise
errors that say so.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest
import torch

from gil.losses import CrossEntropyLoss, GeneralizedInterClassLoss, TripletLoss
from gil.losses.gil import class_centres, inverse_norm
from gil.losses.pairs import PairIndex

PXK = [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3]  # P×K = 4×4
UNBALANCED = [3, 0, 3, 1, 2, 2, 0, 2, 4, 2, 4, 0, 1, 1, 3, 3]  # class sizes 3, 3, 4, 4, 2
BATCHES = {"pxk": PXK, "unbalanced": UNBALANCED}

LOSSES = {
    **{
        f"margin-{lam}": dict(form="margin", pair_weight="official", margin="adaptive", uniformity_weight=lam)
        for lam in (0.0, 0.1)
    },
    "margin-plain-0.1": dict(form="margin", pair_weight="none", margin="fixed", uniformity_weight=0.1),
    **{f"softmax-{lam}": dict(form="softmax", margin="adaptive", uniformity_weight=lam) for lam in (0.0, 0.1)},
    **{f"softmax_official-{lam}": dict(form="softmax_official", uniformity_weight=lam) for lam in (0.0, 0.1)},
    "triplet": None,
}
TINY = {torch.float32: (1e-20, 1e-30), torch.float64: (1e-20, 1e-160)}
DENORMAL = {torch.float32: 1e-40, torch.float64: 1e-310}  # below the smallest normal number


def _loss(name):
    cfg = LOSSES[name]
    return TripletLoss() if cfg is None else GeneralizedInterClassLoss(**cfg)


def _ordinary(labels, dtype, parts=4, dims=8, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(len(labels), parts, dims, generator=gen, dtype=torch.float64).to(dtype)


def _hostile(case, labels, dtype):
    """An ordinary ``[n, p, c]`` batch made hostile: ``case`` is what is zero, tiny or denormal."""
    e, y = _ordinary(labels, dtype), torch.tensor(labels)
    if case == "zero_sample":
        e[5] = 0
    elif case == "zero_class":
        e[y == y[0]] = 0
    elif case == "all_zero":
        e.zero_()
    elif case.startswith("tiny"):
        e = e * TINY[dtype][int(case[-1])]
    elif case == "denormal":
        e = e * DENORMAL[dtype]
    elif case == "mixed":  # one class tiny, one class denormal, one zero sample, the rest ordinary
        e[y == y[1]] *= TINY[dtype][1]
        e[y == y[2]] *= DENORMAL[dtype]
        e[0] = 0
    return e, y


CASES = ["zero_sample", "zero_class", "all_zero", "tiny0", "tiny1", "denormal", "mixed"]


@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("name", LOSSES)
def test_hostile_embeddings_give_finite_values_and_gradients(name, dtype, case, batch):
    e, y = _hostile(case, BATCHES[batch], dtype)
    if case == "denormal":
        assert 0 < e.abs().max() < torch.finfo(dtype).tiny  # really denormal
    e.requires_grad_(True)
    loss, info = _loss(name)(e, y)
    loss.backward()
    assert loss.dtype == dtype and torch.isfinite(loss)
    assert all(math.isfinite(v) for v in info.values()), info
    assert torch.isfinite(e.grad).all(), f"{int((~torch.isfinite(e.grad)).sum())} non-finite gradient entries"


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
def test_normalisation_is_f_normalize_with_a_zero_gradient_when_clamped(dtype):
    """``inverse_norm`` is 1/max(|e|, 1e-12); below the floor (zero, tiny, underflowing squares) its gradient is 0."""
    e = torch.tensor([[3.0, 4.0], [0.0, 0.0], [1e-20, 0.0], [1e-13, 1e-13], [DENORMAL[dtype], 0.0]], dtype=dtype)
    e.requires_grad_(True)
    inv = inverse_norm(e.pow(2).sum(-1))
    expected = 1 / torch.linalg.vector_norm(e.detach().double(), dim=-1).clamp_min(1e-12)
    torch.testing.assert_close(inv.double(), expected, rtol=1e-6, atol=0)
    torch.testing.assert_close(e * inv[:, None], torch.nn.functional.normalize(e, dim=-1), rtol=1e-6, atol=0)
    (grad,) = torch.autograd.grad(inv.sum(), e)
    assert torch.isfinite(grad).all()
    assert (grad[1:] == 0).all()  # clamped rows
    torch.testing.assert_close(grad[0], -e[0].detach() / 125)  # d(1/|e|)/de = −e/|e|³


def test_a_zero_class_has_a_zero_centre_and_finite_gradient():
    x = _ordinary(PXK, torch.float64, parts=2, dims=3)
    x[torch.tensor(PXK) == 1] = 0
    x = x.transpose(0, 1).contiguous().requires_grad_(True)  # [p, n, c]
    centres = class_centres(x, inverse_norm(x.pow(2).sum(-1)), PairIndex.from_labels(torch.tensor(PXK), "t"))
    assert (centres[:, 1] == 0).all()
    norms = torch.linalg.vector_norm(centres[:, [0, 2, 3]], dim=-1)
    torch.testing.assert_close(norms, torch.ones_like(norms))
    centres.pow(2).sum().backward()
    assert torch.isfinite(x.grad).all()


# --------------------------------------------------------------------------------------- ordinary values
def _reference_module():
    """tests/losses/test_gil_reference.py, loaded by path (the tests are not a package)."""
    path = Path(__file__).parent / "losses" / "test_gil_reference.py"
    spec = importlib.util.spec_from_file_location("_gil_loop_reference", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


REFERENCE = _reference_module()
GIL_CONFIGS = {k: v for k, v in LOSSES.items() if v is not None}


@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("name", GIL_CONFIGS)
def test_ordinary_embeddings_keep_their_values(name, dtype, batch):
    """Loss, info and gradient against the float64 loop reference (which divides by the plain norm)."""
    labels = BATCHES[batch]
    e = _ordinary(labels, dtype, parts=2, dims=4) * 0.7
    e1 = e.clone().requires_grad_(True)
    loss, info = GeneralizedInterClassLoss(**GIL_CONFIGS[name])(e1, torch.tensor(labels))
    e2 = e.double().requires_grad_(True)
    ref_loss, ref_info = REFERENCE.reference_gil(e2, labels, **GIL_CONFIGS[name])
    tol = 1e-9 if dtype == torch.float64 else 2e-5
    assert loss.item() == pytest.approx(ref_loss.item(), rel=tol, abs=tol)
    assert info == pytest.approx(ref_info, rel=tol, abs=tol)
    (grad,) = torch.autograd.grad(loss, e1)
    (ref_grad,) = torch.autograd.grad(ref_loss, e2)
    torch.testing.assert_close(grad.double(), ref_grad, rtol=tol, atol=tol)


# --------------------------------------------------------------------------------------- shapes
METRIC_LOSSES = {name: _loss(name) for name in ("margin-0.1", "softmax-0.1", "softmax_official-0.1", "triplet")}
LOSS_NAME = {"triplet": "TripletLoss"}


@pytest.mark.parametrize("name", METRIC_LOSSES)
@pytest.mark.parametrize("shape", [(0, 4, 8), (0, 8)], ids=["npc", "nc"])
def test_an_empty_batch_says_it_is_empty(name, shape):
    with pytest.raises(ValueError, match=r"the batch is empty \(n = 0") as err:
        METRIC_LOSSES[name](torch.randn(shape), torch.zeros(0, dtype=torch.long))
    assert "single class" not in str(err.value)
    assert str(err.value).startswith(LOSS_NAME.get(name, "GeneralizedInterClassLoss"))


@pytest.mark.parametrize("name", METRIC_LOSSES)
@pytest.mark.parametrize(
    ("shape", "expected"),
    [
        ((16, 4, 0), r"embeddings \[n, p, c\] must have at least one part and one channel, got shape \(16, 4, 0\)"),
        ((16, 0, 8), r"embeddings \[n, p, c\] must have at least one part and one channel, got shape \(16, 0, 8\)"),
        ((16, 0), r"embeddings \[n, c\] must have at least one part and one channel, got shape \(16, 0\)"),
        ((0, 4, 0), r"got shape \(0, 4, 0\) \(p = 4, c = 0\)"),
    ],
    ids=["c0", "p0", "nc-c0", "empty-c0"],
)
def test_zero_parts_or_channels_raise_naming_the_loss_and_shape(name, shape, expected):
    labels = torch.tensor(PXK[: shape[0]], dtype=torch.long)
    with pytest.raises(ValueError, match=expected) as err:
        METRIC_LOSSES[name](torch.randn(shape, requires_grad=True), labels)
    assert str(err.value).startswith(LOSS_NAME.get(name, "GeneralizedInterClassLoss") + ":")


@pytest.mark.parametrize(
    ("shape", "expected"),
    [
        ((0, 4, 10), r"the batch is empty \(n = 0\): logits \[n, p, classes\] of shape \(0, 4, 10\)"),
        ((0, 10), r"the batch is empty \(n = 0\): logits \[n, classes\] of shape \(0, 10\)"),
        ((16, 0, 10), r"at least one part and one class, got shape \(16, 0, 10\) \(p = 0, classes = 10\)"),
        ((16, 4, 0), r"at least one part and one class, got shape \(16, 4, 0\) \(p = 4, classes = 0\)"),
    ],
    ids=["empty", "empty-nc", "p0", "classes0"],
)
def test_cross_entropy_degenerate_shapes_raise(shape, expected):
    with pytest.raises(ValueError, match=expected) as err:
        CrossEntropyLoss()(torch.randn(shape), torch.zeros(shape[0], dtype=torch.long))
    assert str(err.value).startswith("CrossEntropyLoss: ")


@pytest.mark.parametrize("value", [0.0, 1e-30, 1e-40])
def test_cross_entropy_on_zero_and_tiny_logits_is_finite(value):
    logits = torch.full((16, 4, 10), value, requires_grad=True)
    loss, info = CrossEntropyLoss()(logits, torch.arange(16) % 10)
    loss.backward()
    assert loss.item() == pytest.approx(math.log(10)) and torch.isfinite(logits.grad).all()
    assert all(math.isfinite(v) for v in info.values())
