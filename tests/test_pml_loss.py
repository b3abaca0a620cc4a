"""GIL as a pytorch-metric-learning loss: pml's basic usage runs with it; without a miner its value is the core
loss's (p = 1); a miner's tuples restrict GIL's triplet terms to exactly those tuples, so with GIL's additions off it is
pml's own TripletMarginLoss on them; reducers are honoured or refused, never ignored."""

import pytest
import torch
from pytorch_metric_learning import losses, miners, reducers, regularizers  # a dev dependency: CI always runs these
from pytorch_metric_learning.distances import LpDistance
from pytorch_metric_learning.utils import loss_and_miner_utils as lmu

from gil.integrations.pml import GeneralizedInterClassLoss
from gil.losses import GeneralizedInterClassLoss as CoreGIL

UNBALANCED = [3, 0, 3, 1, 2, 2, 0, 2, 4, 2, 4, 0]  # 12 samples, class sizes 3, 1, 4, 2, 2
PLAIN_TRIPLET = dict(pair_weight="none", margin="fixed", uniformity_weight=0)  # GIL reduced to the triplet term
FORMS = ["margin", "softmax", "softmax_official"]
TOL = {torch.float64: dict(rtol=1e-12, atol=1e-12), torch.float32: dict(rtol=1e-5, atol=1e-6)}


def batch(seed=0, dtype=torch.float64, d=8, labels=UNBALANCED):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(len(labels), d, generator=g, dtype=torch.float64).to(dtype), torch.tensor(labels)


def make_miners(margin):
    return {
        "triplet-all": miners.TripletMarginMiner(margin=margin, type_of_triplets="all"),
        "triplet-hard": miners.TripletMarginMiner(margin=margin, type_of_triplets="hard"),
        "triplet-semihard": miners.TripletMarginMiner(margin=margin, type_of_triplets="semihard"),
        "batch-hard": miners.BatchHardMiner(),
        "multi-similarity (pairs)": miners.MultiSimilarityMiner(),
    }


@pytest.mark.parametrize("form", FORMS)
def test_without_a_miner_the_value_is_the_core_loss(form):
    e, y = batch()
    expected, info = CoreGIL(form=form, empty_batch="zero")(e, y)
    loss_func = GeneralizedInterClassLoss(form=form)
    got = loss_func(e, y)
    assert got.dim() == 0
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)
    del info["mean_margin"], loss_func.last_info["mean_margin"]  # over anchor–negative pairs vs triplets
    assert loss_func.last_info == pytest.approx(info, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("reducer", [None, reducers.MeanReducer, reducers.SumReducer], ids=["default", "mean", "sum"])
@pytest.mark.parametrize("miner", list(make_miners(0.1)))
@pytest.mark.parametrize("margin", [0.05, 0.2, 0.5])
def test_with_gils_additions_off_it_is_pmls_triplet_margin_loss_on_the_mined_tuples(margin, miner, reducer, dtype):
    e, y = batch(seed=1, dtype=dtype)
    tuples = make_miners(margin)[miner](e, y)
    options = {} if reducer is None else {"reducer": reducer()}  # default: AvgNonZeroReducer for both
    e1, e2 = e.clone().requires_grad_(True), e.clone().requires_grad_(True)
    expected = losses.TripletMarginLoss(margin=margin, distance=LpDistance(normalize_embeddings=False), **options)(
        e1, y, tuples
    )
    got = GeneralizedInterClassLoss(m0=margin, **PLAIN_TRIPLET, **options)(e2, y, tuples)
    torch.testing.assert_close(got, expected, **TOL[dtype])
    (expected_grad,) = torch.autograd.grad(expected, e1)
    (grad,) = torch.autograd.grad(got, e2)
    torch.testing.assert_close(grad, expected_grad, **TOL[dtype])


def test_hand_listed_triplets_are_a_plain_loop():
    """The plain-loop reference: Σ [d_ap − d_an + m]₊ over the listed triplets / #non-zero."""
    e, y = batch(seed=2)
    listed = [(0, 2, 1), (0, 2, 3), (2, 0, 8), (1, 6, 5), (4, 7, 3), (4, 9, 1), (8, 10, 6), (5, 9, 0)]
    hinges = [max(float((e[a] - e[p]).norm() - (e[a] - e[n]).norm()) + 0.3, 0.0) for a, p, n in listed]
    expected = sum(hinges) / sum(h > 0 for h in hinges)
    tuples = tuple(torch.tensor(column) for column in zip(*listed, strict=True))
    got = GeneralizedInterClassLoss(m0=0.3, **PLAIN_TRIPLET)(e, y, tuples)
    assert got.item() == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("miner", ["triplet-hard", "batch-hard", "multi-similarity (pairs)"])
def test_a_miner_changes_the_loss(miner, form):
    e, y = batch()
    loss_func = GeneralizedInterClassLoss(form=form)
    tuples = make_miners(0.2)[miner](e, y)
    assert len(tuples[0]) > 0
    assert abs(loss_func(e, y, tuples).item() - loss_func(e, y).item()) > 1e-3


@pytest.mark.parametrize("form", FORMS)
def test_pairs_are_converted_to_triplets_as_pml_does(form):
    e, y = batch()
    pairs = miners.MultiSimilarityMiner()(e, y)
    assert len(pairs) == 4
    triplets = lmu.convert_to_triplets(pairs, y)
    loss_func = GeneralizedInterClassLoss(form=form)
    expected, _ = CoreGIL(form=form)(e, y, triplets=triplets)
    torch.testing.assert_close(loss_func(e, y, pairs), expected, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(loss_func(e, y, triplets), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("kind", ["triplets", "pairs"])
def test_an_empty_mining_result_is_zero_with_grad_as_in_pml(kind, form):
    e, y = batch()
    none = torch.zeros(0, dtype=torch.long)
    tuples = (none,) * (3 if kind == "triplets" else 4)
    e1, e2 = e.clone().requires_grad_(True), e.clone().requires_grad_(True)
    expected = losses.TripletMarginLoss()(e1, y, tuples)  # pml: 0, with a (zero) gradient
    got = GeneralizedInterClassLoss(form=form, uniformity_weight=0)(e2, y, tuples)
    assert got.item() == expected.item() == 0.0
    (grad,) = torch.autograd.grad(got, e2)
    assert torch.count_nonzero(grad) == 0
    # GIL's class-level term is over the whole batch and stays, as a pml embedding regularizer would
    loss_func = GeneralizedInterClassLoss(form=form)
    got = loss_func(e, y, tuples)
    weight = loss_func.gil.config.uniformity_weight
    assert got.item() == pytest.approx(weight * loss_func.last_info["uniformity"], rel=1e-12)


def test_a_real_miner_that_finds_nothing():
    e, y = batch()
    e = 10 * torch.eye(8, dtype=e.dtype)[y] + 0.01 * e  # tight classes far apart: no hard triplet
    tuples = miners.TripletMarginMiner(margin=0.2, type_of_triplets="hard")(e, y)
    assert len(tuples[0]) == 0
    e = e.requires_grad_(True)
    got = GeneralizedInterClassLoss(**PLAIN_TRIPLET)(e, y, tuples)
    got.backward()
    assert got.item() == 0.0 and torch.count_nonzero(e.grad) == 0


@pytest.mark.parametrize("form", FORMS)
def test_the_reducer_reduces_the_per_tuple_losses(form):
    e, y = batch()
    tuples = miners.TripletMarginMiner(margin=0.2, type_of_triplets="all")(e, y)
    terms = CoreGIL(form=form).listed_terms(e, y, tuples)
    per_tuple = terms.losses[0]
    for reducer, reduced in [
        (reducers.SumReducer(), per_tuple.sum()),
        (reducers.MeanReducer(), per_tuple.mean()),
        (reducers.AvgNonZeroReducer(), per_tuple[per_tuple > 0].mean()),
    ]:
        got = GeneralizedInterClassLoss(form=form, reducer=reducer)(e, y, tuples)
        torch.testing.assert_close(got, reduced + terms.class_term, rtol=1e-12, atol=1e-12)
    summed = GeneralizedInterClassLoss(form=form, reducer=reducers.SumReducer())(e, y, tuples)
    assert abs(summed.item() - GeneralizedInterClassLoss(form=form)(e, y, tuples).item()) > 1e-3


@pytest.mark.parametrize(
    "reducer",
    [
        reducers.DoNothingReducer(),
        reducers.ClassWeightedReducer(torch.ones(5)),
        reducers.DivisorReducer(),
        reducers.PerAnchorReducer(),
        reducers.MultipleReducers({"loss": reducers.SumReducer()}),
    ],
    ids=lambda r: type(r).__name__,
)
def test_other_reducers_are_refused_by_name(reducer):
    with pytest.raises(ValueError, match=f"reducer={type(reducer).__name__} is not supported.*SumReducer"):
        GeneralizedInterClassLoss(reducer=reducer)
    loss_func = GeneralizedInterClassLoss()
    with pytest.raises(ValueError, match="is not supported"):
        loss_func.set_reducer(reducer)


def test_pmls_embedding_regularizer_is_added():
    e, y = batch()
    plain = GeneralizedInterClassLoss()(e, y)
    regularised = GeneralizedInterClassLoss(embedding_regularizer=regularizers.LpRegularizer())(e, y)
    torch.testing.assert_close(regularised, plain + e.norm(dim=1).mean(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("use_miner", [False, True])
def test_pmls_basic_usage_runs(use_miner):
    """pml's README example: model, optional miner, ``loss_func(embeddings, labels[, hard_pairs])``, backward."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 8))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    miner = miners.MultiSimilarityMiner()
    loss_func = GeneralizedInterClassLoss()
    data, labels = torch.randn(64, 16), torch.arange(64) % 8
    history = []
    for step in range(5):
        rows = slice(step * 8 % 64, step * 8 % 64 + 32)
        optimizer.zero_grad()
        embeddings = model(data[rows])
        if use_miner:
            hard_pairs = miner(embeddings, labels[rows])
            loss = loss_func(embeddings, labels[rows], hard_pairs)
        else:
            loss = loss_func(embeddings, labels[rows])
        loss.backward()
        optimizer.step()
        history.append(float(loss.detach()))
    assert all(torch.isfinite(torch.tensor(history)))
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())


def test_a_batch_without_pairs_is_zero_and_refusals_are_named():
    e = torch.randn(6, 4, requires_grad=True)
    y = torch.arange(6) % 2
    loss = GeneralizedInterClassLoss()(e, torch.zeros(6, dtype=torch.int64))
    assert float(loss.detach()) == 0.0
    loss.backward()
    assert torch.count_nonzero(e.grad) == 0
    with pytest.raises(ValueError, match="single class"):
        GeneralizedInterClassLoss(empty_batch="raise")(e, torch.zeros(6, dtype=torch.int64))
    with pytest.raises(ValueError, match="ref_emb and ref_labels are not supported"):
        GeneralizedInterClassLoss()(e, y, ref_emb=e.detach().clone(), ref_labels=y)
    with pytest.raises(ValueError, match="ref_emb and ref_labels are not supported"):
        GeneralizedInterClassLoss()(e, y, ref_labels=y)
    with pytest.raises(ValueError, match="own distances"):
        GeneralizedInterClassLoss(distance=LpDistance())
    with pytest.raises(ValueError, match="outside the batch of 6"):
        GeneralizedInterClassLoss()(e, y, (torch.tensor([0]), torch.tensor([9]), torch.tensor([1])))
    with pytest.raises(ValueError, match=r"triplets \(a, p, n\) or pairs \(a1, p, a2, n\), got tuple of length 2"):
        GeneralizedInterClassLoss()(e, y, (torch.tensor([0]), torch.tensor([2])))
    with pytest.raises(ValueError, match=r"len\(a1\) = len\(p\)"):
        GeneralizedInterClassLoss()(
            e, y, (torch.tensor([0, 2]), torch.tensor([2]), torch.tensor([0]), torch.tensor([1]))
        )
    with pytest.raises(ValueError, match="1-d integer tensors"):
        GeneralizedInterClassLoss()(e, y, (torch.tensor([0.0]), torch.tensor([2]), torch.tensor([1])))
